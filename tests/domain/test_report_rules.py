"""Report rules, pure: Dutch numbers, indicator validation over generated definitions and values, the
lifecycle table, narrative formatting, consolidation and the diff between versions."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.errors import IllegalTransition, InvalidInput, NotPermitted
from portal.reports import rules
from portal.reports.rules import (
    LIFECYCLE,
    Indicator,
    IndicatorType,
    ReportAction,
    ReportParty,
    ReportStatus,
    decide,
    format_dutch,
    parse_dutch_number,
    validate_value,
)

AUTHOR, REVIEWER = ReportParty.AUTHOR, ReportParty.REVIEWER


@pytest.mark.parametrize(("text", "expected"), [
    ("1.234,5", "1234.5"), ("1234,5", "1234.5"), ("1.234", "1234"), ("12", "12"), ("-3", "-3"),
    ("EUR 1.234,56", "1234.56"), ("€ 12", "12"), ("87,5%", "87.5"), ("2.5", "2.5"), ("1.234.567", "1234567"),
    (" 1 234,5 ", "1234.5"),
])
def test_dutch_number_notation(text, expected):
    assert parse_dutch_number(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "veel", "1,2,3", "1.23,4", "12,", ",5", "1e5", "--1", "1.2.3"])
def test_not_a_number(text):
    with pytest.raises(ValueError):
        parse_dutch_number(text)


# --- generated definitions and values --------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz éë", min_size=1, max_size=30).map(str.strip).filter(bool)


@st.composite
def indicator_and_bounds(draw):
    kind = draw(st.sampled_from(list(IndicatorType)))
    low = draw(st.integers(min_value=-10_000, max_value=10_000))
    high = draw(st.integers(min_value=low, max_value=low + 1_000_000))
    if kind is IndicatorType.PERCENTAGE:
        low, high = sorted((draw(st.integers(0, 100)), draw(st.integers(0, 100))))
    if kind is IndicatorType.MONEY:  # stored in cents
        low, high = low * 100, high * 100
    return Indicator(key="k", name="Indicator " + draw(names), type=kind, required=draw(st.booleans()),
                     minimum=Decimal(low), maximum=Decimal(high))


def _typed(indicator: Indicator, stored: Decimal) -> str:
    """How a person would type a stored value, in Dutch notation."""
    if indicator.type is IndicatorType.MONEY:
        return format_dutch(stored / 100, 2)
    return format_dutch(stored, rules.DECIMALS[indicator.type], trim=True)


@given(indicator_and_bounds(), st.data())
def test_valid_values_are_always_accepted(indicator, data):
    low, high = int(indicator.minimum), int(indicator.maximum)
    stored = Decimal(data.draw(st.integers(min_value=low, max_value=high)))
    typed = _typed(indicator, stored)
    value = validate_value(indicator, typed)
    assert Decimal(str(value)) == stored
    if indicator.type in (IndicatorType.INTEGER, IndicatorType.MONEY):
        assert isinstance(value, int)


@given(indicator_and_bounds(), st.integers(min_value=1, max_value=10**6), st.booleans())
def test_out_of_range_is_always_refused_naming_the_indicator(indicator, distance, below):
    stored = (indicator.minimum - distance) if below else (indicator.maximum + distance)
    with pytest.raises(InvalidInput) as raised:
        validate_value(indicator, _typed(indicator, stored))
    assert raised.value.message.startswith(indicator.name + ":")
    assert "plausibele bereik" in raised.value.message and raised.value.field == "indicator-k"


@given(indicator_and_bounds(), st.text(alphabet="abcxyz!?", min_size=1, max_size=10))
def test_text_is_refused_with_an_example(indicator, text):
    with pytest.raises(InvalidInput) as raised:
        validate_value(indicator, text)
    assert indicator.name in raised.value.message and "bijvoorbeeld" in raised.value.message


@given(indicator_and_bounds())
def test_empty_is_refused_only_when_required(indicator):
    if indicator.required:
        with pytest.raises(InvalidInput, match="verplicht"):
            validate_value(indicator, "  ")
    else:
        assert validate_value(indicator, "") is None


def test_integers_have_no_decimals_and_money_two():
    with pytest.raises(InvalidInput, match="geheel getal"):
        validate_value(Indicator("k", "Inwoners", IndicatorType.INTEGER), "12,5")
    with pytest.raises(InvalidInput, match="twee cijfers"):
        validate_value(Indicator("k", "Budget", IndicatorType.MONEY), "12,345")
    assert validate_value(Indicator("k", "Budget", IndicatorType.MONEY), "EUR 1.234,56") == 123456


def test_validate_values_reports_every_mistake_in_template_order():
    definition = rules.parse_definition({"indicators": [
        {"key": "a", "name": "Alfa", "type": "integer", "required": True},
        {"key": "b", "name": "Beta", "type": "percentage"},
    ]})
    values, errors = rules.validate_values(definition, {"b": "120"})
    assert [e["key"] for e in errors] == ["a", "b"] and "Beta: 120%" in errors[1]["message"]


# --- lifecycle -------------------------------------------------------------------------------------

EXPECTED = {
    (ReportStatus.DRAFT, ReportAction.SAVE): ReportStatus.DRAFT,
    (ReportStatus.DRAFT, ReportAction.SUBMIT): ReportStatus.SUBMITTED,
    (ReportStatus.SUBMITTED, ReportAction.RETURN): ReportStatus.RETURNED,
    (ReportStatus.SUBMITTED, ReportAction.ACCEPT): ReportStatus.ACCEPTED,
    (ReportStatus.RETURNED, ReportAction.SAVE): ReportStatus.RETURNED,
    (ReportStatus.RETURNED, ReportAction.SUBMIT): ReportStatus.SUBMITTED,
}


def test_the_lifecycle_table():
    assert {key: target for key, (target, _) in LIFECYCLE.items()} == EXPECTED


@given(st.sampled_from(list(ReportStatus)), st.sampled_from(list(ReportAction)),
       st.sets(st.sampled_from(list(ReportParty))))
def test_decide_follows_the_table(status, action, parties):
    row = LIFECYCLE.get((status, action))
    if row is None:
        with pytest.raises(IllegalTransition):
            decide(status, action, parties)
    elif row[1] not in parties:
        with pytest.raises(NotPermitted):
            decide(status, action, parties)
    else:
        assert decide(status, action, parties) is row[0]


def test_accepted_is_final_and_the_ball_moves():
    assert rules.allowed_report_actions(ReportStatus.ACCEPTED, [AUTHOR, REVIEWER]) == []
    assert rules.allowed_report_actions(ReportStatus.SUBMITTED, [AUTHOR]) == []
    assert rules.BALL[ReportStatus.RETURNED] is AUTHOR and rules.BALL[ReportStatus.SUBMITTED] is REVIEWER
    with pytest.raises(InvalidInput):
        rules.check_return_reason("  ")


# --- narrative, consolidation, diff, periods ---------------------------------------------------------


def test_narrative_is_escaped_with_paragraphs_and_bullets():
    html = str(rules.render_narrative("Eerste <b>regel</b>\ntweede & meer\n\n- een <script>\n- twee"))
    assert html == ("<p>Eerste &lt;b&gt;regel&lt;/b&gt;<br>tweede &amp; meer</p>\n"
                    "<ul><li>een &lt;script&gt;</li><li>twee</li></ul>")


@given(st.text(max_size=200))
def test_narrative_never_lets_markup_through(text):
    html = str(rules.render_narrative(text))
    stripped = html
    for tag in ("<p>", "</p>", "<br>", "<ul>", "</ul>", "<li>", "</li>"):
        stripped = stripped.replace(tag, "")
    assert "<" not in stripped and ">" not in stripped.replace("&gt;", "")


def test_consolidate_sums_and_averages_percentages():
    definition = rules.parse_definition({"indicators": [
        {"key": "n", "name": "Inwoners", "type": "integer"}, {"key": "p", "name": "Tevreden", "type": "percentage"},
        {"key": "m", "name": "Kosten", "type": "money"}]})
    totals = rules.consolidate(definition, [{"indicators": {"n": 10, "p": "80", "m": 150}},
                                            {"indicators": {"n": 5, "p": "91", "m": None}}])
    assert [(t["value"], t["reports"]) for t in totals] == [(15, 2), ("85.5", 2), (150, 1)]
    assert totals[2]["display"] == "EUR 1,50"


def test_diff_lists_indicator_and_text_changes():
    definition = rules.parse_definition({"indicators": [{"key": "n", "name": "Inwoners", "type": "integer"}],
                                         "sections": [{"key": "goed", "title": "Wat ging goed"}]})
    diff = rules.diff_versions(definition, {"indicators": {"n": 1234}, "sections": {"goed": "a\nb"}},
                               {"indicators": {"n": 1240}, "sections": {"goed": "a\nc\nd"}})
    assert diff["indicators"] == [{"name": "Inwoners", "old": "1.234", "new": "1.240"}]
    assert [(r["change"], r["old"], r["new"]) for r in diff["sections"][0]["rows"]] == [
        ("gewijzigd", "b", "c"), ("gewijzigd", "", "d")]


def test_periods_and_labels():
    assert rules.periods_between("quarter", date(2025, 2, 10), date(2025, 10, 1)) == [
        (date(2025, 1, 1), date(2025, 3, 31)), (date(2025, 4, 1), date(2025, 6, 30)),
        (date(2025, 7, 1), date(2025, 9, 30))]
    assert rules.period_label("quarter", date(2026, 4, 1), date(2026, 6, 30)) == "Kwartaal 2 2026"
    assert rules.slug("Cliënttevredenheid (%)") == "clienttevredenheid"
