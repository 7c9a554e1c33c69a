"""Checks on every request before a route handler sees it.

PostgreSQL cannot store a NUL character (U+0000) in text, SQLite can: without a check, the same note would be
saved on one database and be a server error on the other. A NUL is never meant in a form field, a JSON string
or a query parameter, so it is refused up front with a Dutch message (422), the same on both databases and
before anything is written. A form or JSON body must be UTF-8 (400 otherwise). CSV uploads are checked by
the importer (``portal.lib.csv_import``).
"""

from typing import Any

from portal.lib.errors import DomainError, InvalidInput, NotFound

UTF8_MESSAGE = "De inhoud van het verzoek is geen geldige UTF-8-tekst. Stuur tekst in UTF-8."
NUL_MESSAGE = "Uw invoer bevat een ongeldig teken (een NUL-teken). Verwijder het en probeer het opnieuw."
_FORM = "application/x-www-form-urlencoded"


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


async def refuse_nul_characters(request: Any) -> None:
    """Litestar ``before_request``: 422 for a NUL in the query string, a form body or a JSON body; 400 for a
    form or JSON body that is not UTF-8."""
    if "\x00" in request.scope.get("path", ""):  # no route and no file name holds one (os.stat would fail)
        raise NotFound("Deze pagina bestaat niet, of u heeft er geen toegang toe.")
    query = request.scope.get("query_string") or b""
    if b"\x00" in query or b"%00" in query:
        raise InvalidInput(NUL_MESSAGE)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type, _ = request.content_type
    if content_type != _FORM and not _is_json(content_type):
        return
    body = await request.body()  # cached: the handler reads the same bytes
    try:
        body.decode("utf-8")  # Litestar's JSON decoding fails with a 500 on invalid UTF-8
    except UnicodeDecodeError:
        raise DomainError(UTF8_MESSAGE) from None
    if b"\x00" in body or (content_type == _FORM and b"%00" in body) or (_is_json(content_type) and
                                                                          b"\\u0000" in body):
        raise InvalidInput(NUL_MESSAGE)
