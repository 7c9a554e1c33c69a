"""The savings maths, pure: no I/O, no framework. Money is integer cents everywhere.

The rules, in the words the page uses:

1. Savings in a period = the baseline for that period - (the actual spend - the indexation for that period).
   The indexation (the CAO rise the municipality pays on top) is shown apart: never a saving, never an overrun.
2. Amounts per year are spread over the days of the year by cumulative rounding ("telescoping"): the shares of
   periods that together make up a year always add up to the year amount, to the cent.
3. A correction replaces the entry it corrects; in a chain of corrections the latest one counts. Never added.
4. The target up to now is pro rata: the same days as the periods with actual figures.
5. Investments are one-off: shown apart and subtracted only in the net result.
6. The forecast is a straight line (least squares) through the savings per day of the most recent periods,
   carried forward to the end of the contract; the uncertainty band is the spread of the last periods around
   that line times the square root of the number of periods still to come.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from math import sqrt

from portal.lib.errors import InvalidInput
from portal.lib.formatting import format_date, format_money, format_percentage

FORECAST_PERIODS = 8  # the forecast looks at the last 8 periods (two years of quarters)
DEFAULT_LEVEL = "contract"


class Source(StrEnum):
    LEDGER = "ledger"
    CONTRACTOR_STATEMENT = "contractor_statement"
    ESTIMATE = "estimate"

    @property
    def label(self) -> str:
        return SOURCE_LABELS[self]

    @classmethod
    def parse(cls, value: object, *, field: str = "bron") -> "Source":
        try:
            return cls(str(value).strip())
        except ValueError:
            raise InvalidInput("Kies een bron: grootboek, verklaring van de hoofdaannemer of schatting.",
                               field=field) from None


SOURCE_LABELS = {
    Source.LEDGER: "grootboek",
    Source.CONTRACTOR_STATEMENT: "verklaring hoofdaannemer",
    Source.ESTIMATE: "schatting",
}

LEVEL_LABELS = {
    DEFAULT_LEVEL: "contractdoelstelling",
    "tender": "niveau aanbesteding",
    "transformation": "niveau hele transformatie",
}


def level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, level)


class Verdict(StrEnum):
    ON_TRACK = "op_koers"
    BEHIND = "achter"
    AHEAD = "voor"
    NO_DATA = "geen_gegevens"


# --- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearMoney:
    year: int
    baseline_cents: int
    lump_sum_cents: int = 0
    indexation_cents: int = 0


@dataclass(frozen=True)
class Target:
    year: int
    amount_cents: int
    level: str = DEFAULT_LEVEL
    product_category: str | None = None


@dataclass(frozen=True)
class Actual:
    id: int
    period_start: date
    period_end: date
    spend_cents: int
    source: str = Source.LEDGER.value
    corrects: int | None = None


@dataclass(frozen=True)
class InvestmentItem:
    invested_on: date
    amount_cents: int
    description: str = ""


# --- spreading a year amount over days ------------------------------------------------------------


def days_in_year(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _round_div(numerator: int, denominator: int) -> int:
    """Round half up; consistent for negative numbers too (all that matters for telescoping)."""
    return (2 * numerator + denominator) // (2 * denominator)


def day_share(amount_cents: int, start: date, end: date) -> int:
    """The share of a year amount for the days ``start`` to ``end`` (inclusive, within one year).

    Cumulative rounding: share = round(amount x days up to end / D) - round(amount x days before start / D),
    so the shares of periods that together cover a year add up to the year amount exactly."""
    if start.year != end.year or end < start:
        raise ValueError("a period lies within one calendar year and ends on or after its start")
    total = days_in_year(start.year)
    before = (start - date(start.year, 1, 1)).days
    through = (end - date(start.year, 1, 1)).days + 1
    return _round_div(amount_cents * through, total) - _round_div(amount_cents * before, total)


def validate_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput("De periode eindigt vóór de begindatum.", field="tot")
    if start.year != end.year:
        raise InvalidInput("Een periode ligt binnen één kalenderjaar; splits de periode per jaar.", field="tot")


# --- corrections ----------------------------------------------------------------------------------


def replacements(actuals: Iterable[Actual]) -> dict[int, int]:
    """Which entry replaces which: ``{replaced_id: replacing_id}``.

    A correction replaces the entry it corrects. When two corrections point at the same entry the later one
    (higher id) wins and replaces the earlier correction too. Chains resolve to their latest entry."""
    correctors: dict[int, list[int]] = defaultdict(list)
    for actual in actuals:
        if actual.corrects is not None:
            correctors[actual.corrects].append(actual.id)
    replaced: dict[int, int] = {}
    for original, ids in correctors.items():
        ids.sort()
        latest = ids[-1]
        replaced[original] = latest
        for earlier in ids[:-1]:
            replaced[earlier] = latest
    return replaced


def effective_actuals(actuals: Sequence[Actual]) -> list[Actual]:
    """The entries that count: every entry that no (later) correction replaces, in period order."""
    replaced = replacements(actuals)
    return sorted((a for a in actuals if a.id not in replaced), key=lambda a: (a.period_start, a.id))


def final_replacement(actual_id: int, replaced: dict[int, int]) -> int:
    """The entry that counts in the end for ``actual_id`` (follows the chain)."""
    seen = set()
    while actual_id in replaced and actual_id not in seen:
        seen.add(actual_id)
        actual_id = replaced[actual_id]
    return actual_id


def overlapping(actuals: Sequence[Actual], start: date, end: date, ignore: int | None = None) -> list[Actual]:
    """Effective entries whose period overlaps ``start``-``end`` (a correction ignores what it corrects)."""
    return [a for a in effective_actuals(actuals)
            if a.id != ignore and a.period_start <= end and start <= a.period_end]


# --- savings per period and per year --------------------------------------------------------------


@dataclass(frozen=True)
class PeriodFigure:
    actual_id: int
    start: date
    end: date
    source: str
    spend_cents: int
    baseline_cents: int
    indexation_cents: int
    savings_cents: int  # baseline - (spend - indexation)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def spend_without_indexation_cents(self) -> int:
        return self.spend_cents - self.indexation_cents


def period_savings(actual: Actual, money: YearMoney) -> PeriodFigure:
    baseline = day_share(money.baseline_cents, actual.period_start, actual.period_end)
    indexation = day_share(money.indexation_cents, actual.period_start, actual.period_end)
    return PeriodFigure(actual.id, actual.period_start, actual.period_end, actual.source, actual.spend_cents,
                        baseline, indexation, baseline - (actual.spend_cents - indexation))


def year_targets(targets: Iterable[Target]) -> dict[str, dict[int, int]]:
    """``{level: {year: amount}}``. A year's target is its row without a category; without such a row, the sum
    of its category rows (a split target summed)."""
    totals: dict[str, dict[int, int]] = defaultdict(dict)
    parts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for target in targets:
        if target.product_category is None:
            totals[target.level][target.year] = target.amount_cents
        else:
            parts[target.level][target.year] += target.amount_cents
    result: dict[str, dict[int, int]] = {}
    for level in sorted(set(totals) | set(parts), key=lambda lvl: (lvl != DEFAULT_LEVEL, lvl)):
        years = dict(parts.get(level, {}))
        years.update(totals.get(level, {}))
        result[level] = dict(sorted(years.items()))
    return result


# --- the forecast ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """Savings per day as a straight line over time: rate(t) = a + b t, t in days since an origin date."""

    origin: date
    a: Fraction
    b: Fraction

    def over(self, start: date, end: date) -> Fraction:
        """Savings over the days ``start`` to ``end`` inclusive: the integral of the rate."""
        t0 = (start - self.origin).days
        t1 = (end - self.origin).days + 1
        return self.a * (t1 - t0) + self.b * Fraction(t1 * t1 - t0 * t0, 2)


def fit_line(periods: Sequence[PeriodFigure]) -> Line | None:
    """Least squares through the savings per day of the periods, at each period's midpoint. Exact (fractions):
    a series that lies on a line gives exactly that line. One period gives a flat line at its rate."""
    if not periods:
        return None
    origin = periods[0].start
    points = [(Fraction((p.start - origin).days + (p.end - origin).days + 1, 2), Fraction(p.savings_cents, p.days))
              for p in periods]
    n = len(points)
    mean_t = sum((t for t, _ in points), Fraction(0)) / n
    mean_r = sum((r for _, r in points), Fraction(0)) / n
    spread = sum(((t - mean_t) ** 2 for t, _ in points), Fraction(0))
    if n < 2 or spread == 0:
        return Line(origin, mean_r, Fraction(0))
    b = sum(((t - mean_t) * (r - mean_r) for t, r in points), Fraction(0)) / spread
    return Line(origin, mean_r - b * mean_t, b)


def residual_spread(periods: Sequence[PeriodFigure], line: Line) -> int:
    """Standard deviation (cents) of the periods' savings around the line; 0 for fewer than 3 periods."""
    if len(periods) < 3:
        return 0
    residuals = [p.savings_cents - line.over(p.start, p.end) for p in periods]
    variance = sum((r * r for r in residuals), Fraction(0)) / (len(residuals) - 2)
    return round(sqrt(variance))


