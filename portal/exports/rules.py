"""Pure: the dashboard's figures as tables ("blocks") for CSV, XLSX and PDF, and the quarters a quarterly
dashboard report can be made for. No I/O, no framework.

A block holds exactly what the dashboard page shows, in the same order and with the same markers: a rate
below the minimum volume is "te weinig" (a subcontractor's page: "te weinig gegevens"), an outlier is
"afwijkend hoog" or "afwijkend laag", a neighbourhood with fewer than 5 residents is "< 5", a missing figure
is "–". Numbers stay numbers (``Figure``) so a spreadsheet can compute with them; ``shown`` gives the Dutch
text of the page (for the PDF).
"""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from portal.dashboard.rules import SUPPRESS_BELOW, SUPPRESSED
from portal.lib.formatting import format_date, format_money, format_number, format_percentage
from portal.savings.rules import level_label

TOO_FEW = "te weinig"  # the contract page's marker for a rate below the minimum volume
TOO_FEW_PEERS = "te weinig gegevens"  # the subcontractor page's marker
MISSING = "–"
OUTLIER_TEXT = {"hoger": "afwijkend hoog", "lager": "afwijkend laag"}
SEVERITIES = (("high", "Hoog"), ("medium", "Middel"), ("low", "Laag"))


class Kind(StrEnum):
    COUNT = "count"  # 1.234
    DECIMAL1 = "decimal1"  # 10,0
    PERCENT1 = "percent1"  # 25,0%
    PERCENT0 = "percent0"  # 50%
    MONEY = "money"  # EUR 1.234,50 (the value is in cents)


NUMBER_FORMATS = {Kind.COUNT: "#,##0", Kind.DECIMAL1: "0.0", Kind.PERCENT1: '0.0"%"', Kind.PERCENT0: '0"%"',
                  Kind.MONEY: '"EUR "#,##0.00'}


@dataclass(frozen=True)
class Figure:
    """A number of the dashboard with the way the page shows it."""

    value: int | float
    kind: Kind = Kind.COUNT

    def spreadsheet_value(self) -> int | float | Decimal:
        """The number as the page rounds it (a percentage stays a percentage: 25,0 for 25,0%)."""
        if self.kind is Kind.COUNT:
            return int(self.value)
        if self.kind is Kind.MONEY:
            return Decimal(int(self.value)) / 100
        if self.kind is Kind.PERCENT0:
            return round(float(self.value))
        return round(float(self.value), 1)


Value = str | Figure


