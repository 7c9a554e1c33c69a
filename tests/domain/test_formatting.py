from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from portal.lib.formatting import format_date, format_datetime, format_money, format_number, format_percentage


def test_dates_are_day_month_year():
    assert format_date(date(2026, 11, 22)) == "22-11-2026"
    # 23:30 UTC on 21 November is already 22 November in Amsterdam
    assert format_date(datetime(2026, 11, 21, 23, 30, tzinfo=UTC)) == "22-11-2026"
    assert format_datetime(datetime(2026, 7, 1, 8, 5, tzinfo=UTC)) == "01-07-2026 10:05"


def test_money_is_dutch():
    assert format_money(190_000_000) == "EUR 1.900.000,00"
    assert format_money(190_000_000, with_cents=False) == "EUR 1.900.000"
    assert format_money(-125_050) == "-EUR 1.250,50"
    assert format_money(5) == "EUR 0,05"
    assert format_money(None) == ""


def test_numbers_and_percentages_use_a_decimal_comma():
    assert format_number(1234567.891, 2) == "1.234.567,89"
    assert format_percentage(12.0) == "12,0%"


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_money_round_trips_to_the_cent(cents):
    text = format_money(cents)
    digits = text.replace("-", "").replace("EUR ", "").replace(".", "").replace(",", "")
    assert int(digits) == abs(cents)
    assert text.startswith("-") == (cents < 0)
