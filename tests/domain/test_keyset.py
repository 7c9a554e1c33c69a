from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.errors import InvalidInput
from portal.lib.keyset import Cursor, decode_cursor, encode_cursor


@given(st.one_of(st.none(), st.integers(), st.text(max_size=40)), st.integers(min_value=1, max_value=2**62))
def test_cursor_round_trips(sort_value, last_id):
    assert decode_cursor(encode_cursor(sort_value, last_id)) == Cursor(sort_value, last_id)


def test_datetimes_travel_as_iso_text():
    moment = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, 7)) == Cursor("2026-11-22T09:30:00+00:00", 7)


def test_no_cursor_means_the_first_page():
    assert decode_cursor(None) is None and decode_cursor("") is None


@pytest.mark.parametrize("bad", ["%%%", "bm90IGpzb24", encode_cursor("x", 1)[:-3], "WyJ4IiwidHdlZSJd"])
def test_a_damaged_cursor_is_a_clear_error(bad):
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(bad)
    assert "paginalink is ongeldig" in raised.value.message
