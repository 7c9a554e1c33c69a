"""The demo scenarios (DESIGN appendix B). Figures are plausible, not official."""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Scenario:
    key: str
    municipality: str
    contract_name: str
    main_contractor: str | None  # None: the municipality coordinates the providers itself
    subcontractor_count: int
    start: date
    end: date
    baseline_cents_per_year: int
    savings_target_cents_per_year: tuple[int, ...]
    indexation_pct_per_year: float
    neighbourhoods: tuple[str, ...]
    case_prefix: str
    covers_jeugd: bool = True
    investments: tuple[tuple[date, int, str], ...] = ()
    missed_target_terms: str = ""
    mail_domain: str = field(default="")
    target_level: str = "contract"  # the level of savings_target_cents_per_year (Hengelo: "tender")
    extra_target_levels: tuple[tuple[str, tuple[int, ...]], ...] = ()  # further levels, per year
    subcontractor_names: tuple[str, ...] = ()  # empty: the generator's general list
    cases_from: date | None = None  # new requests only from this date (default: the contract start)
    category_weights: tuple[tuple[str, int], ...] = ()  # WMO020 mix of new requests; empty: the general mix
    # (category, share of granted cases that go through the waiting list, fewest days, most days on it)
    waiting_lists: tuple[tuple[str, float, int, int], ...] = (("01", 0.35, 10, 90),)
    care_days: tuple[int, int] = (20, 300)  # how long care lasts, fewest and most days
    local_providers: int = 0  # the first this many subcontractors are local ...
    local_share: float = 0.0  # ... and get this share of the allocations
    reassessments: int = 0  # re-assessment talks held on long-running indications
    reassessment_stopped_pct: int = 0  # of which this share stopped


SCENARIOS = {
    "haarlem": Scenario(
        key="haarlem",
        municipality="Gemeente Haarlem",
        contract_name="Gewoon in de Wijk",
        main_contractor="Coöperatie Buurts",
        subcontractor_count=50,
        start=date(2025, 1, 1),
        end=date(2032, 12, 31),
        baseline_cents_per_year=3_200_000_000,
        # EUR 1,9 mln over eight years, rising as the shift to collective support takes hold
        savings_target_cents_per_year=(10_000_000, 15_000_000, 20_000_000, 25_000_000,
                                       25_000_000, 30_000_000, 30_000_000, 35_000_000),
        indexation_pct_per_year=3.1,
        neighbourhoods=("Centrum", "Haarlem-Noord", "Haarlem-Oost", "Schalkwijk", "Zuid-West"),
        case_prefix="HLM",
        investments=((date(2025, 3, 1), 25_000_000, "Opbouw wijkteams en digitale werkvoorraad"),),
        missed_target_terms="Bij een gemiste jaardoelstelling stellen partijen samen een verbeterplan op; "
        "het budget blijft bevroren en de CAO-indexatie wordt apart door de gemeente betaald.",
        mail_domain="haarlem",
    ),
    "hengelo": Scenario(
        key="hengelo",
        municipality="Gemeente Hengelo",
        contract_name="Wijkracht Hengelo",
        main_contractor="Wijkracht Hengelo (consortium van 7)",
        subcontractor_count=14,
        start=date(2024, 1, 1),
        end=date(2028, 12, 31),
        baseline_cents_per_year=2_600_000_000,
        # EUR 3,7 mln from the tender over five years ...
        savings_target_cents_per_year=(50_000_000, 60_000_000, 80_000_000, 90_000_000, 90_000_000),
        target_level="tender",
        # ... and EUR 6,9 mln with the whole transformation (indications largely abolished)
        extra_target_levels=(("transformation", (80_000_000, 110_000_000, 150_000_000, 170_000_000,
                                                 180_000_000)),),
        indexation_pct_per_year=2.8,
        neighbourhoods=("Centrum", "Hengelo-Noord", "Hasseler Es", "Berflo Es", "Hengelose Es", "Groot Driene"),
        case_prefix="HGL",
        investments=((date(2024, 1, 15), 100_000_000, "Opbouw consortium en wijkteams"),
                     (date(2025, 1, 15), 70_000_000, "Digitale werkvoorraad, scholing en transitiebegeleiding")),
        missed_target_terms="Wordt het niveau van de aanbesteding niet gehaald, dan stellen gemeente en Wijkracht "
        "binnen drie maanden een herstelplan op; het tekort wordt verrekend met het volgende jaar. Het niveau van de "
        "hele transformatie is een gezamenlijke ambitie zonder verrekening.",
        mail_domain="hengelo",
    ),
}


