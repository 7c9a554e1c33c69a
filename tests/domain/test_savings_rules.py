"""The savings maths: hypothesis properties, and the Haarlem and Hengelo figures worked through to the cent."""

from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from portal.lib.errors import InvalidInput
from portal.savings import rules
from portal.savings.rules import Actual, InvestmentItem, PeriodFigure, Target, Verdict, YearMoney
from portal.savings.schemas import parse_amount

money = st.integers(min_value=0, max_value=5 * 10**11)
years = st.integers(min_value=2000, max_value=2060)


@st.composite
def partitions(draw, year=None):
    """A calendar year cut into consecutive periods: [(start, end), ...] covering every day once."""
    year = year or draw(years)
    total = rules.days_in_year(year)
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=total - 1), max_size=12)))
    first = date(year, 1, 1)
    bounds = [0, *cuts, total]
    return [(first + timedelta(days=a), first + timedelta(days=b - 1))
            for a, b in zip(bounds, bounds[1:], strict=False)]


def _quarters(year: int) -> list[tuple[date, date]]:
    return [(date(year, 1, 1), date(year, 3, 31)), (date(year, 4, 1), date(year, 6, 30)),
            (date(year, 7, 1), date(year, 9, 30)), (date(year, 10, 1), date(year, 12, 31))]


# --- properties ---------------------------------------------------------------------------------------


@given(amount=st.integers(min_value=-10**12, max_value=10**12), periods=partitions())
def test_a_year_amount_split_over_periods_sums_back_to_the_cent(amount, periods):
    assert sum(rules.day_share(amount, start, end) for start, end in periods) == amount


@given(amounts=st.lists(money, min_size=1, max_size=18), year=years)
def test_category_targets_summed_give_the_year_target(amounts, year):
    split = [Target(year, amount, "contract", f"{index + 1:02d}") for index, amount in enumerate(amounts)]
    assert rules.year_targets(split) == {"contract": {year: sum(amounts)}}
    # a total row wins over its parts (the parts are a breakdown)
    assert rules.year_targets([*split, Target(year, 123)]) == {"contract": {year: 123}}


@given(targets=st.lists(money, min_size=1, max_size=8), start_year=st.integers(2020, 2030))
def test_the_cumulative_target_line_ends_at_the_sum_of_the_year_targets(targets, start_year):
    end = date(start_year + len(targets) - 1, 12, 31)
    pic = rules.picture(years=[], targets=[Target(start_year + i, t) for i, t in enumerate(targets)], actuals=[],
                        investments=[], contract_start=date(start_year, 1, 1), contract_end=end, tolerance_pct=5,
                        today=end)
    ends = {p.on: p.targets["contract"] for p in pic.trajectory}
    for index in range(len(targets)):
        assert ends[date(start_year + index, 12, 31)] == sum(targets[: index + 1])


@given(baseline=money, indexation=money, extra=money, periods=partitions(),
       spends=st.lists(money, min_size=13, max_size=13))
def test_indexation_never_changes_the_savings(baseline, indexation, extra, periods, spends):
    """More indexation, paid on top of the same spend, leaves every period's savings exactly as it was."""
    year = periods[0][0].year
    before, after = YearMoney(year, baseline, 0, indexation), YearMoney(year, baseline, 0, indexation + extra)
    for index, (start, end) in enumerate(periods):
        plain = Actual(index, start, end, spends[index])
        # the period's spend grows by exactly the period's extra indexation share
        more = rules.day_share(indexation + extra, start, end) - rules.day_share(indexation, start, end)
        paid_more = Actual(index, start, end, spends[index] + more)
        assert rules.period_savings(plain, before).savings_cents == rules.period_savings(paid_more, after).savings_cents
        # and the savings never contain the indexation: baseline - (spend - indexation share)
        figure = rules.period_savings(plain, before)
        assert figure.savings_cents == figure.baseline_cents - figure.spend_without_indexation_cents


@given(baseline=money, indexation=money, spends=st.lists(money, min_size=4, max_size=4),
       extra=money, spread=st.lists(st.integers(0, 100), min_size=4, max_size=4))
