"""Learning-cycle reports as pure rules: template definitions, indicator validation (Dutch notation), the
report lifecycle as one table, consolidation totals, the narrative's safe formatting and the diff between
versions. No I/O, no framework; hypothesis-tested in tests/domain/test_report_rules.py.
"""

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from markupsafe import Markup, escape

from portal.lib.codelists import CodeList, Unit
from portal.lib.errors import IllegalTransition, InvalidInput, NotPermitted
from portal.lib.formatting import format_date, group_thousands

# --- indicator definitions ------------------------------------------------------------------------


class IndicatorType(CodeList, unknown="Onbekend soort indicator", hint="Kies geheel getal, decimaal getal, "
                                                                       "percentage of bedrag."):
    INTEGER = "integer", "geheel getal"
    DECIMAL = "decimal", "decimaal getal"
    PERCENTAGE = "percentage", "percentage"
    MONEY = "money", "bedrag (euro)"


class PeriodKind(CodeList, unknown="Onbekende periode", hint="Kies maand, kwartaal, halfjaar of jaar."):
    MONTH = "month", "maand"
    QUARTER = "quarter", "kwartaal"
    HALF_YEAR = "half_year", "halfjaar"
    YEAR = "year", "jaar"


MONTHS_PER_PERIOD = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF_YEAR: 6, PeriodKind.YEAR: 12}
DECIMALS = {IndicatorType.INTEGER: 0, IndicatorType.DECIMAL: 2, IndicatorType.PERCENTAGE: 1, IndicatorType.MONEY: 2}
MAX_ABS = Decimal("1e12")  # beyond any plausible figure; keeps values within a BIGINT of cents
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_INDICATORS = 40
MAX_SECTIONS = 15
MAX_SECTION_CHARS = 20_000
MAX_COMMENT_CHARS = 5_000


@dataclass(frozen=True)
class Indicator:
    """One figure a report asks for. ``minimum``/``maximum`` are the plausible range in the stored unit
    (money: cents; percentage: 0-100)."""

    key: str
    name: str
    type: IndicatorType
    unit: str | None = None  # a WJ756 code, or free text ("cliënten", "%"), or None
    required: bool = False
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    @property
    def unit_label(self) -> str:
        if self.type is IndicatorType.MONEY:
            return "euro"
        if self.type is IndicatorType.PERCENTAGE:
            return "%"
        if not self.unit:
            return ""
        try:
            return Unit(self.unit).label
        except ValueError:
            return self.unit

    def as_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "type": self.type.value, "unit": self.unit,
                "required": self.required, "min": _json_number(self.minimum), "max": _json_number(self.maximum)}


@dataclass(frozen=True)
class Section:
    key: str
    title: str

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title}


@dataclass(frozen=True)
class TemplateDefinition:
    indicators: tuple[Indicator, ...]
    sections: tuple[Section, ...]

    def indicator(self, key: str) -> Indicator | None:
        return next((item for item in self.indicators if item.key == key), None)

    def as_dict(self) -> dict:
        return {"indicators": [item.as_dict() for item in self.indicators],
                "sections": [item.as_dict() for item in self.sections]}


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_definition(data: Mapping) -> TemplateDefinition:
    """A stored definition (JSON) as typed objects. Unknown types fall back to decimal: a stored template
    must always load, even one written by an older version of the portal."""
    indicators = []
    for raw in data.get("indicators") or []:
        try:
            kind = IndicatorType(raw.get("type") or "decimal")
        except ValueError:
            kind = IndicatorType.DECIMAL
        indicators.append(Indicator(
            key=str(raw["key"]), name=str(raw.get("name") or raw["key"]), type=kind, unit=raw.get("unit") or None,
            required=bool(raw.get("required")), minimum=_decimal(raw.get("min")), maximum=_decimal(raw.get("max"))))
    sections = tuple(Section(str(raw["key"]), str(raw.get("title") or raw["key"]))
                     for raw in data.get("sections") or [])
    return TemplateDefinition(tuple(indicators), sections)


