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
