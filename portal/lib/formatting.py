"""Dutch formatting for dates, times and money (22-11-2026, EUR 1.900.000,00)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def today_nl() -> date:
    """The business "today": the date in Amsterdam, also between 22:00/23:00 and 00:00 UTC when UTC lags behind.
    Never use ``date.today()`` (the server's zone) or ``datetime.now(UTC).date()`` for a business date."""
    return datetime.now(AMSTERDAM).date()


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(AMSTERDAM).date()
    return value.strftime("%d-%m-%Y")


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def group_thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def format_money(cents: int | None, *, with_cents: bool = True) -> str:
    """EUR 1.900.000,00 from 190000000; negative amounts as -EUR 1.250,00."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(int(cents)), 100)
    if not with_cents:
        euros += 1 if rest >= 50 else 0  # round half up to whole euros
        return f"{sign}EUR {group_thousands(euros)}"
    return f"{sign}EUR {group_thousands(euros)},{rest:02d}"


def format_number(value: int | float | None, decimals: int = 0) -> str:
    if value is None:
        return ""
    text = f"{value:,.{decimals}f}"
    # swap the English separators for Dutch ones
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_percentage(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return ""
    return f"{format_number(value, decimals)}%"


def parse_date(text: str | None, *, field: str | None = None) -> date | None:
    """A date typed in Dutch format (dd-mm-jjjj, also with / or .), or None for empty input."""
    from portal.lib.errors import InvalidInput

    if text is None or not text.strip():
        return None
    parts = text.strip().replace("/", "-").replace(".", "-").split("-")
    try:
        day, month, year = (int(part) for part in parts)
        if year < 1000:
            raise ValueError
        return date(year, month, day)
    except (ValueError, OverflowError):  # OverflowError: a year of 20 digits
        raise InvalidInput(f"Vul de datum in als dd-mm-jjjj, bijvoorbeeld 22-11-2026 (niet: {text.strip()!r}).",
                           field=field) from None


def parse_id(text: str | None, field: str, message: str) -> int | None:
    """A row id from a form or query field (ASCII digits, at most 12), or None for empty input."""
    from portal.lib.errors import InvalidInput

    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 12):  # "²".isdigit() is True, int("²") fails
        raise InvalidInput(message, field=field)
    return int(text)