# Alphen aan den Rijn: a consortium of eight institutions; its members' own teams hold the subcontracts.
ALPHEN_TEAMS = (
    "Welzijn Alphen, team Participatie", "Welzijn Alphen, team Ontmoeting", "Stichting Rijnhart, dagbesteding",
    "Zorggroep Oude Rijn, wijkverpleging en begeleiding", "Activiteitencentrum De Rijnstreek",
    "Vervoerscentrale Groene Hart", "GGZ Rijnland, ambulant team", "Begeleid Leven Rijnland",
    "Thuishulp Rijnwoude", "Stichting Rijnhart, werkplaats",
)

# Zaltbommel: 40 local providers from the villages of the municipality, 12 regional ones.
_LOCAL_KINDS = ("Zorgboerderij", "Thuishulp", "Dagbesteding", "Begeleiding", "Buurtzorg", "Huishoudhulp",
                "Welzijn", "Ontmoetingshuis")
_VILLAGES = ("Zaltbommel", "Brakel", "Zuilichem", "Gameren", "Nederhemert", "Kerkwijk", "Aalst", "Bruchem",
             "Poederoijen", "Nieuwaal")
ZALTBOMMEL_LOCAL = tuple(f"{_LOCAL_KINDS[i % 8]} {_VILLAGES[i % 10]}" for i in range(40))
ZALTBOMMEL_REGIONAL = (
    "Thuiszorg Rivierenland", "GGZ Rivierenland", "Vervoer Bommelerwaard Regio", "Zorggroep Gelderse Vallei",
    "Stichting Begeleid Wonen Gelderland", "Dagcentrum Tielerwaard", "Jeugd en Gezin Rivierenland",
    "Huishoudservice Betuwe", "Stichting Maasland Zorg", "Ambulante Hulp Den Bosch", "Zorgcollectief Betuwe",
    "Werkplaats Tiel",
)

STICHTSE_VECHT_PROVIDERS = (
    "Thuishulp Vechtstreek", "Huishoudelijke Hulp Maarssen", "Begeleiding Breukelen", "Dagbesteding De Vecht",
    "Zorgboerderij Kockengen", "Stichting Welzijn Stichtse Vecht", "Thuiszorg Loenen", "Wijkzorg Maarssenbroek",
    "Ontmoetingshuis Nigtevecht", "Vervoer Vechtstreek", "Stichting Samen Oud-Zuilen", "Ambulant Team Vreeland",
    "Huishoudservice Utrecht-West", "Zorgcollectief Tienhoven", "Begeleid Wonen Vechtstreek",
    "Dagcentrum De Plassen", "Stichting Mantelzorg Vechtstreek", "Persoonlijke Verzorging Breukelen",
    "Thuisbegeleiding Maarssen", "Werkplaats Nieuwersluis",
)

