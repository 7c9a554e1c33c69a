import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.errors import InvalidInput
from portal.lib.pseudonym import contains_bsn, pseudonymise, refuse_bsn_in_text, validate_bsn

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
HEX64 = re.compile(r"[0-9a-f]{64}")


def passes_elfproef(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True))
    return total != 0 and total % 11 == 0


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@st.composite
def valid_bsns(draw):
    """A valid BSN: eight random digits and the check digit that makes the elfproef pass."""
    first = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    check = sum(int(d) * w for d, w in zip(first, WEIGHTS[:8], strict=True)) % 11
    bsn = first + str(check % 10)
    if check == 10 or not passes_elfproef(bsn):
        bsn = "123456782"
    return bsn


@pytest.mark.parametrize("bsn", ["111222333", "123456782"])
def test_known_valid_bsns(bsn):
    assert validate_bsn(bsn) == bsn


def test_spaces_and_dots_are_removed_and_eight_digits_get_a_leading_zero():
    assert validate_bsn("111.222.333") == "111222333"
    assert validate_bsn(" 1112 22 333 ") == "111222333"
    assert validate_bsn("11222335") == "011222335"


@pytest.mark.parametrize("bsn", ["111222334", "123456789", "000000000", "000000012", "999999999"])
def test_elfproef_failures(bsn):
    with pytest.raises(InvalidInput) as error:
        validate_bsn(bsn)
    assert error.value.message == "Dit is geen geldig BSN: het voldoet niet aan de elfproef."
    assert bsn not in error.value.message
    assert error.value.field == "bsn"


@pytest.mark.parametrize(
    "bsn", ["", "1234567", "1234567890", "12345678a", "111-222-333", "١١١٢٢٢٣٣٣", "¹¹¹²²²³³³"]
)
def test_wrong_shape(bsn):
    with pytest.raises(InvalidInput) as error:
        validate_bsn(bsn)
    assert error.value.message == "Een BSN bestaat uit 9 cijfers."


def test_pseudonym_is_deterministic_and_keyed():
    first = pseudonymise("111222333", KEY)
    assert first == pseudonymise("111 222 333", KEY)
    assert HEX64.fullmatch(first)
    assert first != pseudonymise("111222333", OTHER_KEY)
    assert first != pseudonymise("123456782", KEY)
    assert "111222333" not in first


def test_pseudonym_known_value():
    # HMAC-SHA256 of the normalised BSN: fixed so a silent change of algorithm breaks this test.
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"011222335", hashlib.sha256).hexdigest()
    assert pseudonymise("11222335", KEY) == expected


@pytest.mark.parametrize("key", [b"", b"x" * 15])
def test_short_key_is_a_configuration_error(key):
    with pytest.raises(ValueError):
        pseudonymise("111222333", key)


def test_sixteen_byte_key_is_enough():
    assert HEX64.fullmatch(pseudonymise("111222333", b"x" * 16))


def test_invalid_bsn_is_refused_before_hashing():
    with pytest.raises(InvalidInput):
        pseudonymise("111222334", KEY)


@given(nine_digits)
def test_every_nine_digit_string_is_pseudonymised_iff_it_passes_the_elfproef(digits):
    if passes_elfproef(digits):
        assert HEX64.fullmatch(pseudonymise(digits, KEY))
    else:
        with pytest.raises(InvalidInput) as error:
            pseudonymise(digits, KEY)
        assert digits not in error.value.message


@given(valid_bsns())
def test_valid_bsns_give_a_hex_pseudonym(bsn):
    assert validate_bsn(bsn) == bsn
    assert HEX64.fullmatch(pseudonymise(bsn, KEY))


@given(valid_bsns(), st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=9))
def test_changing_one_digit_makes_it_invalid_or_another_pseudonym(bsn, position, delta):
    digit = (int(bsn[position]) + delta) % 10
    changed = bsn[:position] + str(digit) + bsn[position + 1 :]
    assert changed != bsn
    try:
        other = pseudonymise(changed, KEY)
    except InvalidInput:
        return
    assert other != pseudonymise(bsn, KEY)


# --- BSN-shaped numbers in free text ---------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Inwoner met BSN 111222333 belde",
    "bsn: 1112.22.333",
    "123 456 782 is het nummer",
    "123456782",
])
def test_a_bsn_in_free_text_is_found(text):
    assert contains_bsn(text)
    with pytest.raises(InvalidInput) as raised:
        refuse_bsn_in_text(text, "note")
    assert raised.value.field == "note" and "BSN" in raised.value.message
    assert "111222333" not in raised.value.message and "123456782" not in raised.value.message


@pytest.mark.parametrize("text", [
    None, "", "Casus HLM-2026-000123 besproken op 22-11-2026",
    "Telefoon 0612345678",  # ten digits
    "Bedrag 123456789 euro",  # nine digits that fail the elfproef
    "Nummer 1234567820",  # a valid BSN inside a longer number is not a BSN
])
def test_ordinary_text_passes(text):
    assert not contains_bsn(text)
    refuse_bsn_in_text(text, "note")


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=200))
def test_text_without_digits_never_matches(text):
    assert not contains_bsn(text)