@dataclass(frozen=True)
class ForecastPoint:
    on: date
    cumulative_cents: int
    low_cents: int
    high_cents: int


@dataclass(frozen=True)
class Forecast:
    based_on: tuple[PeriodFigure, ...]
    line: Line
    spread_cents: int
    average_period_days: int
    points: tuple[ForecastPoint, ...]  # at each year end after the last figure, and the contract end

    @property
    def end(self) -> ForecastPoint | None:
        return self.points[-1] if self.points else None


def forecast(periods: Sequence[PeriodFigure], cumulative_cents: int, contract_end: date,
             recent: int = FORECAST_PERIODS) -> Forecast | None:
    """Carry the line through the last ``recent`` periods forward from the day after the last figure."""
    if not periods:
        return None
    based_on = tuple(sorted(periods, key=lambda p: p.start)[-recent:])
    line = fit_line(based_on)
    assert line is not None
    spread = residual_spread(based_on, line)
    average_days = max(1, round(sum(p.days for p in based_on) / len(based_on)))
    start = max(p.end for p in periods) + timedelta(days=1)
    points = []
    if start <= contract_end:
        stops = [date(year, 12, 31) for year in range(start.year, contract_end.year)] + [contract_end]
        for stop in stops:
            ahead = line.over(start, stop)
            periods_ahead = ((stop - start).days + 1) / average_days
            half = round(spread * sqrt(periods_ahead))
            value = cumulative_cents + round(ahead)
            points.append(ForecastPoint(stop, value, value - half, value + half))
    return Forecast(based_on, line, spread, average_days, tuple(points))