def slug(text: str) -> str:
    """A stable key from a name: "Cliënttevredenheid (%)" -> "clienttevredenheid"."""
    table = str.maketrans("áàäâéèëêíìïîóòöôúùüûç", "aaaaeeeeiiiioooouuuuc")
    text = text.strip().lower().translate(table)
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not text or not text[0].isalpha():
        text = "i_" + text
    return text[:40].rstrip("_")


def check_definition(definition: TemplateDefinition) -> list[dict]:
    """Everything wrong with a template a contract manager typed, as Dutch messages per field."""
    errors: list[dict] = []
    if not definition.indicators and not definition.sections:
        errors.append({"field": None, "message": "Een sjabloon heeft minstens één indicator of onderdeel."})
    if len(definition.indicators) > MAX_INDICATORS:
        errors.append({"field": None, "message": f"Een sjabloon heeft hooguit {MAX_INDICATORS} indicatoren."})
    if len(definition.sections) > MAX_SECTIONS:
        errors.append({"field": None, "message": f"Een sjabloon heeft hooguit {MAX_SECTIONS} onderdelen."})
    seen: set[str] = set()
    for index, item in enumerate(definition.indicators, start=1):
        field = f"indicator-{index}-name"
        if not item.name.strip() or len(item.name) > 120:
            errors.append({"field": field, "message": f"Indicator {index}: geef een naam van 1 tot 120 tekens."})
        if not KEY_PATTERN.match(item.key) or item.key in seen:
            errors.append({"field": field, "message": f"Indicator {index} ({item.name}): de naam komt al voor of "
                                                      f"geeft geen bruikbare sleutel."})
        seen.add(item.key)
        if item.minimum is not None and item.maximum is not None and item.minimum > item.maximum:
            errors.append({"field": f"indicator-{index}-min",
                           "message": f"Indicator {index} ({item.name}): de ondergrens is hoger dan de bovengrens."})
    for index, section in enumerate(definition.sections, start=1):
        if not section.title.strip() or len(section.title) > 160:
            errors.append({"field": f"section-{index}-title",
                           "message": f"Onderdeel {index}: geef een titel van 1 tot 160 tekens."})
        if not KEY_PATTERN.match(section.key) or section.key in seen:
            errors.append({"field": f"section-{index}-title",
                           "message": f"Onderdeel {index} ({section.title}): deze titel komt al voor."})
        seen.add(section.key)
    return errors


# --- Dutch numbers ---------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")
_PLAIN = re.compile(r"^\d+(\.\d+)?$")


def parse_dutch_number(text: str) -> Decimal:
    """A number as people type it in the Netherlands: "1.234,5", "1234,5", "1.234", "12,5%", "EUR 1.234,56",
    "€ 12", "-3". A comma is the decimal separator and dots group thousands; without a comma, dots in
    groups of three are thousands ("1.234" is 1234) and a single other dot is a decimal point ("2.5").
    Raises ValueError when the text is no number."""
    cleaned = text.strip().replace("\u00a0", " ")
    for token in ("EUR", "eur", "€", "%"):
        cleaned = cleaned.replace(token, "")
    cleaned = cleaned.replace(" ", "").replace("'", "")
    sign = ""
    if cleaned[:1] in "-+" and cleaned:
        sign, cleaned = ("-" if cleaned[0] == "-" else ""), cleaned[1:]
    if not cleaned:
        raise ValueError(text)
    if "," in cleaned:
        whole, _, fraction = cleaned.partition(",")
        if "," in fraction or not fraction.isdigit() or not whole:
            raise ValueError(text)
        if "." in whole and not _THOUSANDS.match(whole):
            raise ValueError(text)
        if not whole.replace(".", "").isdigit():
            raise ValueError(text)
        number = f"{whole.replace('.', '')}.{fraction}"
    elif _THOUSANDS.match(cleaned):
        number = cleaned.replace(".", "")
    elif _PLAIN.match(cleaned):
        number = cleaned
    else:
        raise ValueError(text)
    return Decimal(sign + number)


