"""The calendar of the Algemene termijnenwet (Atw). Pure: no I/O, no dependency.

The legal clocks (Wmo 2015, Awb) and iWmo's working-day terms follow this calendar, not the one of the
``holidays`` package: that one includes Good Friday, which the Atw does not.

Atw art. 3 holidays (algemeen erkende feestdagen): New Year's Day, Easter Monday, Ascension Day, Whit
Monday, Christmas Day and Boxing Day, the day the King's birthday is celebrated, and 5 May (every year,
for legal terms). Atw art. 1: a term that ends on a Saturday, Sunday or such a holiday runs on to the
next day that is none of those. A working day is a day that is neither a Saturday, a Sunday nor a holiday.

King's Day: 27 April, or 26 April when the 27th is a Sunday (from 2014). Before 2014 Queen's Day:
30 April, or 29 April when the 30th is a Sunday (the rule from 1980; the portal needs no earlier years).
"""

from datetime import date, timedelta
from functools import cache
from types import MappingProxyType

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def easter_sunday(year: int) -> date:
    """Easter Sunday of a Gregorian year, by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _royal_day(year: int) -> tuple[date, str]:
    if year >= 2014:
        day = date(year, 4, 27)
        name = "Koningsdag"
    else:
        day = date(year, 4, 30)
        name = "Koninginnedag"
    if day.weekday() == 6:  # a Sunday: celebrated the day before
        day -= _ONE_DAY
    return day, name


@cache
def _holidays(year: int) -> MappingProxyType[date, str]:
    """The Atw holidays of one year, cached per year (read-only, so the cache cannot be altered)."""
    easter = easter_sunday(year)
    royal_day, royal_name = _royal_day(year)
    days: list[tuple[date, str]] = [
        (date(year, 1, 1), "Nieuwjaarsdag"),
        (easter + timedelta(days=1), "Tweede paasdag"),
        (royal_day, royal_name),
        (date(year, 5, 5), "Bevrijdingsdag"),
        (easter + timedelta(days=39), "Hemelvaartsdag"),
        (easter + timedelta(days=50), "Tweede pinksterdag"),
        (date(year, 12, 25), "Eerste kerstdag"),
        (date(year, 12, 26), "Tweede kerstdag"),
    ]
    result: dict[date, str] = {}
    for day, name in sorted(days):
        # Two holidays can fall on one day (Ascension Day on 5 May, as in 2016): keep both names.
        result[day] = f"{result[day]} / {name}" if day in result else name
    return MappingProxyType(result)


def holidays(year: int) -> dict[date, str]:
    """The Atw holidays of ``year`` with their Dutch names, in date order."""
    return dict(_holidays(year))


def is_holiday(d: date) -> bool:
    return d in _holidays(d.year)


def is_working_day(d: date) -> bool:
    """A working day is neither a Saturday, a Sunday nor an Atw holiday."""
    return d.weekday() < _SATURDAY and not is_holiday(d)


def extend_to_working_day(d: date) -> date:
    """Atw art. 1: a term ending on a Saturday, Sunday or holiday runs on to the next working day."""
    while not is_working_day(d):
        d += _ONE_DAY
    return d


def add_working_days(d: date, n: int) -> date:
    """The day that is ``n`` working days after ``d`` (days after ``d`` count, ``d`` itself does not).

    For ``n >= 1`` the result is always a working day; ``add_working_days(d, 0)`` is ``d`` itself.
    """
    if n < 0:
        raise ValueError("n must be 0 or more")
    while n > 0:
        d += _ONE_DAY
        if is_working_day(d):
            n -= 1
    return d


def _weekdays_up_to(d: date) -> int:
    """Number of Mondays to Fridays from 1 January of year 1 (a Monday) up to and including ``d``."""
    weeks, rest = divmod(d.toordinal(), 7)
    return 5 * weeks + min(rest, 5)


def working_days_between(start: date, end: date) -> int:
    """Number of working days in (start, end]; negative (minus those in (end, start]) if end < start."""
    if end < start:
        return -working_days_between(end, start)
    weekdays = _weekdays_up_to(end) - _weekdays_up_to(start)
    holidays_on_weekdays = sum(
        1
        for year in range(start.year, end.year + 1)
        for day in _holidays(year)
        if start < day <= end and day.weekday() < _SATURDAY
    )
    return weekdays - holidays_on_weekdays


def add_weeks_atw(d: date, weeks: int) -> date:
    """The end of a term of ``weeks`` calendar weeks from ``d``, extended by Atw art. 1."""
    return extend_to_working_day(d + timedelta(weeks=weeks))
