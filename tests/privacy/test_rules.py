"""Pure privacy rules: the pseudonym key chain and its rotation, tombstones, retention cut-offs, the access
request's input. No database."""

import hashlib
import hmac
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.errors import InvalidInput
from portal.lib.pseudonym import (
    TOMBSTONE_PREFIX,
    is_pseudonym,
    key_check,
    pseudonymise,
    rekey,
    tombstone,
)
from portal.privacy import rules

K1, K2, K3 = b"a" * 32, b"b" * 32, b"c" * 32
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


@st.composite
def valid_bsns(draw):
    first = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    check = sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11
    if check == 10 or (first + str(check)) == "000000000":
        return "123456782"
    return first + str(check)


def test_one_key_is_the_plain_hmac_of_before():
    """Existing pseudonyms (made before rotation existed) stay valid: a chain of one key is HMAC(k, bsn)."""
    assert pseudonymise("111222333", K1) == hmac.new(K1, b"111222333", hashlib.sha256).hexdigest()
    assert pseudonymise("111222333", [K1]) == pseudonymise("111222333", K1)


@given(valid_bsns())
def test_rekeying_a_stored_pseudonym_equals_pseudonymising_through_the_longer_chain(bsn):
    stored = pseudonymise(bsn, K1)
    assert rekey(stored, K2) == pseudonymise(bsn, [K1, K2])
    assert rekey(rekey(stored, K2), K3) == pseudonymise(bsn, [K1, K2, K3])
    # the old key alone, or the new key alone, no longer maps the BSN to the stored value
    assert pseudonymise(bsn, K1) != pseudonymise(bsn, [K1, K2])
    assert pseudonymise(bsn, K2) != pseudonymise(bsn, [K1, K2])
    assert is_pseudonym(pseudonymise(bsn, [K1, K2]))


def test_key_check_tells_chains_apart_and_follows_a_rotation():
    assert key_check([K1]) == key_check(K1)
    assert key_check([K1, K2]) == rekey(key_check([K1]), K2)
    assert len({key_check([K1]), key_check([K2]), key_check([K1, K2]), key_check([K2, K1])}) == 4
    # it is no pseudonym of any BSN: the check text is not nine digits
    assert key_check(K1) != pseudonymise("111222333", K1)


def test_keys_are_checked():
    with pytest.raises(ValueError):
        pseudonymise("111222333", [])
    with pytest.raises(ValueError):
        pseudonymise("111222333", [K1, b"short"])
    with pytest.raises(ValueError):
        rekey("not a pseudonym", K2)


def test_tombstones_are_random_and_never_pseudonyms():
    first, second = tombstone(), tombstone()
    assert first != second and first.startswith(TOMBSTONE_PREFIX) and len(first) <= 64
    assert not is_pseudonym(first) and is_pseudonym(pseudonymise("111222333", K1))


@pytest.mark.parametrize(("today", "years", "cutoff"), [
    (date(2041, 6, 15), 15, date(2026, 6, 15)),
    (date(2044, 2, 29), 15, date(2029, 2, 28)),
    (date(2044, 2, 29), 4, date(2040, 2, 29)),
    (date(2026, 1, 1), 1, date(2025, 1, 1)),
])
def test_retention_cutoff(today, years, cutoff):
    assert rules.retention_cutoff(today, years) == cutoff


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.integers(0, 100))
def test_retention_cutoff_is_years_back_and_monotone(today, years):
    cutoff = rules.retention_cutoff(today, years)
    assert cutoff.year == today.year - years
    assert cutoff <= today
    assert rules.retention_cutoff(today, years + 1) < cutoff or years == 100


def test_the_default_term_is_the_named_constant():
    from portal.contracts.tables import Contract

    assert rules.WMO_RETENTION_YEARS == 15 == Contract.retention_years.default


@pytest.mark.parametrize(("text", "years"), [("15", 15), (" 20 ", 20), ("1", 1)])
def test_retention_years_parse(text, years):
    assert rules.parse_retention_years(text) == years


@pytest.mark.parametrize("text", ["", "0", "abc", "-3", "15,5", "999", "１５"])
def test_retention_years_refused_in_dutch(text):
    with pytest.raises(InvalidInput) as error:
        rules.parse_retention_years(text)
    assert error.value.field == "jaren" and ("jaar" in error.value.message or "jaren" in error.value.message)


def test_access_request_normalises_the_bsn_and_never_shows_it():
    request = rules.parse_access_request(" 111.222.333 ", "  Verzoek   2026-17 ")
    assert request.bsn == "111222333" and request.purpose == "Verzoek 2026-17"
    assert "111222333" not in repr(request) and "111222333" not in str(request)


@pytest.mark.parametrize(("bsn", "purpose", "field"), [
    ("", "Verzoek 1", "bsn"),
    ("123456789", "Verzoek 1", "bsn"),
    ("12345", "Verzoek 1", "bsn"),
    ("111222333", "", "kenmerk"),
    ("111222333", "x" * 201, "kenmerk"),
    ("111222333", "voor 123456782", "kenmerk"),
])
def test_access_request_errors_are_dutch_and_never_repeat_the_number(bsn, purpose, field):
    with pytest.raises(InvalidInput) as error:
        rules.parse_access_request(bsn, purpose)
    assert error.value.field == field
    assert "123456789" not in error.value.message and "123456782" not in error.value.message
    if bsn == "123456789":
        assert "elfproef" in error.value.message