def shown(value: Value | None) -> str:
    """The Dutch text the dashboard page shows for this value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value.kind is Kind.COUNT:
        return format_number(value.value)
    if value.kind is Kind.DECIMAL1:
        return format_number(value.value, 1)
    if value.kind is Kind.PERCENT1:
        return format_percentage(value.value, 1)
    if value.kind is Kind.PERCENT0:
        return format_percentage(value.value, 0)
    return format_money(int(value.value))


@dataclass(frozen=True)
class Block:
    """One table of the dashboard: a sheet in the workbook, a section in the CSV and the PDF."""

    title: str
    headers: tuple[str, ...]
    rows: list[list[Value]] = field(default_factory=list)
    empty: str = "Geen gegevens."  # what the page says when there are no rows
    note: str | None = None
    widths: tuple[float, ...] | None = None  # PDF column widths in mm (portrait: 174 in all)
    landscape: bool = False  # PDF: a wide table gets a landscape page
    pdf_headers: tuple[str, ...] | None = None  # shorter column names for a narrow PDF column


def _count(value: int | None) -> Value:
    return MISSING if value is None else Figure(value)


def _decimal(value: float | None, missing: str = MISSING) -> Value:
    return missing if value is None else Figure(value, Kind.DECIMAL1)


def _rate(value: float | None, missing: str = TOO_FEW) -> Value:
    return missing if value is None else Figure(value, Kind.PERCENT1)


def _suppressed(text: str) -> Value:
    """The neighbourhood counts come as text ("12" or "< 5"): a number stays a number."""
    return Figure(int(text)) if text.isdigit() else text


def _status_block(statuses: list[dict], title: str) -> Block:
    return Block(title, ("Status", "Aantal"), [[s["label"], Figure(s["count"])] for s in statuses],
                 empty="Nog geen casussen.", widths=(120, 54))


def _overview(figures: dict, extra: list[list[Value]], notes: list[str]) -> Block:
    rows: list[list[Value]] = [["Contract", figures["contract"]["name"]], *extra,
                               ["Stand op", format_date(figures["today"])]]
    rows += [["Toelichting", note] for note in notes]
    return Block("Overzicht", ("Onderdeel", "Waarde"), rows, widths=(40, 134))


def flow_block(flow: dict) -> Block:
    if flow["p90"] is None:
        verdict = MISSING
    elif flow["p90"] > flow["legal_days"]:
        verdict = "p90 boven de wettelijke termijn"
    else:
        verdict = "p90 binnen de wettelijke termijn"
    rows: list[list[Value]] = [
        ["Gestarte leveringen", Figure(flow["count"]), "leveringen"],
        ["Mediaan (p50)", _count(flow["p50"]), "dagen"],
        ["90e percentiel (p90)", _count(flow["p90"]), "dagen"],
        ["Wettelijke termijnen: 6 weken onderzoek + 2 weken besluit", Figure(flow["legal_days"]), "dagen"],
        ["Langer dan de wettelijke termijnen", Figure(flow["over_legal"]), "leveringen"],
        ["Contractnorm (gemeld, onderzoek, toewijzing, geaccepteerd samen)", Figure(flow["norm_working_days"]),
         "werkdagen"],
        ["p90 tegen de wettelijke termijn", verdict, ""],
    ]
    return Block("Doorlooptijd", ("Cijfer", "Waarde", "Eenheid"), rows, widths=(110, 34, 30),
                 note="Van melding tot start levering, in kalenderdagen.")


def signal_block(signals: list[dict]) -> Block:
    rows = [[s["label"], Figure(s["total"]), *(Figure(s["severity"].get(code, 0)) for code, _ in SEVERITIES),
             Figure(s["late_1x"]), Figure(s["late_3x"])] for s in signals]
    return Block("Signalen", ("Regel", "Totaal", *(label for _, label in SEVERITIES), "Te laat (1x)", "Te laat (3x)"),
                 rows, empty="Geen openstaande signalen.", widths=(54, 20, 20, 20, 20, 20, 20),
                 note="Open, toegelicht en geëscaleerd. Te laat (1x): langer dan de norm; te laat (3x): minstens "
                      "drie keer de norm.")


SUBCONTRACTOR_HEADERS = ("Onderaannemer", "Toewijzingsverzoeken", "Weigerpercentage (%)", "Weigeren afwijkend",
                         "Afwijspercentage (%)", "Afwijzen afwijkend", "Wachttijd (dagen)", "Open signalen",
                         "Rapportages ingediend (%)", "Rapportages ingediend", "Rapportages verschuldigd", "Lopend")


def subcontractor_block(subcontractors: list[dict], min_volume: int) -> Block:
    rows = []
    for s in subcontractors:
        compliance = s["report_compliance"]
        rows.append([
            s["name"], Figure(s["volume"]),
            _rate(s["decline_rate"]), OUTLIER_TEXT.get(s["decline_outlier"] or "", ""),
            _rate(s["rejection_rate"]), OUTLIER_TEXT.get(s["rejection_outlier"] or "", ""),
            _decimal(s["wait_days"]), Figure(s["open_signals"]),
            MISSING if compliance is None else Figure(compliance, Kind.PERCENT0),
            Figure(s["reports_done"]), Figure(s["reports_due"]), Figure(s["load"]),
        ])
    return Block("Per onderaannemer", SUBCONTRACTOR_HEADERS, rows, empty="Nog geen onderaannemers.",
                 widths=(56, 20, 19, 22, 19, 22, 19, 16, 22, 19, 22, 15), landscape=True,
                 pdf_headers=("Onderaannemer", "Verzoeken", "Weigeren %", "Weigeren afwijkend", "Afwijzen %",
                              "Afwijzen afwijkend", "Wachttijd (dagen)", "Open signalen", "Rapportages %",
                              "Ingediend", "Verschuldigd", "Lopend"),
                 note=f"Percentages pas vanaf {min_volume} verzoeken of besluiten (\"{TOO_FEW}\" daaronder). "
                      "Afwijkend: ver van het gemiddelde van de andere onderaannemers.")


def ball_block(ball: list[dict], buckets: tuple[str, ...] | list[str]) -> Block:
    rows = [[p["label"], *(Figure(p["buckets"][b]) for b in buckets), Figure(p["total"])] for p in ball]
    widths = (74, *(25 for _ in buckets), 25)
    return Block("Wie heeft de bal", ("Partij", *(f"{b} werkdagen" for b in buckets), "Totaal"), rows,
                 empty="Geen lopende casussen.", widths=widths,
                 note="Lopende casussen per partij die aan zet is, naar werkdagen in de huidige status.")


def savings_block(savings: list[dict]) -> Block:
    rows = [[level_label(v["level"]), v["sentence"], Figure(v["savings_to_date_cents"], Kind.MONEY),
             Figure(v["target_to_date_cents"], Kind.MONEY)] for v in savings]
    return Block("Besparing", ("Doelstelling", "Oordeel", "Besparing tot nu toe", "Doel tot nu toe"), rows,
                 empty="Nog geen oordeel: er zijn nog geen werkelijke cijfers.", widths=(32, 72, 35, 35))


def trend_block(trends: list[dict]) -> Block:
    rows = [[t["label"], Figure(t["meldingen"]), Figure(t["afwijzingen"]), Figure(t["doorverwijzingen"])]
            for t in trends]
    return Block("Trend per kwartaal", ("Kwartaal", "Meldingen", "Afwijzingen", "Naar algemene voorziening"), rows,
                 widths=(40, 40, 40, 54),
                 note="Nieuwe meldingen, afwijzingen en doorverwijzingen, laatste 8 kwartalen.")


def neighbourhood_block(neighbourhoods: list[dict]) -> Block:
    rows = [[n["name"], _suppressed(n["residents"]), _suppressed(n["cases"])] for n in neighbourhoods]
    return Block("Per wijk", ("Wijk", "Inwoners", "Casussen"), rows, empty="Nog geen casussen.", widths=(94, 40, 40),
                 note=f"\"{SUPPRESSED}\": minder dan {SUPPRESS_BELOW} inwoners, niet getoond om herleidbaarheid "
                      "te voorkomen.")


def contract_blocks(figures: dict) -> list[Block]:
    """The whole contract's dashboard (contract manager, coordinator), block by block as on the page."""
    notes = [f"Percentages pas vanaf {figures['min_volume']} verzoeken of besluiten (\"{TOO_FEW}\" daaronder).",
             f"\"{SUPPRESSED}\": minder dan {SUPPRESS_BELOW} inwoners, niet getoond.",
             "Casussen zijn alleen als aantallen opgenomen: geen casusnummers, geen pseudoniemen."]
    return [
        _overview(figures, [], notes),
        _status_block(figures["statuses"], "Casussen per status"),
        flow_block(figures["flow"]),
        savings_block(figures["savings"]),
        signal_block(figures["signals"]),
        subcontractor_block(figures["subcontractors"], figures["min_volume"]),
        ball_block(figures["ball"], figures["age_buckets"]),
        trend_block(figures["trends"]),
        neighbourhood_block(figures["neighbourhoods"]),
    ]


