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
}
