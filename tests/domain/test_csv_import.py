import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.csv_import import read_csv
from portal.lib.errors import InvalidInput


def test_dutch_excel_semicolons_with_byte_order_mark():
    data = "\ufeffZaaknummer;Actie;Toelichting\nHLM-1;accept;\nHLM-2;decline;Geen plek, helaas\n".encode()
    rows = read_csv(data, required=("zaaknummer", "actie"), optional=("toelichting",))
    assert [(row.line, row.values) for row in rows] == [
        (2, {"zaaknummer": "HLM-1", "actie": "accept", "toelichting": ""}),
        (3, {"zaaknummer": "HLM-2", "actie": "decline", "toelichting": "Geen plek, helaas"}),
    ]


def test_commas_and_quoted_newlines():
    data = b'zaaknummer,toelichting\nHLM-1,"twee\nregels"\nHLM-2,x\n'
    rows = read_csv(data, required=("zaaknummer",), optional=("toelichting",))
    assert [row.values["toelichting"] for row in rows] == ["twee\nregels", "x"]
    assert [row.line for row in rows] == [3, 4]  # the line where the row ends, as csv counts


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "leeg"),
        ("zaaknummer\n\xe9".encode("latin-1"), "UTF-8"),
        (b"actie\nx\n", "Kolommen ontbreken in de kopregel: zaaknummer"),
        (b"zaaknummer;bsn\n1;2\n", "Onbekende kolommen in de kopregel: bsn"),
        (b"zaaknummer;actie\n1;2;3\n", "Regel 2: 3 velden"),
    ],
)
def test_structural_problems_are_named(data, message):
    with pytest.raises(InvalidInput) as raised:
        read_csv(data, required=("zaaknummer",), optional=("actie",))
    assert message in raised.value.message


def test_too_many_rows_is_refused():
    data = b"zaaknummer\n" + b"x\n" * 11
    with pytest.raises(InvalidInput, match="meer dan 10 regels"):
        read_csv(data, required=("zaaknummer",), max_rows=10)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    try:
        rows = read_csv(data, required=("zaaknummer",), optional=("actie", "toelichting"))
    except InvalidInput as error:
        assert error.message
    else:
        assert all(set(row.values) <= {"zaaknummer", "actie", "toelichting"} for row in rows)