def subcontractor_blocks(figures: dict) -> list[Block]:
    """A subcontractor's own figures next to the anonymous average of its peers: never a peer's name or
    figure, only what its own dashboard page shows."""
    own, peers = figures["own"], figures["peers"]
    own_compliance = own["report_compliance"]
    rows: list[list[Value]] = [
        ["Toewijzingsverzoeken", "aantal", Figure(own["volume"]), _decimal(peers["volume"], TOO_FEW_PEERS)],
        ["Weigerpercentage", "%", _rate(own["decline_rate"], TOO_FEW_PEERS),
         _rate(peers["decline_rate"], TOO_FEW_PEERS)],
        ["Afwijspercentage", "%", _rate(own["rejection_rate"], TOO_FEW_PEERS),
         _rate(peers["rejection_rate"], TOO_FEW_PEERS)],
        ["Wachttijd verzoek tot start (dagen)", "dagen", _decimal(own["wait_days"], TOO_FEW_PEERS),
         _decimal(peers["wait_days"], TOO_FEW_PEERS)],
        ["Open signalen", "aantal", Figure(own["open_signals"]), _decimal(peers["open_signals"], TOO_FEW_PEERS)],
        ["Rapportages ingediend (van de verschuldigde)", "%",
         MISSING if own_compliance is None else Figure(own_compliance, Kind.PERCENT0),
         _rate(peers["report_compliance"], TOO_FEW_PEERS)],
    ]
    notes = [f"Percentages pas vanaf {figures['min_volume']} verzoeken of besluiten.",
             f"Het gemiddelde telt alleen onderaannemers met genoeg volume, en alleen als het er minstens "
             f"{figures['min_peers']} zijn; namen en cijfers van anderen worden niet getoond."]
    return [
        _overview(figures, [["Onderaannemer", own["name"]]], notes),
        _status_block(figures["statuses"], "Uw casussen per status"),
        Block("Vergelijking", ("Cijfer", "Eenheid", "U", "Gemiddelde anderen"), rows, widths=(84, 20, 30, 40)),
    ]