# --- the whole picture ----------------------------------------------------------------------------


@dataclass(frozen=True)
class YearFigure:
    year: int
    baseline_cents: int | None
    lump_sum_cents: int | None
    indexation_cents: int | None
    covered_days: int
    days: int
    spend_cents: int
    indexation_share_cents: int  # indexation for the covered periods
    savings_cents: int
    targets: dict[str, int]  # level -> whole-year target
    targets_pro_rata: dict[str, int]  # level -> target for the covered periods
    periods: int


@dataclass(frozen=True)
class LevelVerdict:
    level: str
    label: str
    verdict: Verdict
    sentence: str
    target_to_date_cents: int
    savings_to_date_cents: int
    gap_cents: int  # savings - target (negative: behind)
    gap_pct: float | None  # |gap| as a share of the target to date
    target_total_cents: int
    net_target_cents: int  # the contract's target minus the investments
    forecast_end_cents: int | None


@dataclass(frozen=True)
class TrajectoryPoint:
    on: date
    label: str
    targets: dict[str, int]  # level -> cumulative target at this date
    actual_cents: int | None
    forecast_cents: int | None
    low_cents: int | None
    high_cents: int | None


@dataclass(frozen=True)
class Picture:
    years: tuple[YearFigure, ...]
    periods: tuple[PeriodFigure, ...]
    uncounted: tuple[Actual, ...]  # effective entries without contract figures for their year
    savings_to_date_cents: int
    indexation_to_date_cents: int
    spend_to_date_cents: int
    baseline_to_date_cents: int
    investments_total_cents: int
    investments_to_date_cents: int
    net_to_date_cents: int  # savings - investments so far
    verdicts: tuple[LevelVerdict, ...]
    forecast: Forecast | None
    trajectory: tuple[TrajectoryPoint, ...]
    basis: str
    tolerance_pct: int
    replaced: dict[int, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


def judge(savings_cents: int, target_cents: int, tolerance_pct: int) -> tuple[Verdict, int, float | None]:
    """Behind or ahead when the gap is larger than the tolerance (a share of the target to date)."""
    gap = savings_cents - target_cents
    pct = abs(gap) * 100 / target_cents if target_cents else None
    allowed = abs(target_cents) * tolerance_pct / 100
    if abs(gap) <= allowed:
        return Verdict.ON_TRACK, gap, pct
    return (Verdict.BEHIND if gap < 0 else Verdict.AHEAD), gap, pct


def verdict_sentence(verdict: Verdict, gap_cents: int, gap_pct: float | None) -> str:
    if verdict is Verdict.NO_DATA:
        return "Nog geen oordeel: er zijn nog geen werkelijke cijfers."
    if verdict is Verdict.ON_TRACK:
        return "Op koers."
    pct = f" ({format_percentage(gap_pct)} van de doelstelling)" if gap_pct is not None else ""
    if verdict is Verdict.BEHIND:
        return f"Achter op schema met {format_money(-gap_cents)}{pct}."
    return f"Voor op schema met {format_money(gap_cents)}{pct}."


def _describe_basis(periods: Sequence[PeriodFigure], sources: dict[str, int], replaced: dict[int, int],
                    tolerance_pct: int, uncounted: Sequence[Actual]) -> str:
    if not periods:
        return (f"Er zijn nog geen werkelijke cijfers. Tolerantie uit het contract: {tolerance_pct}% van de "
                "doelstelling tot nu toe.")
    first, last = min(p.start for p in periods), max(p.end for p in periods)
    source_text = ", ".join(f"{Source(code).label if code in Source._value2member_map_ else code} ({count})"
                            for code, count in sorted(sources.items()))
    covered = sum(p.days for p in periods)
    span = (last - first).days + 1
    parts = [
        f"Gebaseerd op {len(periods)} {'periode' if len(periods) == 1 else 'periodes'} van {format_date(first)} "
        f"tot en met {format_date(last)}",
        f"bronnen: {source_text}",
    ]
    if replaced:
        parts.append(f"{len(replaced)} {'ingevoerd bedrag is' if len(replaced) == 1 else 'ingevoerde bedragen zijn'}"
                     " vervangen door een correctie")
    if covered < span:
        parts.append(f"let op: {span - covered} dagen in deze tijd hebben nog geen cijfers en tellen ook niet mee "
                     "in de doelstelling tot nu toe")
    if uncounted:
        parts.append(f"{len(uncounted)} bedrag(en) zonder basislijn voor dat jaar tellen niet mee")
    parts.append(f"tolerantie uit het contract: {tolerance_pct}% van de doelstelling tot nu toe")
    parts.append("de indexatie is niet meegeteld")
    return "; ".join(parts) + "."


def picture(*, years: Sequence[YearMoney], targets: Sequence[Target], actuals: Sequence[Actual],
            investments: Sequence[InvestmentItem], contract_start: date, contract_end: date,
            tolerance_pct: int, today: date, recent: int = FORECAST_PERIODS) -> Picture:
    """Everything the savings page shows, from the contract's money, targets, actual entries and investments."""
    money = {y.year: y for y in years}
    replaced = replacements(actuals)
    effective = effective_actuals(actuals)
    periods = tuple(period_savings(a, money[a.period_start.year]) for a in effective if a.period_start.year in money)
    uncounted = tuple(a for a in effective if a.period_start.year not in money)
    per_level = year_targets(targets)
    if not per_level:
        per_level = {DEFAULT_LEVEL: {}}
    sources: dict[str, int] = defaultdict(int)
    for p in periods:
        sources[p.source] += 1

    by_year: dict[int, list[PeriodFigure]] = defaultdict(list)
    for p in periods:
        by_year[p.start.year].append(p)
    all_years = sorted({*money, *by_year, *(y for lvl in per_level.values() for y in lvl)} |
                       set(range(contract_start.year, contract_end.year + 1)))
    year_rows = []
    for year in all_years:
        own = by_year.get(year, [])
        m = money.get(year)
        pro_rata = {level: sum(day_share(amounts.get(year, 0), p.start, p.end) for p in own)
                    for level, amounts in per_level.items()}
        year_rows.append(YearFigure(
            year=year, baseline_cents=m.baseline_cents if m else None, lump_sum_cents=m.lump_sum_cents if m else None,
            indexation_cents=m.indexation_cents if m else None, covered_days=sum(p.days for p in own),
            days=days_in_year(year), spend_cents=sum(p.spend_cents for p in own),
            indexation_share_cents=sum(p.indexation_cents for p in own),
            savings_cents=sum(p.savings_cents for p in own),
            targets={level: amounts.get(year, 0) for level, amounts in per_level.items()},
            targets_pro_rata=pro_rata, periods=len(own)))

    savings = sum(p.savings_cents for p in periods)
    invest_total = sum(i.amount_cents for i in investments)
    invest_to_date = sum(i.amount_cents for i in investments if i.invested_on <= today)
    outlook = forecast(periods, savings, contract_end, recent)

    verdicts = []
    for level, amounts in per_level.items():
        target_to_date = sum(row.targets_pro_rata[level] for row in year_rows)
        total = sum(amounts.values())
        if periods:
            verdict, gap, pct = judge(savings, target_to_date, tolerance_pct)
        else:
            verdict, gap, pct = Verdict.NO_DATA, 0, None
        verdicts.append(LevelVerdict(
            level=level, label=level_label(level), verdict=verdict, sentence=verdict_sentence(verdict, gap, pct),
            target_to_date_cents=target_to_date, savings_to_date_cents=savings, gap_cents=gap, gap_pct=pct,
            target_total_cents=total, net_target_cents=total - invest_total,
            forecast_end_cents=outlook.end.cumulative_cents if outlook and outlook.end else None))

    return Picture(
        years=tuple(year_rows), periods=periods, uncounted=uncounted, savings_to_date_cents=savings,
        indexation_to_date_cents=sum(p.indexation_cents for p in periods),
        spend_to_date_cents=sum(p.spend_cents for p in periods),
        baseline_to_date_cents=sum(p.baseline_cents for p in periods),
        investments_total_cents=invest_total, investments_to_date_cents=invest_to_date,
        net_to_date_cents=savings - invest_to_date, verdicts=tuple(verdicts), forecast=outlook,
        trajectory=trajectory(year_rows, per_level, periods, outlook, contract_start, contract_end),
        basis=_describe_basis(periods, sources, replaced, tolerance_pct, uncounted), tolerance_pct=tolerance_pct,
        replaced=replaced, sources=dict(sources))


def trajectory(year_rows: Sequence[YearFigure], per_level: dict[str, dict[int, int]],
               periods: Sequence[PeriodFigure], outlook: Forecast | None, contract_start: date,
               contract_end: date) -> tuple[TrajectoryPoint, ...]:
    """Cumulative points: the contract start (all zero), every year end, and the date of the last figure.

    The target line is cumulative per whole year; the actual line runs up to the last figure; the forecast
    starts there and runs to the contract end."""
    last = max((p.end for p in periods), default=None)
    stops = {contract_start - timedelta(days=1)}
    stops |= {date(y, 12, 31) for y in range(contract_start.year, contract_end.year)}
    stops.add(contract_end)
    if last is not None:
        stops.add(last)
    forecast_at = {p.on: p for p in outlook.points} if outlook else {}
    points = []
    for stop in sorted(stops):
        targets = {}
        for level, amounts in per_level.items():
            whole = sum(amount for year, amount in amounts.items() if year < stop.year)
            part = day_share(amounts.get(stop.year, 0), date(stop.year, 1, 1), stop) if stop >= contract_start else 0
            targets[level] = whole + part if stop >= contract_start else 0
        actual = None
        if last is not None and stop <= last:
            actual = sum(p.savings_cents for p in periods if p.end <= stop)
        elif last is None and stop < contract_start:
            actual = 0
        fc = forecast_at.get(stop)
        if fc is None and last is not None and stop == last and outlook is not None:
            fc = ForecastPoint(stop, actual or 0, actual or 0, actual or 0)  # the forecast starts at the last figure
        label = "start" if stop < contract_start else format_date(stop)
        points.append(TrajectoryPoint(stop, label, targets, actual, fc.cumulative_cents if fc else None,
                                      fc.low_cents if fc else None, fc.high_cents if fc else None))
    return tuple(points)


# --- leading indicators ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarterIndicator:
    quarter: str  # "2026-K1"
    collective: int
    individual: int

    @property
    def collective_share_pct(self) -> float | None:
        total = self.collective + self.individual
        return self.collective * 100 / total if total else None


def quarter_label(year: int, quarter: int) -> str:
    return f"{year}-K{quarter}"


def indicators_per_quarter(rows: Iterable[dict]) -> list[QuarterIndicator]:
    """From grouped rows ``{year, quarter, kind: collective|individual, n}`` to one line per quarter."""
    grouped: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: {"collective": 0, "individual": 0})
    for row in rows:
        grouped[(int(row["year"]), int(row["quarter"]))][row["kind"]] += int(row["n"])
    return [QuarterIndicator(quarter_label(y, q), v["collective"], v["individual"])
            for (y, q), v in sorted(grouped.items())]