SCENARIOS["alphen"] = Scenario(
    key="alphen",
    municipality="Gemeente Alphen aan den Rijn",
    contract_name="Tom in de buurt",
    main_contractor="Tom in de buurt (consortium van 8 instellingen)",
    subcontractor_count=len(ALPHEN_TEAMS),
    subcontractor_names=ALPHEN_TEAMS,
    start=date(2015, 1, 1),
    end=date(2030, 12, 31),
    # EUR 7 mln a year (the lump sum), EUR 0,35 mln a year below the budget before the contract
    baseline_cents_per_year=735_000_000,
    savings_target_cents_per_year=(35_000_000,),
    indexation_pct_per_year=2.0,
    neighbourhoods=("Centrum", "Kerk en Zanen", "Ridderveld", "Oudshoorn", "Ouderkerk", "Lage Zijde", "Boskoop",
                    "Hazerswoude-Rijndijk", "Koudekerk aan den Rijn", "Zwammerdam"),
    case_prefix="ALP",
    covers_jeugd=False,
    cases_from=date(2024, 1, 1),  # the recent years only: the demo stays quick to load
    # participation, day activities, transport and support
    category_weights=(("07", 30), ("02", 25), ("08", 15), ("09", 10), ("01", 10), ("06", 5), ("03", 5)),
    # no more waiting 6 to 8 weeks for an indication, but day activities do have a waiting list
    waiting_lists=(("07", 0.7, 30, 110), ("01", 0.2, 10, 40)),
    investments=((date(2015, 1, 5), 40_000_000, "Opbouw consortium Tom in de buurt en de toegang"),),
    missed_target_terms="Het consortium draagt het risico binnen de lumpsum van EUR 7 mln per jaar; bij een gemiste "
    "jaardoelstelling volgt een gezamenlijke analyse en een bijgesteld jaarplan.",
    mail_domain="alphen",
)

SCENARIOS["zaltbommel"] = Scenario(
    key="zaltbommel",
    municipality="Gemeente Zaltbommel",
    contract_name="Lokale ondersteuning Zaltbommel",
    main_contractor=None,  # the municipality holds all 52 contracts and coordinates itself
    subcontractor_count=52,
    subcontractor_names=ZALTBOMMEL_LOCAL + ZALTBOMMEL_REGIONAL,
    start=date(2023, 1, 1),
    end=date(2027, 12, 31),
    baseline_cents_per_year=950_000_000,
    savings_target_cents_per_year=(15_000_000, 20_000_000, 25_000_000, 25_000_000, 25_000_000),
    indexation_pct_per_year=2.9,
    neighbourhoods=("Zaltbommel", "Brakel", "Zuilichem", "Gameren", "Nederhemert", "Kerkwijk", "Aalst", "Bruchem",
                    "Poederoijen", "Nieuwaal"),
    case_prefix="ZLT",
    local_providers=len(ZALTBOMMEL_LOCAL),
    local_share=0.8,  # 80% of the volume with local providers
    missed_target_terms="Inhoud eerst, prijs als laatste: een gemiste doelstelling bespreken gemeente en aanbieders "
    "in het jaarlijkse contractgesprek; er volgt geen verrekening.",
    mail_domain="zaltbommel",
)

SCENARIOS["stichtse-vecht"] = Scenario(
    key="stichtse-vecht",
    municipality="Gemeente Stichtse Vecht",
    contract_name="Ondersteuning Stichtse Vecht",
    main_contractor="Coöperatie Zorg in de Vechtstreek",
    subcontractor_count=len(STICHTSE_VECHT_PROVIDERS),
    subcontractor_names=STICHTSE_VECHT_PROVIDERS,
    start=date(2021, 1, 1),
    end=date(2027, 12, 31),
    baseline_cents_per_year=1_450_000_000,
    savings_target_cents_per_year=(10_000_000, 15_000_000, 20_000_000, 25_000_000, 30_000_000, 30_000_000,
                                   30_000_000),
    indexation_pct_per_year=2.7,
    neighbourhoods=("Maarssen", "Maarssenbroek", "Breukelen", "Loenen aan de Vecht", "Nieuwersluis", "Vreeland",
                    "Nigtevecht", "Kockengen", "Tienhoven", "Oud-Zuilen"),
    case_prefix="SVE",
    covers_jeugd=False,
    category_weights=(("01", 40), ("02", 25), ("07", 10), ("03", 8), ("06", 7), ("09", 5), ("08", 5)),
    # the central waiting list for household support: most granted 01 cases pass through it
    waiting_lists=(("01", 0.85, 14, 120),),
    care_days=(60, 1500),  # indications for an indefinite term: care runs long
    reassessments=340,
    reassessment_stopped_pct=12,
    missed_target_terms="Na de herindicaties stuurt de gemeente op de centrale wachtlijst; een gemiste doelstelling "
    "leidt tot een herstelplan van de coöperatie binnen drie maanden.",
    mail_domain="stichtsevecht",
)
