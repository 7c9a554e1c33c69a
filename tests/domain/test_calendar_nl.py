from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.calendar_nl import (
    add_weeks_atw,
    add_working_days,
    easter_sunday,
    extend_to_working_day,
    holidays,
    is_holiday,
    is_working_day,
    working_days_between,
)

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
years = st.integers(min_value=1990, max_value=2100)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_sunday_known_years(year, easter):
    assert easter_sunday(year) == easter


def test_2024_moveable_feasts():
    days = holidays(2024)
    assert days[date(2024, 4, 1)] == "Tweede paasdag"
    assert days[date(2024, 5, 9)] == "Hemelvaartsdag"
    assert days[date(2024, 5, 20)] == "Tweede pinksterdag"
    assert date(2024, 3, 31) not in days  # Easter Sunday is a Sunday anyway, not listed


def test_kings_day_moves_to_saturday_when_27_april_is_a_sunday():
    assert date(2025, 4, 27).weekday() == 6
    assert holidays(2025)[date(2025, 4, 26)] == "Koningsdag"
    assert date(2025, 4, 27) not in holidays(2025)
    # a Saturday King's Day stays on the 27th
    assert holidays(2024)[date(2024, 4, 27)] == "Koningsdag"


def test_queens_day_before_2014():
    assert holidays(2013)[date(2013, 4, 30)] == "Koninginnedag"
    assert holidays(2006)[date(2006, 4, 29)] == "Koninginnedag"  # 30 April 2006 was a Sunday
    assert date(2006, 4, 30) not in holidays(2006)
    assert not any("Koningsdag" in name for name in holidays(2013).values())


def test_2026_holidays_complete():
    assert holidays(2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 6): "Tweede paasdag",
        date(2026, 4, 27): "Koningsdag",
        date(2026, 5, 5): "Bevrijdingsdag",
        date(2026, 5, 14): "Hemelvaartsdag",
        date(2026, 5, 25): "Tweede pinksterdag",
        date(2026, 12, 25): "Eerste kerstdag",
        date(2026, 12, 26): "Tweede kerstdag",
    }


def test_liberation_day_every_year_and_shared_with_ascension_in_2016():
    assert is_holiday(date(2023, 5, 5))  # not a lustrum year: still a holiday for legal terms
    assert holidays(2016)[date(2016, 5, 5)] == "Bevrijdingsdag / Hemelvaartsdag"
    assert len(holidays(2016)) == 7


def test_holidays_returns_a_copy():
    days = holidays(2024)
    days.clear()
    assert is_holiday(date(2024, 12, 25))
    assert len(holidays(2024)) == 8


@given(years)
def test_good_friday_is_never_a_holiday(year):
    good_friday = easter_sunday(year) - timedelta(days=2)
    assert good_friday.weekday() == 4
    assert not is_holiday(good_friday)
    assert is_working_day(good_friday)


@given(years)
def test_every_year_has_the_fixed_holidays(year):
    days = holidays(year)
    for month, day in [(1, 1), (5, 5), (12, 25), (12, 26)]:
        assert date(year, month, day) in days
    assert easter_sunday(year) + timedelta(days=1) in days
    assert easter_sunday(year).weekday() == 6


def test_working_days_around_christmas():
    assert not is_working_day(date(2025, 12, 25))
    assert not is_working_day(date(2025, 12, 27))  # Saturday
    assert is_working_day(date(2025, 12, 24))
    assert add_working_days(date(2025, 12, 23), 2) == date(2025, 12, 29)
    assert working_days_between(date(2025, 12, 23), date(2025, 12, 29)) == 2
    assert working_days_between(date(2025, 12, 29), date(2025, 12, 23)) == -2


def test_add_working_days_zero_and_negative():
    saturday = date(2024, 3, 9)
    assert add_working_days(saturday, 0) == saturday
    with pytest.raises(ValueError):
        add_working_days(saturday, -1)


def test_extend_to_working_day_examples():
    assert extend_to_working_day(date(2025, 12, 25)) == date(2025, 12, 29)
    assert extend_to_working_day(date(2024, 4, 27)) == date(2024, 4, 29)  # King's Day on Saturday
    assert extend_to_working_day(date(2024, 3, 5)) == date(2024, 3, 5)


def test_add_weeks_atw_extends_past_a_holiday():
    # 6 weeks after 13 November 2025 is Christmas Day (Thursday): runs on to Monday 29 December
    assert date(2025, 11, 13) + timedelta(weeks=6) == date(2025, 12, 25)
    assert add_weeks_atw(date(2025, 11, 13), 6) == date(2025, 12, 29)
    # 6 weeks after Monday 24 March 2025 is 5 May (Monday): runs on to Tuesday
    assert add_weeks_atw(date(2025, 3, 24), 6) == date(2025, 5, 6)
    assert add_weeks_atw(date(2024, 3, 4), 6) == date(2024, 4, 15)


@given(dates)
def test_weekends_are_never_working_days(d):
    if d.weekday() >= 5:
        assert not is_working_day(d)
    else:
        assert is_working_day(d) == (not is_holiday(d))


@given(dates, st.integers(min_value=1, max_value=400))
def test_add_working_days_returns_a_working_day(d, n):
    result = add_working_days(d, n)
    assert result > d
    assert is_working_day(result)


@given(dates, st.integers(min_value=0, max_value=400))
def test_working_days_between_inverts_add_working_days(d, n):
    assert working_days_between(d, add_working_days(d, n)) == n


@given(dates, st.integers(min_value=-120, max_value=120))
def test_working_days_between_matches_counting_day_by_day(start, offset):
    end = start + timedelta(days=offset)
    low, high = min(start, end), max(start, end)
    count = sum(1 for i in range(1, (high - low).days + 1) if is_working_day(low + timedelta(days=i)))
    assert working_days_between(start, end) == (count if end >= start else -count)


@given(dates)
def test_extend_to_working_day_is_idempotent_and_never_earlier(d):
    extended = extend_to_working_day(d)
    assert extended >= d
    assert is_working_day(extended)
    assert extend_to_working_day(extended) == extended
    assert (extended - d).days <= 4  # the longest run of non-working days (Christmas + weekend)
    # no working day is skipped
    assert all(not is_working_day(d + timedelta(days=i)) for i in range((extended - d).days))