def dashboard_blocks(figures: dict) -> list[Block]:
    return subcontractor_blocks(figures) if figures["scope"] == "subcontractor" else contract_blocks(figures)


# --- quarters ------------------------------------------------------------------------------------------

QUARTER_PATTERN = re.compile(r"^\s*(\d{4})\s*-?\s*[KkQq]?\s*([1-4])\s*$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1..4

    @property
    def start(self) -> date:
        return date(self.year, 3 * (self.number - 1) + 1, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    @property
    def code(self) -> str:
        """In URLs: 2026-K3."""
        return f"{self.year}-K{self.number}"

    @property
    def label(self) -> str:
        """In titles: Q3 2026."""
        return f"Q{self.number} {self.year}"

    def next(self) -> "Quarter":
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def last_complete_quarter(today: date) -> Quarter:
    """The latest quarter that has ended before ``today``."""
    return quarter_of(today).previous()


def parse_quarter(text: str | None) -> Quarter | None:
    """"2026-K3" (also 2026-Q3, 2026K3, 2026-3); None for empty input, ValueError for anything else."""
    if text is None or not text.strip():
        return None
    match = QUARTER_PATTERN.match(text)
    if not match or not 2000 <= int(match.group(1)) <= 2999:
        raise ValueError(text)
    return Quarter(int(match.group(1)), int(match.group(2)))


def quarter_choices(today: date, first_day: date | None = None, n: int = 12) -> list[Quarter]:
    """The complete quarters a report can be made for, newest first: at most ``n``, none that ended before
    ``first_day`` (the contract's start)."""
    choices = []
    quarter = last_complete_quarter(today)
    while len(choices) < n and (first_day is None or quarter.end >= first_day):
        choices.append(quarter)
        quarter = quarter.previous()
    return choices


def check_quarter(quarter: Quarter, today: date, first_day: date | None = None) -> str | None:
    """Why no report can be made for this quarter (a Dutch sentence), or None."""
    if quarter.end >= today:
        return f"Kies een afgerond kwartaal: {quarter.label} is nog niet voorbij."
    if first_day is not None and quarter.end < first_day:
        return f"Het contract begon op {format_date(first_day)}; {quarter.label} valt daarvoor."
    return None