def format_dutch(value: Decimal | int | float | None, decimals: int = 0, *, trim: bool = False) -> str:
    """1234.5 -> "1.234,5" (``decimals`` places; ``trim`` drops trailing zeros of the fraction)."""
    if value is None:
        return ""
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    whole, _, fraction = f"{abs(number):f}".partition(".")
    if trim:
        fraction = fraction.rstrip("0")
    text = group_thousands(int(whole))
    return f"{sign}{text},{fraction}" if fraction else f"{sign}{text}"


def display_value(indicator: Indicator, value: int | str | None) -> str:
    """A stored value as shown on screen and in the PDF (Dutch notation, with its unit)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    if indicator.type is IndicatorType.MONEY:
        return "EUR " + format_dutch(number / 100, 2)
    if indicator.type is IndicatorType.PERCENTAGE:
        return format_dutch(number, 1, trim=True) + "%"
    if indicator.type is IndicatorType.INTEGER:
        return format_dutch(number, 0)
    return format_dutch(number, DECIMALS[IndicatorType.DECIMAL], trim=True)


def input_value(indicator: Indicator, value: int | str | None) -> str:
    """A stored value as it goes back into a form field (typed by people, so no unit)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    if indicator.type is IndicatorType.MONEY:
        return format_dutch(number / 100, 2)
    return format_dutch(number, DECIMALS[indicator.type], trim=True)


def range_text(indicator: Indicator) -> str:
    low, high = indicator.minimum, indicator.maximum
    if indicator.type is IndicatorType.PERCENTAGE:
        low = Decimal(0) if low is None else low
        high = Decimal(100) if high is None else high
    show = (lambda v: display_value(indicator, str(v))) if indicator.type is IndicatorType.MONEY else \
        (lambda v: format_dutch(v, DECIMALS[indicator.type], trim=True))
    if low is not None and high is not None:
        return f"{show(low)} tot en met {show(high)}"
    if low is not None:
        return f"minstens {show(low)}"
    if high is not None:
        return f"hooguit {show(high)}"
    return ""


# --- validating values -----------------------------------------------------------------------------

EXAMPLES = {IndicatorType.INTEGER: "1.234", IndicatorType.DECIMAL: "1.234,5", IndicatorType.PERCENTAGE: "87,5",
            IndicatorType.MONEY: "1.234,56"}


def validate_value(indicator: Indicator, raw: str | None) -> int | str | None:
    """The stored value of one typed indicator: an int for integers and money (cents), a decimal string
    for decimals and percentages, None when left empty. Raises InvalidInput naming the indicator."""
    field = f"indicator-{indicator.key}"
    text = (raw or "").strip()
    if not text:
        if indicator.required:
            raise InvalidInput(f"{indicator.name}: dit cijfer is verplicht. Vul een {indicator.type.label} in.",
                               field=field)
        return None
    try:
        number = parse_dutch_number(text)
    except (ValueError, InvalidOperation):
        raise InvalidInput(f"{indicator.name}: '{text[:40]}' is geen {indicator.type.label}. Schrijf het "
                           f"bijvoorbeeld als {EXAMPLES[indicator.type]}.", field=field) from None
    if abs(number) >= MAX_ABS:
        raise InvalidInput(f"{indicator.name}: dit getal is te groot.", field=field)
    places = -number.as_tuple().exponent if number.as_tuple().exponent < 0 else 0  # type: ignore[operator]
    if indicator.type is IndicatorType.INTEGER and number != number.to_integral_value():
        raise InvalidInput(f"{indicator.name}: vul een geheel getal in, zonder decimalen (bijvoorbeeld 1.234).",
                           field=field)
    if indicator.type is IndicatorType.MONEY and places > 2:
        raise InvalidInput(f"{indicator.name}: een bedrag heeft hooguit twee cijfers achter de komma.", field=field)
    if indicator.type in (IndicatorType.DECIMAL, IndicatorType.PERCENTAGE) and places > 4:
        raise InvalidInput(f"{indicator.name}: gebruik hooguit vier cijfers achter de komma.", field=field)
    stored = number * 100 if indicator.type is IndicatorType.MONEY else number
    low, high = indicator.minimum, indicator.maximum
    if indicator.type is IndicatorType.PERCENTAGE:
        low = Decimal(0) if low is None else low
        high = Decimal(100) if high is None else high
    if (low is not None and stored < low) or (high is not None and stored > high):
        shown = display_value(indicator, str(stored))
        raise InvalidInput(f"{indicator.name}: {shown} ligt buiten het plausibele bereik ({range_text(indicator)}). "
                           f"Controleer het cijfer.", field=field)
    if indicator.type in (IndicatorType.INTEGER, IndicatorType.MONEY):
        return int(stored)
    return format(stored.normalize(), "f")


