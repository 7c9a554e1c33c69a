"""BSN validation and pseudonymisation. Pure: no I/O.

A case never holds a BSN: only its pseudonym, a keyed HMAC computed at the edge (the form handler or the
import), so the same resident gets the same pseudonym (re-reports can be found) while the BSN cannot be
recovered without the key. Error messages never repeat the BSN.
"""

import hashlib
import hmac
import re

from portal.lib.errors import InvalidInput

MIN_KEY_BYTES = 16
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def validate_bsn(bsn: str) -> str:
    """The normalised BSN (9 digits) or :class:`InvalidInput` with a Dutch message.

    Spaces and dots are removed; an 8-digit BSN gets a leading zero. The BSN must pass the elfproef:
    the sum of its digits times 9, 8, ..., 2 and -1 (for the last digit) is divisible by 11 and not 0.
    """
    if not isinstance(bsn, str):
        raise InvalidInput("Een BSN bestaat uit 9 cijfers.", field="bsn")
    digits = bsn.replace(" ", "").replace(".", "")
    # isascii: str.isdigit also accepts other scripts' digits and superscripts.
    if not (digits.isascii() and digits.isdigit() and len(digits) in (8, 9)):
        raise InvalidInput("Een BSN bestaat uit 9 cijfers.", field="bsn")
    digits = digits.zfill(9)
    total = sum(int(digit) * weight for digit, weight in zip(digits, _WEIGHTS, strict=True))
    if total == 0 or total % 11 != 0:
        raise InvalidInput("Dit is geen geldig BSN: het voldoet niet aan de elfproef.", field="bsn")
    return digits


def pseudonymise(bsn: str, key: bytes) -> str:
    """The pseudonym of a BSN: HMAC-SHA256 of the normalised BSN under ``key``, as 64 hex characters.

    Deterministic: the same BSN and key always give the same pseudonym. The key comes from the settings
    (the environment) and never enters the database, the logs or a job's arguments; without it a
    pseudonym cannot be linked back to a BSN by trying all BSNs.

    Raises :class:`InvalidInput` for an invalid BSN (a user error) and ``ValueError`` for a missing or
    short key (a configuration error).
    """
    if not isinstance(key, bytes | bytearray):
        raise TypeError("the pseudonym key must be bytes")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    normalised = validate_bsn(bsn)
    return hmac.new(bytes(key), normalised.encode("ascii"), hashlib.sha256).hexdigest()


# Nine digits, optionally grouped as people write them (123456782, 1234.56.782, 123 456 782), not part
# of a longer number. Case numbers (HLM-2026-000123) and dates never match: they have fewer digits per run.
_BSN_SHAPED = re.compile(r"(?<![\d.])(?:\d[ .]?){8}\d(?![\d])")

FREE_TEXT_WARNING = "Schrijf hier geen namen, adressen of BSN's: alleen wat nodig is om de hulpvraag te volgen."


def contains_bsn(text: str | None) -> bool:
    """Whether free text holds a 9-digit number that passes the elfproef (a BSN, most likely)."""
    if not text:
        return False
    for match in _BSN_SHAPED.finditer(text):
        try:
            validate_bsn(match.group())
        except InvalidInput:
            continue
        return True
    return False


def refuse_bsn_in_text(text: str | None, field: str) -> None:
    """Free text is stored and shown to others: a BSN typed into it would undo the pseudonymisation."""
    if contains_bsn(text):
        raise InvalidInput(
            "Deze tekst bevat een nummer dat op een BSN lijkt. Haal het weg voordat u opslaat: "
            "vrije tekst mag geen BSN of andere gegevens bevatten waarmee iemand te herkennen is.",
            field=field,
        )
