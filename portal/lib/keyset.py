"""Keyset ("seek") pagination cursors: page 1.000 costs what page 1 costs, because the query seeks
past the last row seen instead of counting an OFFSET.

A cursor is the sort value and id of the last row on the page, as URL-safe text. It carries no
authority: the query that uses it is scoped to the caller as always, so a forged cursor shows nothing
the caller could not already see.
"""

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime

from portal.lib.errors import InvalidInput


@dataclass(frozen=True)
class Cursor:
    sort_value: str | int | None
    last_id: int


def encode_cursor(sort_value: object, last_id: int) -> str:
    if isinstance(sort_value, datetime | date):
        sort_value = sort_value.isoformat()
    raw = json.dumps([sort_value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        sort_value, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidInput("Deze paginalink is ongeldig; begin opnieuw bij de eerste pagina.", field="na") from exc
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not isinstance(sort_value, str | int | None):
        raise InvalidInput("Deze paginalink is ongeldig; begin opnieuw bij de eerste pagina.", field="na")
    return Cursor(sort_value, last_id)