def validate_values(definition: TemplateDefinition, raw: Mapping[str, str]) -> tuple[dict, list[dict]]:
    """All indicators at once: the stored values, and every mistake (in template order)."""
    values: dict[str, int | str | None] = {}
    errors: list[dict] = []
    for indicator in definition.indicators:
        try:
            values[indicator.key] = validate_value(indicator, raw.get(indicator.key))
        except InvalidInput as exc:
            errors.append({"field": exc.field, "message": exc.message, "key": indicator.key})
    return values, errors


def clean_text(text: str | None, limit: int = MAX_SECTION_CHARS) -> str:
    """Narrative as typed: line ends normalised, control characters dropped, length capped."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    return text[:limit]


# --- narrative: plain text with paragraphs and "- " bullet lists -----------------------------------


def narrative_blocks(text: str | None) -> list[tuple[str, list[str]]]:
    """Blank lines separate blocks; a block whose lines all start with "- " (or "* ") is a list."""
    blocks: list[tuple[str, list[str]]] = []
    for chunk in re.split(r"\n\s*\n", clean_text(text).strip()):
        lines = [line.rstrip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            blocks.append(("list", [line.lstrip()[2:].strip() for line in lines]))
        else:
            blocks.append(("paragraph", lines))
    return blocks


def render_narrative(text: str | None) -> Markup:
    """Safe HTML: everything is escaped; only <p>, <br> and <ul><li> are ours."""
    parts = []
    for kind, lines in narrative_blocks(text):
        if kind == "list":
            parts.append(Markup("<ul>") + Markup("").join(Markup("<li>%s</li>") % line for line in lines)
                         + Markup("</ul>"))
        else:
            parts.append(Markup("<p>") + Markup("<br>").join(escape(line) for line in lines) + Markup("</p>"))
    return Markup("\n").join(parts)


# --- the lifecycle: one table ----------------------------------------------------------------------


class ReportStatus(CodeList, unknown="Onbekende status"):
    DRAFT = "draft", "Concept"
    SUBMITTED = "submitted", "Ingediend"
    RETURNED = "returned", "Teruggestuurd"
    ACCEPTED = "accepted", "Geaccepteerd"


class ReportAction(CodeList, unknown="Onbekende handeling"):
    SAVE = "save", "Concept opslaan"
    SUBMIT = "submit", "Indienen"
    RETURN = "return", "Terugsturen"
    ACCEPT = "accept", "Accepteren"


class ReportParty(StrEnum):
    AUTHOR = "author"  # the organisation that writes the report
    REVIEWER = "reviewer"  # main contractor for a subcontractor report; municipality for the contract report


class ReportKind(StrEnum):
    SUBCONTRACTOR = "subcontractor"
    CONTRACT = "contract"


# (from, action) -> (to, who may do it). Anything not in the table is refused.
LIFECYCLE: dict[tuple[ReportStatus, ReportAction], tuple[ReportStatus, ReportParty]] = {
    (ReportStatus.DRAFT, ReportAction.SAVE): (ReportStatus.DRAFT, ReportParty.AUTHOR),
    (ReportStatus.DRAFT, ReportAction.SUBMIT): (ReportStatus.SUBMITTED, ReportParty.AUTHOR),
    (ReportStatus.SUBMITTED, ReportAction.RETURN): (ReportStatus.RETURNED, ReportParty.REVIEWER),
    (ReportStatus.SUBMITTED, ReportAction.ACCEPT): (ReportStatus.ACCEPTED, ReportParty.REVIEWER),
    (ReportStatus.RETURNED, ReportAction.SAVE): (ReportStatus.RETURNED, ReportParty.AUTHOR),
    (ReportStatus.RETURNED, ReportAction.SUBMIT): (ReportStatus.SUBMITTED, ReportParty.AUTHOR),
}

BALL = {ReportStatus.DRAFT: ReportParty.AUTHOR, ReportStatus.RETURNED: ReportParty.AUTHOR,
        ReportStatus.SUBMITTED: ReportParty.REVIEWER, ReportStatus.ACCEPTED: None}

_REFUSED = {
    ReportStatus.SUBMITTED: "Deze rapportage is ingediend en wacht op beoordeling; u kunt haar nu niet wijzigen.",
    ReportStatus.ACCEPTED: "Deze rapportage is geaccepteerd en kan niet meer worden gewijzigd.",
    ReportStatus.DRAFT: "Deze rapportage is nog niet ingediend.",
    ReportStatus.RETURNED: "Deze rapportage is teruggestuurd en ligt bij de schrijver.",
}


def decide(status: ReportStatus | str, action: ReportAction | str, parties: Iterable[ReportParty]) -> ReportStatus:
    """The status after ``action``, or IllegalTransition (not now) / NotPermitted (not you)."""
    status, action = ReportStatus.parse(status), ReportAction.parse(action)
    row = LIFECYCLE.get((status, action))
    if row is None:
        raise IllegalTransition(_REFUSED[status])
    target, who = row
    if who not in set(parties):
        what = "de schrijver" if who is ReportParty.AUTHOR else "de beoordelaar"
        raise NotPermitted(f"'{action.label}' is voorbehouden aan {what} van deze rapportage.")
    return target


def allowed_report_actions(status: ReportStatus | str, parties: Iterable[ReportParty]) -> list[ReportAction]:
    status, mine = ReportStatus.parse(status), set(parties)
    return [action for (source, action), (_, who) in LIFECYCLE.items() if source is status and who in mine]


MAX_REASON_CHARS = 2000


def refuse_too_long(text: str | None, limit: int, field: str) -> None:
    """Typed text beyond its limit is refused (the form keeps it), never cut off unseen."""
    length = len((text or "").replace("\r\n", "\n"))
    if length > limit:
        raise InvalidInput(f"Deze tekst is te lang: hoogstens {limit} tekens (nu {length}).", field=field)


def check_return_reason(reason: str | None) -> str:
    refuse_too_long(reason, MAX_REASON_CHARS, "reason")
    text = clean_text(reason, MAX_REASON_CHARS).strip()
    if len(text) < 5:
        raise InvalidInput("Geef bij het terugsturen aan wat er anders moet (minstens een korte zin).",
                           field="reason")
    return text


# --- periods ---------------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def period_bounds(kind: PeriodKind | str, containing: date) -> tuple[date, date]:
    """The calendar period of ``kind`` that contains a day: quarters start in Jan, Apr, Jul, Oct."""
    months = MONTHS_PER_PERIOD[PeriodKind.parse(kind)]
    first_month = (containing.month - 1) // months * months + 1
    start = date(containing.year, first_month, 1)
    return start, _add_months(start, months) - timedelta(days=1)


def periods_between(kind: PeriodKind | str, first_day: date, last_day: date) -> list[tuple[date, date]]:
    """Every period of ``kind`` from the one holding ``first_day`` up to and including the one that has
    ended by ``last_day`` (a period is reported on after it ends)."""
    result = []
    start, end = period_bounds(kind, first_day)
    while end <= last_day:
        result.append((start, end))
        start, end = period_bounds(kind, end + timedelta(days=1))
    return result


def period_label(kind: str, starts_on: date, ends_on: date) -> str:
    if kind == PeriodKind.QUARTER.value:
        return f"Kwartaal {(starts_on.month - 1) // 3 + 1} {starts_on.year}"
    if kind == PeriodKind.MONTH.value:
        names = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                 "oktober", "november", "december")
        return f"{names[starts_on.month - 1].capitalize()} {starts_on.year}"
    if kind == PeriodKind.HALF_YEAR.value:
        return f"{1 if starts_on.month <= 6 else 2}e halfjaar {starts_on.year}"
    if kind == PeriodKind.YEAR.value:
        return f"Jaar {starts_on.year}"
    return f"{format_date(starts_on)} t/m {format_date(ends_on)}"


# --- computed figures and consolidation ------------------------------------------------------------

COMPUTED_FIGURES = (
    ("received", "Toewijzingsverzoeken ontvangen"),
    ("accepted", "Geaccepteerd"),
    ("declined", "Geweigerd"),
    ("started", "Levering gestart"),
    ("ended", "Levering beëindigd"),
    ("median_wait_days", "Mediane wachttijd (dagen van verzoek tot start)"),
    ("signals", "Signalen"),
)
COMPUTED_LABELS = dict(COMPUTED_FIGURES)
EVENT_FIGURES = {"request_allocation": "received", "accept": "accepted", "decline": "declined",
                 "start_care": "started", "end_care": "ended"}


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def consolidate(definition: TemplateDefinition, reports: list[Mapping]) -> list[dict]:
    """Totals over the subcontractor reports' submitted values: sums, except percentages (the mean of the
    reports that gave one). ``reports`` are version contents (``{"indicators": {key: value}}``)."""
    totals = []
    for indicator in definition.indicators:
        given = [Decimal(str(content["indicators"][indicator.key])) for content in reports
                 if (content.get("indicators") or {}).get(indicator.key) not in (None, "")]
        if not given:
            value = None
        elif indicator.type is IndicatorType.PERCENTAGE:
            value = format((sum(given) / len(given)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), "f")
        elif indicator.type in (IndicatorType.INTEGER, IndicatorType.MONEY):
            value = int(sum(given))
        else:
            value = format(sum(given).normalize(), "f")
        totals.append({"key": indicator.key, "name": indicator.name, "value": value, "reports": len(given),
                       "how": "gemiddelde" if indicator.type is IndicatorType.PERCENTAGE else "totaal",
                       "display": display_value(indicator, value), "unit": indicator.unit_label})
    return totals


# --- diff between versions -------------------------------------------------------------------------


def diff_versions(definition: TemplateDefinition, old: Mapping, new: Mapping) -> dict:
    """What changed between two submitted versions: indicators (old and new value) and the narrative, line
    by line (difflib), per section. Only changes are listed."""
    indicators = []
    old_values, new_values = old.get("indicators") or {}, new.get("indicators") or {}
    for indicator in definition.indicators:
        before = display_value(indicator, old_values.get(indicator.key))
        after = display_value(indicator, new_values.get(indicator.key))
        if before != after:
            indicators.append({"name": indicator.name, "old": before or "(leeg)", "new": after or "(leeg)"})
    sections = []
    old_sections, new_sections = old.get("sections") or {}, new.get("sections") or {}
    for section in definition.sections:
        before_lines = clean_text(old_sections.get(section.key)).split("\n")
        after_lines = clean_text(new_sections.get(section.key)).split("\n")
        if before_lines == after_lines:
            continue
        rows = []
        matcher = difflib.SequenceMatcher(a=before_lines, b=after_lines, autojunk=False)
        for tag, a1, a2, b1, b2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            left, right = before_lines[a1:a2], after_lines[b1:b2]
            for index in range(max(len(left), len(right))):
                rows.append({"change": {"replace": "gewijzigd", "delete": "verwijderd", "insert": "toegevoegd"}[tag],
                             "old": left[index] if index < len(left) else "",
                             "new": right[index] if index < len(right) else ""})
        sections.append({"title": section.title, "rows": rows})
    return {"indicators": indicators, "sections": sections, "changed": bool(indicators or sections)}
