"""BSN validation and pseudonymisation. Pure: no I/O.

A case never holds a BSN: only its pseudonym, a keyed HMAC computed at the edge (the form handler or the
import), so the same resident gets the same pseudonym (re-reports can be found) while the BSN cannot be
recovered without the key. Error messages never repeat the BSN.

Key rotation ("re-keying by keyed hashing of the old pseudonym"). A pseudonym is a chain of HMACs:

    p1 = HMAC(k1, bsn);  p2 = HMAC(k2, p1);  ...;  pn = HMAC(kn, p(n-1))

The database stores only ``pn``. The BSN is never stored, so a rotation cannot recompute ``HMAC(k_new, bsn)``;
instead it replaces every stored ``p`` by ``HMAC(k_new, p)`` (:func:`rekey`) in one transaction, and from then on
a BSN is pseudonymised through the whole chain of keys, oldest first (:func:`pseudonymise` with a sequence of
keys). So a resident is still found by BSN after a rotation, while the old key alone (or any leaked older chain)
no longer maps a BSN to anything in the database: an attacker needs every key of the chain, including the newest.
All keys of the chain stay secret and stay in the settings (``PORTAL_PSEUDONYM_PREVIOUS_KEYS`` and
``PORTAL_PSEUDONYM_KEY``); none ever enters the database. :func:`key_check` gives a one-way check value of a chain
(HMAC chain over a fixed non-BSN text), stored in the database to refuse a rotation or a start with the wrong keys.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

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


Keys = bytes | bytearray | Sequence[bytes]


def _key_chain(key: Keys) -> tuple[bytes, ...]:
    keys = (key,) if isinstance(key, bytes | bytearray) else tuple(key)
    if not keys:
        raise ValueError("the pseudonym key chain is empty")
    for item in keys:
        if not isinstance(item, bytes | bytearray):
            raise TypeError("the pseudonym key must be bytes")
        if len(item) < MIN_KEY_BYTES:
            raise ValueError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    return tuple(bytes(item) for item in keys)


def rekey(pseudonym: str, new_key: bytes) -> str:
    """One more layer on a stored pseudonym: ``HMAC(new_key, pseudonym)``, 64 hex characters (key rotation)."""
    (key,) = _key_chain(new_key)
    if not is_pseudonym(pseudonym):
        raise ValueError("not a pseudonym (64 hex characters)")
    return hmac.new(key, pseudonym.encode("ascii"), hashlib.sha256).hexdigest()


def pseudonymise(bsn: str, key: Keys) -> str:
    """The pseudonym of a BSN: HMAC-SHA256 of the normalised BSN under ``key``, as 64 hex characters.

    ``key`` is one key, or the chain of keys after rotations (oldest first): the BSN's HMAC under the first key
    is re-keyed with each later one (:func:`rekey`), which is exactly what a rotation did to the stored values.

    Deterministic: the same BSN and key always give the same pseudonym. The key comes from the settings
    (the environment) and never enters the database, the logs or a job's arguments; without it a
    pseudonym cannot be linked back to a BSN by trying all BSNs.

    Raises :class:`InvalidInput` for an invalid BSN (a user error) and ``ValueError`` for a missing or
    short key (a configuration error).
    """
    keys = _key_chain(key)
    normalised = validate_bsn(bsn)
    value = hmac.new(keys[0], normalised.encode("ascii"), hashlib.sha256).hexdigest()
    for later in keys[1:]:
        value = rekey(value, later)
    return value


_KEY_CHECK_TEXT = b"inzicht:pseudonym-key-check"  # not nine digits: never the HMAC input of a BSN


def key_check(key: Keys) -> str:
    """A one-way check value of a key chain, stored in the database so that a rotation or a start with the
    wrong keys is refused. It is the chain applied to a fixed text that is no BSN, so it says nothing about
    any resident and cannot be used to test BSNs."""
    keys = _key_chain(key)
    value = hmac.new(keys[0], _KEY_CHECK_TEXT, hashlib.sha256).hexdigest()
    for later in keys[1:]:
        value = rekey(value, later)
    return value


_PSEUDONYM = re.compile(r"[0-9a-f]{64}")
TOMBSTONE_PREFIX = "vervallen-"


def is_pseudonym(value: str | None) -> bool:
    """A stored pseudonym (64 lowercase hex characters), as opposed to a retention tombstone."""
    return bool(value) and _PSEUDONYM.fullmatch(value) is not None


def tombstone() -> str:
    """A random stand-in for the pseudonym of a case whose retention term has passed: it links to no BSN and
    to no other case, so the resident can no longer be re-identified (and a rotation leaves it alone)."""
    return TOMBSTONE_PREFIX + secrets.token_hex(24)


# Nine digits, optionally grouped as people write them (123456782, 1234.56.782, 123 456 782), not part
# of a longer number. Case numbers (HLM-2026-000123) and dates never match: they have fewer digits per run.
_BSN_SHAPED = re.compile(r"(?<![\d.])(?:\d[ .]?){8}\d(?![\d])")

FREE_TEXT_WARNING = "Schrijf hier geen namen, adressen of BSN's: alleen wat nodig is om de hulpvraag te volgen."
BSN_IN_TEXT_MESSAGE = ("Deze tekst bevat een nummer dat op een BSN lijkt. Haal het weg voordat u opslaat: "
                       "vrije tekst mag geen BSN of andere gegevens bevatten waarmee iemand te herkennen is.")


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
        raise InvalidInput(BSN_IN_TEXT_MESSAGE, field=field)