def test_over_a_whole_year_indexation_cancels_however_it_is_spread(baseline, indexation, spends, extra, spread):
    year = 2027
    assume(sum(spread) > 0)
    parts = [extra * s // sum(spread) for s in spread]
    parts[-1] += extra - sum(parts)
    def total(index_cents, extra_parts):
        actuals = [Actual(i, s, e, spends[i] + extra_parts[i]) for i, (s, e) in enumerate(_quarters(year))]
        return rules.picture(years=[YearMoney(year, baseline, 0, index_cents)], targets=[], actuals=actuals,
                             investments=[], contract_start=date(year, 1, 1), contract_end=date(year, 12, 31),
                             tolerance_pct=5, today=date(year, 12, 31)).savings_to_date_cents
    assert total(indexation, [0] * 4) == total(indexation + extra, parts) == baseline - sum(spends) + indexation


@st.composite
def ledgers(draw):
    """Quarterly entries for a year, with corrections (chains included) added in entry order."""
    year = 2026
    entries = [Actual(i + 1, s, e, draw(money)) for i, (s, e) in enumerate(_quarters(year))]
    for _ in range(draw(st.integers(0, 6))):
        live = rules.effective_actuals(entries)
        target = draw(st.sampled_from(live))
        entries.append(Actual(len(entries) + 1, target.period_start, target.period_end, draw(money),
                              corrects=target.id))
    return entries


@given(entries=ledgers(), amount=money, pick=st.integers(0, 3))
def test_a_correction_replaces_the_corrected_amount_and_never_adds_to_it(entries, amount, pick):
    live = rules.effective_actuals(entries)
    assert len(live) == 4  # one entry per quarter counts, however many corrections there were
    old = live[pick]
    corrected = [*entries, Actual(len(entries) + 1, old.period_start, old.period_end, amount, corrects=old.id)]
    after = rules.effective_actuals(corrected)
    assert sum(a.spend_cents for a in after) == sum(a.spend_cents for a in live) - old.spend_cents + amount
    assert old.id not in {a.id for a in after} and len(after) == 4
    # every replaced entry leads, through the chain, to the one that counts
    replaced = rules.replacements(corrected)
    assert rules.final_replacement(old.id, replaced) == len(corrected)


def test_two_corrections_of_the_same_entry_the_latest_wins():
    entries = [Actual(1, date(2026, 1, 1), date(2026, 3, 31), 100), Actual(2, date(2026, 1, 1), date(2026, 3, 31), 90,
                                                                          corrects=1),
               Actual(3, date(2026, 1, 1), date(2026, 3, 31), 80, corrects=1)]
    assert [a.id for a in rules.effective_actuals(entries)] == [3]
    assert rules.replacements(entries) == {1: 3, 2: 3}


@given(a=st.integers(-10**6, 10**6), b=st.integers(-500, 500), lengths=st.lists(st.integers(28, 120), min_size=2,
       max_size=10), ahead=st.integers(1, 2000), before=st.integers(0, 10**9))
def test_the_forecast_of_a_perfectly_linear_series_is_exact(a, b, lengths, ahead, before):
    """Savings per day on a straight line a + b t (b even: whole cents): the forecast continues it exactly."""
    b *= 2
    origin = date(2025, 1, 1)
    line = rules.Line(origin, a, b)
    periods, start = [], origin
    for index, length in enumerate(lengths):
        end = start + timedelta(days=length - 1)
        savings = line.over(start, end)
        assert savings.denominator == 1
        periods.append(PeriodFigure(index, start, end, "ledger", 0, 0, 0, int(savings)))
        start = end + timedelta(days=1)
    contract_end = start + timedelta(days=ahead - 1)
    outlook = rules.forecast(periods, before, contract_end, recent=len(periods))
    assert outlook is not None and outlook.spread_cents == 0
    assert outlook.line.a == a and outlook.line.b == b
    for point in outlook.points:
        expected = before + line.over(start, point.on)
        assert point.cumulative_cents == expected == point.low_cents == point.high_cents


def test_the_band_is_the_spread_of_the_residuals_times_the_root_of_the_periods_ahead():
    q = _quarters(2026)
    noisy = [PeriodFigure(i, s, e, "ledger", 0, 0, 0, v) for i, ((s, e), v) in
             enumerate(zip(q, [100_00, 140_00, 100_00, 140_00], strict=True))]
    outlook = rules.forecast(noisy, 480_00, date(2027, 12, 31))
    assert outlook is not None and outlook.spread_cents > 0
    end = outlook.points[-1]
    assert end.high_cents - end.cumulative_cents == end.cumulative_cents - end.low_cents > 0
    periods_ahead = 365 / outlook.average_period_days
    assert end.high_cents - end.cumulative_cents == round(outlook.spread_cents * periods_ahead ** 0.5)


@pytest.mark.parametrize(("savings", "target", "expected"), [
    (100, 100, "Op koers."),
    (96, 100, "Op koers."),  # within the 5% tolerance
    (55_000_00, 100_000_00, "Achter op schema met EUR 45.000,00 (45,0% van de doelstelling)."),
    (120_000_00, 100_000_00, "Voor op schema met EUR 20.000,00 (20,0% van de doelstelling)."),
])
def test_the_verdict_in_plain_dutch(savings, target, expected):
    verdict, gap, pct = rules.judge(savings, target, 5)
    assert rules.verdict_sentence(verdict, gap, pct) == expected


@pytest.mark.parametrize(("text", "cents"), [("1.234.567,89", 123456789), ("1234567,89", 123456789),
                                             ("1234567", 123456700), ("EUR 1.234,5", 123450), ("€ 0,05", 5),
                                             ("12", 1200)])
def test_amounts_in_dutch_notation(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["1,234,567.89", "12.5", "1.23.456", "abc", "", "-5", "1.234,567"])
def test_bad_amounts_get_a_clear_dutch_message(text):
    with pytest.raises(InvalidInput) as error:
        parse_amount(text)
    assert "bedrag" in error.value.message.lower() and error.value.field == "bedrag"


# --- acceptance: the seed contracts worked through ---------------------------------------------------

HAARLEM_TARGETS = (10_000_000, 15_000_000, 20_000_000, 25_000_000, 25_000_000, 30_000_000, 30_000_000, 35_000_000)
HAARLEM_BASELINE = 3_200_000_000


def _haarlem_years() -> list[YearMoney]:
    rows = []
    for index, target in enumerate(HAARLEM_TARGETS):
        lump = HAARLEM_BASELINE - target
        rows.append(YearMoney(2025 + index, HAARLEM_BASELINE, lump, int(lump * 3.1 / 100) * (index + 1)))
    return rows


def _spent_as_agreed(money_rows: list[YearMoney], through: date, start_id: int = 1) -> list[Actual]:
    """Quarterly entries: exactly the lump sum plus the indexation (split to the cent)."""
    entries, next_id = [], start_id
    for row in money_rows:
        for start, end in _quarters(row.year):
            if end > through:
                return entries
            spend = rules.day_share(row.lump_sum_cents + row.indexation_cents, start, end)
            entries.append(Actual(next_id, start, end, spend))
            next_id += 1
    return entries


def _haarlem(actuals, today):
    return rules.picture(years=_haarlem_years(), targets=[Target(2025 + i, t) for i, t in enumerate(HAARLEM_TARGETS)],
                         actuals=actuals, investments=[InvestmentItem(date(2025, 3, 1), 25_000_000)],
                         contract_start=date(2025, 1, 1), contract_end=date(2032, 12, 31), tolerance_pct=5, today=today)


def test_haarlem_eur_1_9_million_over_eight_years():
    pic = _haarlem(_spent_as_agreed(_haarlem_years(), date(2032, 12, 31)), date(2033, 1, 15))
    assert sum(HAARLEM_TARGETS) == 190_000_000  # EUR 1.900.000,00
    assert pic.savings_to_date_cents == 190_000_000
    assert pic.indexation_to_date_cents == 3_540_355_000  # paid on top by the municipality, kept apart
    assert pic.spend_to_date_cents == 8 * HAARLEM_BASELINE - 190_000_000 + 3_540_355_000
    assert pic.investments_total_cents == 25_000_000 and pic.net_to_date_cents == 165_000_000
    [verdict] = pic.verdicts
    assert (verdict.verdict, verdict.gap_cents, verdict.target_to_date_cents) == (Verdict.ON_TRACK, 0, 190_000_000)
    assert verdict.sentence == "Op koers."
    assert [y.savings_cents for y in pic.years] == list(HAARLEM_TARGETS)
    assert pic.trajectory[-1].targets["contract"] == pic.trajectory[-1].actual_cents == 190_000_000


def test_haarlem_a_double_booked_invoice_and_its_correction():
    agreed = _spent_as_agreed(_haarlem_years(), date(2025, 12, 31))
    first = agreed[0]
    wrong = [Actual(first.id, first.period_start, first.period_end, first.spend_cents + 4_500_000), *agreed[1:]]
    behind = _haarlem(wrong, date(2026, 1, 15))
    assert behind.savings_to_date_cents == 10_000_000 - 4_500_000
    assert behind.verdicts[0].sentence == "Achter op schema met EUR 45.000,00 (45,0% van de doelstelling)."
    assert "tolerantie uit het contract: 5%" in behind.basis and "01-01-2025 tot en met 31-12-2025" in behind.basis
    fixed = _haarlem([*wrong, Actual(99, first.period_start, first.period_end, first.spend_cents, corrects=first.id)],
                     date(2026, 1, 15))
    assert fixed.savings_to_date_cents == 10_000_000 and fixed.verdicts[0].sentence == "Op koers."
    assert "1 ingevoerd bedrag is vervangen door een correctie" in fixed.basis


def test_haarlem_pro_rata_in_the_current_year():
    # through 30-09-2026: all of 2025 (EUR 100.000) and 273 of 365 days of 2026's EUR 150.000
    pic = _haarlem(_spent_as_agreed(_haarlem_years(), date(2026, 9, 30)), date(2026, 11, 25))
    expected_2026 = round(15_000_000 * 273 / 365)
    assert pic.verdicts[0].target_to_date_cents == 10_000_000 + expected_2026 == 21_219_178
    # each quarter's baseline, spend and indexation shares are rounded to the cent on their own: one cent apart
    assert pic.savings_to_date_cents == 21_219_179 and pic.verdicts[0].verdict is Verdict.ON_TRACK


HENGELO_TENDER = (50_000_000, 60_000_000, 80_000_000, 90_000_000, 90_000_000)
HENGELO_TRANSFORMATION = (80_000_000, 110_000_000, 150_000_000, 170_000_000, 180_000_000)


def _hengelo(through: date):
    money_rows = [YearMoney(2024 + i, 2_600_000_000, 2_600_000_000 - t, int((2_600_000_000 - t) * 0.028) * (i + 1))
                  for i, t in enumerate(HENGELO_TENDER)]
    targets = [Target(2024 + i, t, "tender") for i, t in enumerate(HENGELO_TENDER)]
    targets += [Target(2024 + i, t, "transformation") for i, t in enumerate(HENGELO_TRANSFORMATION)]
    investments = [InvestmentItem(date(2024, 1, 15), 100_000_000), InvestmentItem(date(2025, 1, 15), 70_000_000)]
    return rules.picture(years=money_rows, targets=targets, actuals=_spent_as_agreed(money_rows, through),
                         investments=investments, contract_start=date(2024, 1, 1), contract_end=date(2028, 12, 31),
                         tolerance_pct=5, today=through + timedelta(days=30))


def test_hengelo_invest_1_7_save_3_7_from_the_tender_and_6_9_with_the_transformation():
    assert sum(HENGELO_TENDER) == 370_000_000 and sum(HENGELO_TRANSFORMATION) == 690_000_000
    pic = _hengelo(date(2028, 12, 31))
    tender, transformation = pic.verdicts
    assert (tender.level, transformation.level) == ("tender", "transformation")
    assert pic.investments_total_cents == 170_000_000
    assert pic.savings_to_date_cents == 370_000_000 and pic.net_to_date_cents == 200_000_000
    assert tender.sentence == "Op koers." and tender.net_target_cents == 200_000_000
    assert transformation.target_total_cents == 690_000_000 and transformation.net_target_cents == 520_000_000
    assert transformation.gap_cents == -320_000_000
    assert transformation.sentence == "Achter op schema met EUR 3.200.000,00 (46,4% van de doelstelling)."


def test_hengelo_after_two_years():
    pic = _hengelo(date(2025, 12, 31))
    tender, transformation = pic.verdicts
    assert pic.savings_to_date_cents == 110_000_000 and tender.verdict is Verdict.ON_TRACK
    assert transformation.target_to_date_cents == 190_000_000
    assert transformation.sentence == "Achter op schema met EUR 800.000,00 (42,1% van de doelstelling)."
    assert pic.net_to_date_cents == 110_000_000 - 170_000_000  # both investments made: still EUR 600.000 in the red
    assert pic.forecast is not None and pic.forecast.based_on[-1].end == date(2025, 12, 31)
