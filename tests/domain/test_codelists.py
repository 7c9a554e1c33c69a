"""The code lists of DESIGN.md appendix A: codes, labels, tolerant parsing, Dutch errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.lib.codelists import (
    CodeList,
    DeliveryForm,
    Domain,
    EndReason,
    Frequency,
    ProductCategory,
    ProvisionType,
    RejectionReason,
    Unit,
    Urgency,
)
from portal.lib.errors import InvalidInput

ALL_LISTS = [
    ProductCategory,
    RejectionReason,
    EndReason,
    Unit,
    Frequency,
    DeliveryForm,
    Domain,
    ProvisionType,
    Urgency,
]

# The codes exactly as appendix A (and the brief) lists them; a renumbering breaks stored data.
EXPECTED_CODES = {
    ProductCategory: [f"{n:02d}" for n in range(1, 19)],
    RejectionReason: [str(n) for n in range(1, 10)] + [f"L{n}" for n in range(1, 8)],
    EndReason: ["02", "19", "20", "21", "22", "23", "31", "36", "37", "38", "39"],
    Unit: ["01", "04", "14", "16", "82", "83", "84"],
    Frequency: ["1", "2", "4", "6"],
    DeliveryForm: ["ZIN", "PGB"],
    Domain: ["wmo", "jeugd"],
    ProvisionType: ["individual", "collective"],
    Urgency: ["normal", "high", "crisis"],
}


@pytest.mark.parametrize("code_list", ALL_LISTS, ids=lambda c: c.__name__)
def test_codes_are_the_documented_ones(code_list):
    assert [member.value for member in code_list] == EXPECTED_CODES[code_list]


@pytest.mark.parametrize(
    ("member", "label"),
    [
        (ProductCategory.HOUSEHOLD_HELP, "Hulp bij het huishouden"),
        (ProductCategory.OTHER_SHELTERED_HOUSING_AND_SHELTER, "Overige beschermd wonen en opvang"),
        (RejectionReason.CARE_CONTENT, "Zorginhoudelijke afkeur"),
        (RejectionReason.NO_CAPACITY, "Geen capaciteit"),
        (RejectionReason.OTHER_LAW, "Andere wet (Wlz, Zvw, Jeugdwet)"),
        (EndReason.AS_PLANNED, "Volgens plan beëindigd"),
        (Unit.HOUR, "uur"),
        (Unit.PIECES_OUTPUT, "stuks"),
        (Frequency.TOTAL, "totaal binnen geldigheid"),
        (DeliveryForm.PERSONAL_BUDGET, "Persoonsgebonden budget"),
        (Domain.YOUTH, "Jeugd"),
        (ProvisionType.INDIVIDUAL, "Maatwerkvoorziening"),
        (ProvisionType.COLLECTIVE, "Algemene voorziening"),
        (Urgency.CRISIS, "Crisis"),
    ],
)
def test_labels_are_dutch(member, label):
    assert member.label == label


@pytest.mark.parametrize("code_list", ALL_LISTS, ids=lambda c: c.__name__)
def test_every_member_has_a_label_and_is_a_plain_string_code(code_list):
    for member in code_list:
        assert member.label.strip()
        assert member == member.value  # StrEnum: stores and compares as its code
        assert str(member) == member.value


def test_members_are_reachable_by_value():
    assert ProductCategory("07") is ProductCategory.DAY_ACTIVITIES
    assert RejectionReason("L4") is RejectionReason.OUTSIDE_EXPERTISE


@pytest.mark.parametrize(
    ("code_list", "text", "expected"),
    [
        (ProductCategory, "02", ProductCategory.GUIDANCE),
        (ProductCategory, "2", ProductCategory.GUIDANCE),  # leading zero dropped by a spreadsheet
        (ProductCategory, "  15 ", ProductCategory.SHELTERED_HOUSING),
        (EndReason, "2", EndReason.DECEASED),
        (Unit, "1", Unit.MINUTE),
        (Unit, "4", Unit.HOUR),
        (Unit, "84", Unit.PIECES_OUTPUT),
        (RejectionReason, "7", RejectionReason.CARE_CONTENT),
        (RejectionReason, " l3", RejectionReason.NO_CAPACITY),
        (RejectionReason, "L4\n", RejectionReason.OUTSIDE_EXPERTISE),
        (Frequency, "6", Frequency.TOTAL),
        (DeliveryForm, "zin", DeliveryForm.IN_KIND),
        (Domain, "Jeugd", Domain.YOUTH),
        (ProvisionType, "collective", ProvisionType.COLLECTIVE),
        (Urgency, " high ", Urgency.HIGH),
    ],
)
def test_parse_is_tolerant(code_list, text, expected):
    assert code_list.parse(text) is expected


def test_parse_returns_a_member_unchanged():
    assert EndReason.parse(EndReason.MOVED) is EndReason.MOVED


@pytest.mark.parametrize(
    ("code_list", "text"),
    [
        (RejectionReason, "01"),  # an extra zero is not a dropped zero
        (RejectionReason, "L8"),
        (RejectionReason, "10"),
        (ProductCategory, "19"),
        (ProductCategory, "001"),
        (EndReason, "1"),
        (Unit, "83 euro"),
        (Frequency, "3"),
        (DeliveryForm, "Z I N"),
        (Domain, "zvw"),
        (Urgency, ""),
    ],
)
def test_parse_rejects_unknown_codes(code_list, text):
    with pytest.raises(InvalidInput):
        code_list.parse(text)


def test_unknown_rejection_reason_message_names_list_and_value():
    with pytest.raises(InvalidInput) as caught:
        RejectionReason.parse("X9")
    assert caught.value.message == (
        "Onbekende reden van afwijzing: 'X9'. Kies een code uit WJ759 (1-9) of een lokale code (L1-L7)."
    )
    assert caught.value.field is None


@pytest.mark.parametrize(
    ("code_list", "message"),
    [
        (ProductCategory, "Onbekende productcategorie: '99'. Kies een code uit WMO020 (01-18)."),
        (
            EndReason,
            "Onbekende reden van beëindiging: '99'. Kies een code uit WMO588 (02, 19-23, 31, 36-39).",
        ),
        (Unit, "Onbekende eenheid: '99'. Kies een code uit WJ756 (01, 04, 14, 16, 82, 83, 84)."),
        (Frequency, "Onbekende frequentie: '99'. Kies een code uit WMO757 (1, 2, 4, 6)."),
        (DeliveryForm, "Onbekende leveringsvorm: '99'. Kies ZIN of PGB."),
        (Domain, "Onbekend domein: '99'. Kies wmo of jeugd."),
        (Urgency, "Onbekende urgentie: '99'. Kies normal, high of crisis."),
    ],
)
def test_unknown_code_messages_are_specific(code_list, message):
    with pytest.raises(InvalidInput) as caught:
        code_list.parse(" 99 ")  # the message shows the value without the stray whitespace
    assert caught.value.message == message


def test_parse_sets_the_field_for_the_form():
    with pytest.raises(InvalidInput) as caught:
        EndReason.parse("abc", field="end_reason")
    assert caught.value.field == "end_reason"
    assert "'abc'" in caught.value.message


@pytest.mark.parametrize("value", [None, 7, 1.0, ["01"]])
def test_parse_rejects_non_text(value):
    with pytest.raises(InvalidInput) as caught:
        ProductCategory.parse(value)
    assert caught.value.message.startswith("Onbekende productcategorie: ")


def test_an_ambiguous_padded_code_is_refused_but_an_exact_code_wins():
    class Sample(CodeList, unknown="Onbekend voorbeeld"):
        ONE = "01", "een"
        OLD_ONE = "001", "oud een"

    assert Sample.parse("01") is Sample.ONE
    assert Sample.parse("001") is Sample.OLD_ONE
    with pytest.raises(InvalidInput) as caught:
        Sample.parse("1")  # "01" or "001": refuse to guess
    assert caught.value.message == "Onbekend voorbeeld: '1'."


def test_choices_are_code_and_label_in_table_order():
    assert Unit.choices() == [
        ("01", "01 - minuut"),
        ("04", "04 - uur"),
        ("14", "14 - etmaal"),
        ("16", "16 - dagdeel"),
        ("82", "82 - stuks"),
        ("83", "83 - euro"),
        ("84", "84 - stuks"),
    ]
    assert DeliveryForm.choices() == [
        ("ZIN", "ZIN - Zorg in natura"),
        ("PGB", "PGB - Persoonsgebonden budget"),
    ]


members = st.sampled_from([member for code_list in ALL_LISTS for member in code_list])
padding = st.text(alphabet=" \t\n", max_size=3)


@given(member=members, left=padding, right=padding)
def test_every_code_parses_back_to_its_member(member, left, right):
    assert type(member).parse(f"{left}{member.value}{right}") is member
    assert type(member).parse(member.value.lower()) is member


@given(member=members)
def test_dropping_leading_zeros_still_finds_the_member(member):
    stripped = member.value.lstrip("0")
    if member.value.isdigit() and stripped:
        assert type(member).parse(stripped) is member


@given(code_list=st.sampled_from(ALL_LISTS), text=st.text(max_size=6))
def test_parse_returns_a_matching_member_or_raises_invalid_input(code_list, text):
    try:
        member = code_list.parse(text)
    except InvalidInput as error:
        assert error.message.startswith(code_list._unknown)
    else:
        typed = text.strip().casefold()
        assert member.value.casefold() == typed or member.value == typed.zfill(len(member.value))
