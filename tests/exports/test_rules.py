"""The dashboard export's pure parts: quarters (parse, bounds, choices) and the blocks with the page's markers."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.exports import rules
from portal.exports.rules import Figure, Kind, Quarter, shown

days = st.dates(min_value=date(2001, 1, 1), max_value=date(2998, 12, 31))


@given(days)
def test_a_day_lies_in_its_quarter_and_the_last_complete_quarter_has_ended(day):
    quarter = rules.quarter_of(day)
    assert quarter.start <= day <= quarter.end
    assert quarter.end + timedelta(days=1) == quarter.next().start
    last = rules.last_complete_quarter(day)
    assert last.end < day and last.next() == quarter and last.next().previous() == last
    assert rules.check_quarter(last, day) is None and rules.check_quarter(quarter, day) is not None


@given(days, st.integers(min_value=0, max_value=20), st.one_of(st.none(), days))
def test_quarter_choices_are_complete_newest_first_and_after_the_start(today, n, start):
    choices = rules.quarter_choices(today, start, n)
    assert len(choices) <= n
    assert choices == sorted(choices, reverse=True)
    for quarter in choices:
        assert quarter.end < today and rules.check_quarter(quarter, today, start) is None
        assert rules.parse_quarter(quarter.code) == quarter


def test_parsing_quarters():
    assert rules.parse_quarter("2026-K3") == Quarter(2026, 3)
    assert rules.parse_quarter(" 2026q4 ") == Quarter(2026, 4) and rules.parse_quarter("2026-1") == Quarter(2026, 1)
    assert rules.parse_quarter("") is None and rules.parse_quarter(None) is None
    for text in ("2026-K5", "K3", "26-K3", "2026-K3; DROP", "=2026-K3"):
        with pytest.raises(ValueError):
            rules.parse_quarter(text)
    q3 = Quarter(2026, 3)
    assert (q3.start, q3.end, q3.code, q3.label) == (date(2026, 7, 1), date(2026, 9, 30), "2026-K3", "Q3 2026")
    assert Quarter(2026, 4).end == date(2026, 12, 31) and Quarter(2026, 1).previous() == Quarter(2025, 4)
    assert "nog niet voorbij" in rules.check_quarter(q3, date(2026, 9, 30))
    assert "begon op 01-10-2026" in rules.check_quarter(q3, date(2027, 1, 5), first_day=date(2026, 10, 1))
    assert rules.quarter_choices(date(2026, 11, 25), date(2026, 3, 15)) == [Quarter(2026, 3), Quarter(2026, 2),
                                                                           Quarter(2026, 1)]


def test_figures_are_shown_as_on_the_page():
    assert shown(Figure(1234)) == "1.234" and Figure(1234).spreadsheet_value() == 1234
    assert shown(Figure(25.04, Kind.PERCENT1)) == "25,0%" and Figure(25.04, Kind.PERCENT1).spreadsheet_value() == 25.0
    assert shown(Figure(50.0, Kind.PERCENT0)) == "50%" and Figure(49.6, Kind.PERCENT0).spreadsheet_value() == 50
    assert shown(Figure(10.0, Kind.DECIMAL1)) == "10,0"
    assert shown(Figure(123456, Kind.MONEY)) == "EUR 1.234,56" and str(Figure(123456, Kind.MONEY).spreadsheet_value()) \
        == "1234.56"
    assert shown("te weinig") == "te weinig" and shown(None) == ""


def _subcontractor(name: str, **fields) -> dict:
    row = {"id": 1, "name": name, "volume": 5, "declines": 1, "decline_rate": None, "rejections": 0, "decisions": 5,
           "rejection_rate": None, "wait_days": None, "wait_volume": 0, "open_signals": 0, "load": 1,
           "reports_due": 0, "reports_done": 0, "report_compliance": None, "decline_outlier": None,
           "rejection_outlier": None}
    return row | fields


def test_the_subcontractor_block_carries_the_pages_markers():
    block = rules.subcontractor_block([
        _subcontractor("Klein"),
        _subcontractor("Groot", volume=40, decline_rate=25.0, decline_outlier="hoger", rejection_rate=2.5,
                       rejection_outlier="lager", wait_days=7.25, report_compliance=50.0, reports_due=2,
                       reports_done=1),
    ], 20)
    small, large = ([shown(value) for value in row] for row in block.rows)
    assert small == ["Klein", "5", "te weinig", "", "te weinig", "", "–", "0", "–", "0", "0", "1"]
    assert large == ["Groot", "40", "25,0%", "afwijkend hoog", "2,5%", "afwijkend laag", "7,2", "0", "50%", "1", "2",
                     "1"]
    assert len(block.headers) == len(block.rows[0]) and block.landscape


def test_suppressed_neighbourhoods_stay_suppressed():
    block = rules.neighbourhood_block([{"name": "Noord", "residents": "6", "cases": "7"},
                                       {"name": "Zuid", "residents": "< 5", "cases": "< 5"}])
    assert block.rows == [["Noord", Figure(6), Figure(7)], ["Zuid", "< 5", "< 5"]]


def test_a_subcontractor_view_names_no_peer():
    figures = {"scope": "subcontractor", "contract": {"id": 1, "name": "C"}, "today": date(2026, 11, 25),
               "own": _subcontractor("Zelf", volume=20, decline_rate=25.0, wait_days=10.0),
               "peers": {"volume": 20.0, "decline_rate": 10.0, "rejection_rate": None, "wait_days": None,
                         "open_signals": 1.0, "report_compliance": None},
               "peer_count": 4, "statuses": [{"status": "in_care", "label": "Levering gestart", "count": 3}],
               "min_volume": 20, "min_peers": 3}
    blocks = rules.dashboard_blocks(figures)
    assert [block.title for block in blocks] == ["Overzicht", "Uw casussen per status", "Vergelijking"]
    comparison = {row[0]: [shown(value) for value in row[2:]] for row in blocks[2].rows}
    assert comparison["Weigerpercentage"] == ["25,0%", "10,0%"]
    assert comparison["Afwijspercentage"] == ["te weinig gegevens", "te weinig gegevens"]
    assert comparison["Wachttijd verzoek tot start (dagen)"] == ["10,0", "te weinig gegevens"]
    assert comparison["Toewijzingsverzoeken"] == ["20", "20,0"]
    assert not any(shown(value) == "4" for block in blocks for row in block.rows for value in row)  # peer count
