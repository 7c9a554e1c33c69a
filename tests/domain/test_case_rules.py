"""The case lifecycle table: every action's happy path and every refusal, then a random walk."""

import copy
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from portal.accounts.rules import Role
from portal.cases.rules import (
    BALL_IN_COURT,
    LIFECYCLE,
    NOWHERE,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Allocation,
    CaseAction,
    CaseState,
    CaseStatus,
    Party,
    Transition,
    TransitionInput,
    allowed_actions,
    ball_in_court,
    decide_transition,
)
from portal.lib.codelists import EndReason, RejectionReason
from portal.lib.errors import IllegalTransition, InvalidInput, NotPermitted

S = CaseStatus
A = CaseAction
MAIN = 100  # the main contractor's organisation id
SUB = 7  # the assigned subcontractor
OTHER_SUB = 8
READ_ONLY = [Role.CONTRACT_MANAGER, Role.ADMIN]
# What may happen after an outcome, as the brief specifies it (an oracle, not read from the table).
TERMINAL_ACTIONS = {
    S.ENDED: [A.CLOSE, A.REOPEN],
    S.CLOSED: [A.REOPEN],
    S.REJECTED: [A.CLOSE],
    S.REFERRED_COLLECTIVE: [A.CLOSE],
    S.WITHDRAWN: [A.CLOSE],
}

# A payload that satisfies every action (refer_collective needs a named provision, which this has).
FULL = TransitionInput(
    subcontractor_id=SUB,
    reason_code="L3",
    end_reason="19",
    beschikking_issued=True,
    objection_info_given=True,
    referred_to="Buurtkamer De Linde",
    note="Toelichting",
)


def case(status: CaseStatus, subcontractor_id: int | None = None, before: CaseStatus | None = None) -> CaseState:
    return CaseState(status, subcontractor_id, before)


def coordinator(state: CaseState, action: CaseAction, payload: TransitionInput = FULL) -> Transition:
    return decide_transition(state, action, Role.COORDINATOR, MAIN, payload)


def subcontractor(state: CaseState, action: CaseAction, payload: TransitionInput = FULL, org: int = SUB):
    return decide_transition(state, action, Role.SUBCONTRACTOR, org, payload)


def without(**fields) -> TransitionInput:
    """FULL with some fields replaced (None means: not filled in)."""
    return TransitionInput(**{**FULL.__dict__, **fields})


# ---------------------------------------------------------------- labels, sets, ball in court


def test_status_labels_are_the_appendix_labels():
    assert [status.label for status in CaseStatus] == [
        "Gemeld",
        "In onderzoek",
        "Toewijzing gevraagd",
        "Geaccepteerd",
        "Op wachtlijst",
        "Levering gestart",
        "Opgeschort",
        "Beëindigd",
        "Afgesloten",
        "Afgewezen",
        "Doorverwezen naar algemene voorziening",
        "Ingetrokken",
        "Heropend",
    ]


def test_status_values_are_unchanged():
    # Stored in the database: renaming one is a migration, not a refactor.
    assert CaseStatus.ALLOCATION_REQUESTED == "allocation_requested"
    assert CaseStatus.REFERRED_COLLECTIVE == "referred_collective"
    assert len(CaseStatus) == 13


def test_every_action_has_a_label_and_a_table_row():
    assert set(LIFECYCLE) == set(CaseAction)
    assert all(action.label for action in CaseAction)
    assert CaseAction.ACCEPT.label == "Accepteren"


def test_open_and_terminal_statuses_split_all_statuses():
    assert set(CaseStatus) == OPEN_STATUSES | TERMINAL_STATUSES
    assert not OPEN_STATUSES & TERMINAL_STATUSES
    assert {S.ENDED, S.CLOSED, S.REJECTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN} == TERMINAL_STATUSES


@pytest.mark.parametrize(
    ("state", "party"),
    [
        (case(S.REGISTERED), Party.MAIN_CONTRACTOR),
        (case(S.ASSESSMENT), Party.MAIN_CONTRACTOR),
        (case(S.ALLOCATION_REQUESTED, SUB), Party.SUBCONTRACTOR),
        (case(S.ALLOCATION_REQUESTED), Party.MAIN_CONTRACTOR),  # declined: back with the coordinator
        (case(S.WAITING_LIST), Party.MAIN_CONTRACTOR),
        (case(S.ACCEPTED, SUB), Party.SUBCONTRACTOR),
        (case(S.IN_CARE, SUB), Party.SUBCONTRACTOR),
        (case(S.ON_HOLD, SUB, S.IN_CARE), Party.RESIDENT),
        (case(S.REOPENED), Party.MAIN_CONTRACTOR),
    ],
)
def test_ball_in_court_for_open_cases(state, party):
    assert ball_in_court(state) is party


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_nobody_holds_the_ball_after_an_outcome(status):
    assert ball_in_court(case(status, SUB)) is None
    assert BALL_IN_COURT[status] is None


def test_ball_in_court_covers_every_situation():
    situations = (set(CaseStatus) - {S.ALLOCATION_REQUESTED}) | set(Allocation)
    assert set(BALL_IN_COURT) == situations


def test_case_state_accepts_strings_from_the_database():
    state = CaseState("on_hold", 3, "in_care")
    assert state.status is S.ON_HOLD
    assert state.status_before_hold is S.IN_CARE


@pytest.mark.parametrize(
    ("status", "before"),
    [(S.ON_HOLD, None), (S.IN_CARE, S.ACCEPTED), (S.ON_HOLD, S.ON_HOLD)],
)
def test_an_inconsistent_case_state_is_a_bug(status, before):
    with pytest.raises(ValueError, match="Inconsistent"):
        CaseState(status, SUB, before)


# ---------------------------------------------------------------- happy paths

HAPPY = [
    # state, action, role, org, to_status, new subcontractor, new status_before_hold
    (case(S.REGISTERED), A.START_ASSESSMENT, Role.COORDINATOR, MAIN, S.ASSESSMENT, None, None),
    (case(S.REOPENED, SUB), A.START_ASSESSMENT, Role.COORDINATOR, MAIN, S.ASSESSMENT, SUB, None),
    (case(S.ASSESSMENT), A.REQUEST_ALLOCATION, Role.COORDINATOR, MAIN, S.ALLOCATION_REQUESTED, SUB, None),
    (case(S.WAITING_LIST), A.REQUEST_ALLOCATION, Role.COORDINATOR, MAIN, S.ALLOCATION_REQUESTED, SUB, None),
    (case(S.REOPENED, 3), A.REQUEST_ALLOCATION, Role.COORDINATOR, MAIN, S.ALLOCATION_REQUESTED, SUB, None),
    (
        case(S.ALLOCATION_REQUESTED),
        A.REQUEST_ALLOCATION,
        Role.COORDINATOR,
        MAIN,
        S.ALLOCATION_REQUESTED,
        SUB,
        None,
    ),
    (case(S.ASSESSMENT), A.PLACE_ON_WAITING_LIST, Role.COORDINATOR, MAIN, S.WAITING_LIST, None, None),
    (case(S.REOPENED), A.PLACE_ON_WAITING_LIST, Role.COORDINATOR, MAIN, S.WAITING_LIST, None, None),
    (
        case(S.ALLOCATION_REQUESTED),
        A.PLACE_ON_WAITING_LIST,
        Role.COORDINATOR,
        MAIN,
        S.WAITING_LIST,
        None,
        None,
    ),
    (case(S.ALLOCATION_REQUESTED, SUB), A.ACCEPT, Role.SUBCONTRACTOR, SUB, S.ACCEPTED, SUB, None),
    (
        case(S.ALLOCATION_REQUESTED, SUB),
        A.DECLINE,
        Role.SUBCONTRACTOR,
        SUB,
        S.ALLOCATION_REQUESTED,
        None,
        None,
    ),
    (case(S.ACCEPTED, SUB), A.START_CARE, Role.SUBCONTRACTOR, SUB, S.IN_CARE, SUB, None),
    (case(S.IN_CARE, SUB), A.END_CARE, Role.SUBCONTRACTOR, SUB, S.ENDED, SUB, None),
    (case(S.IN_CARE, SUB), A.END_CARE, Role.COORDINATOR, MAIN, S.ENDED, SUB, None),
    (case(S.ASSESSMENT), A.REJECT, Role.COORDINATOR, MAIN, S.REJECTED, None, None),
    (case(S.REOPENED), A.REJECT, Role.COORDINATOR, MAIN, S.REJECTED, None, None),
    (case(S.ASSESSMENT), A.REFER_COLLECTIVE, Role.COORDINATOR, MAIN, S.REFERRED_COLLECTIVE, None, None),
    (case(S.REOPENED), A.REFER_COLLECTIVE, Role.COORDINATOR, MAIN, S.REFERRED_COLLECTIVE, None, None),
    (case(S.REGISTERED), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, None, None),
    (case(S.ASSESSMENT), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, None, None),
    (case(S.ALLOCATION_REQUESTED, SUB), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, SUB, None),
    (case(S.ACCEPTED, SUB), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, SUB, None),
    (case(S.WAITING_LIST), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, None, None),
    (case(S.REOPENED), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, None, None),
    (case(S.ON_HOLD, SUB, S.ACCEPTED), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, SUB, None),
    (case(S.ON_HOLD, None, S.WAITING_LIST), A.WITHDRAW, Role.COORDINATOR, MAIN, S.WITHDRAWN, None, None),
    (case(S.ASSESSMENT), A.HOLD, Role.COORDINATOR, MAIN, S.ON_HOLD, None, S.ASSESSMENT),
    (
        case(S.ALLOCATION_REQUESTED, SUB),
        A.HOLD,
        Role.COORDINATOR,
        MAIN,
        S.ON_HOLD,
        SUB,
        S.ALLOCATION_REQUESTED,
    ),
    (case(S.WAITING_LIST), A.HOLD, Role.COORDINATOR, MAIN, S.ON_HOLD, None, S.WAITING_LIST),
    (case(S.ACCEPTED, SUB), A.HOLD, Role.COORDINATOR, MAIN, S.ON_HOLD, SUB, S.ACCEPTED),
    (case(S.ACCEPTED, SUB), A.HOLD, Role.SUBCONTRACTOR, SUB, S.ON_HOLD, SUB, S.ACCEPTED),
    (case(S.IN_CARE, SUB), A.HOLD, Role.SUBCONTRACTOR, SUB, S.ON_HOLD, SUB, S.IN_CARE),
    (case(S.ON_HOLD, None, S.ASSESSMENT), A.RESUME, Role.COORDINATOR, MAIN, S.ASSESSMENT, None, None),
    (
        case(S.ON_HOLD, SUB, S.ALLOCATION_REQUESTED),
        A.RESUME,
        Role.COORDINATOR,
        MAIN,
        S.ALLOCATION_REQUESTED,
        SUB,
        None,
    ),
    (case(S.ON_HOLD, SUB, S.IN_CARE), A.RESUME, Role.SUBCONTRACTOR, SUB, S.IN_CARE, SUB, None),
    (case(S.ON_HOLD, SUB, S.ACCEPTED), A.RESUME, Role.COORDINATOR, MAIN, S.ACCEPTED, SUB, None),
    (case(S.ENDED, SUB), A.CLOSE, Role.COORDINATOR, MAIN, S.CLOSED, SUB, None),
    (case(S.REJECTED), A.CLOSE, Role.COORDINATOR, MAIN, S.CLOSED, None, None),
    (case(S.REFERRED_COLLECTIVE), A.CLOSE, Role.COORDINATOR, MAIN, S.CLOSED, None, None),
    (case(S.WITHDRAWN), A.CLOSE, Role.COORDINATOR, MAIN, S.CLOSED, None, None),
    (case(S.CLOSED, SUB), A.REOPEN, Role.COORDINATOR, MAIN, S.REOPENED, SUB, None),
    (case(S.ENDED, SUB), A.REOPEN, Role.COORDINATOR, MAIN, S.REOPENED, SUB, None),
]


@pytest.mark.parametrize(("state", "action", "role", "org", "to_status", "new_sub", "new_before"), HAPPY)
def test_happy_path(state, action, role, org, to_status, new_sub, new_before):
    transition = decide_transition(state, action, role, org, FULL)
    assert transition.action is action
    assert transition.from_status is state.status
    assert transition.to_status is to_status
    assert transition.subcontractor_id == new_sub
    assert transition.status_before_hold is new_before
    assert transition.new_state == CaseState(to_status, new_sub, new_before)
    assert action in allowed_actions(state, role, org)  # the UI offers what the rules allow


def test_every_action_has_a_happy_path_above():
    assert {row[1] for row in HAPPY} == set(CaseAction)


def test_decline_records_the_reason_and_hands_the_ball_back():
    transition = subcontractor(case(S.ALLOCATION_REQUESTED, SUB), A.DECLINE, TransitionInput(reason_code=" l4 "))
    assert transition.reason_code is RejectionReason.OUTSIDE_EXPERTISE
    assert transition.subcontractor_id is None
    assert ball_in_court(transition.new_state) is Party.MAIN_CONTRACTOR


def test_reject_records_all_decision_fields():
    payload = TransitionInput(
        reason_code="7", beschikking_issued=False, objection_info_given=False, referred_to="  Wijkteam Noord "
    )
    transition = coordinator(case(S.ASSESSMENT), A.REJECT, payload)
    assert transition.reason_code is RejectionReason.CARE_CONTENT
    assert transition.beschikking_issued is False
    assert transition.objection_info_given is False
    assert transition.referred_to == "Wijkteam Noord"


def test_reject_can_record_that_the_resident_was_referred_nowhere():
    payload = without(referred_to=NOWHERE)
    assert coordinator(case(S.ASSESSMENT), A.REJECT, payload).referred_to is NOWHERE


def test_end_care_records_the_end_reason():
    transition = subcontractor(case(S.IN_CARE, SUB), A.END_CARE, TransitionInput(end_reason="2"))
    assert transition.end_reason is EndReason.DECEASED


def test_refer_collective_records_the_provision():
    transition = coordinator(case(S.ASSESSMENT), A.REFER_COLLECTIVE,
                             TransitionInput(referred_to="Buurtkamer", objection_info_given=True))
    assert transition.referred_to == "Buurtkamer"
    assert transition.objection_info_given is True


def test_withdraw_records_the_reason_and_whether_the_resident_was_informed():
    transition = coordinator(case(S.ASSESSMENT), A.WITHDRAW,
                             TransitionInput(reason_code=" l5 ", objection_info_given=False))
    assert (transition.reason_code, transition.objection_info_given) == (RejectionReason.UNREACHABLE, False)
    assert (transition.beschikking_issued, transition.referred_to) == (None, None)


def test_note_is_optional_and_tidied():
    withdrawn = TransitionInput(reason_code="L2", objection_info_given=True)
    assert coordinator(case(S.REGISTERED), A.WITHDRAW, withdrawn).note is None
    assert coordinator(case(S.REGISTERED), A.WITHDRAW, replace(withdrawn, note="  verhuisd ")).note == "verhuisd"
    assert coordinator(case(S.REGISTERED), A.WITHDRAW, replace(withdrawn, note="   ")).note is None


def test_hold_records_its_reason():
    assert coordinator(case(S.WAITING_LIST), A.HOLD, TransitionInput(note="Opname")).note == "Opname"


def test_fields_an_action_does_not_use_are_not_recorded():
    transition = subcontractor(case(S.ALLOCATION_REQUESTED, SUB), A.ACCEPT, FULL)
    assert (transition.reason_code, transition.end_reason, transition.referred_to) == (None, None, None)
    assert (transition.beschikking_issued, transition.objection_info_given) == (None, None)
    assert transition.note == "Toelichting"


def test_action_may_be_given_as_its_code():
    assert coordinator(case(S.REGISTERED), "start_assessment").to_status is S.ASSESSMENT


def test_payload_may_be_left_out_when_nothing_is_required():
    assert decide_transition(case(S.ACCEPTED, SUB), A.START_CARE, Role.SUBCONTRACTOR, SUB).to_status is S.IN_CARE


# ---------------------------------------------------------------- illegal transitions


def test_illegal_transition_names_status_and_action():
    with pytest.raises(IllegalTransition) as caught:
        subcontractor(case(S.CLOSED, SUB), A.ACCEPT)
    assert caught.value.message == "Een casus met status 'Afgesloten' kan niet 'Accepteren'."


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (case(S.REGISTERED), A.REQUEST_ALLOCATION),  # assess first
        (case(S.ASSESSMENT), A.START_ASSESSMENT),
        (case(S.ALLOCATION_REQUESTED, SUB), A.REQUEST_ALLOCATION),  # the assigned one must answer first
        (case(S.ALLOCATION_REQUESTED, SUB), A.PLACE_ON_WAITING_LIST),
        (case(S.IN_CARE, SUB), A.WITHDRAW),  # withdrawal only before care starts
        (case(S.ON_HOLD, SUB, S.IN_CARE), A.WITHDRAW),
        (case(S.ON_HOLD, SUB, S.IN_CARE), A.HOLD),
        (case(S.IN_CARE, SUB), A.RESUME),
        (case(S.REGISTERED), A.HOLD),
        (case(S.REGISTERED), A.REJECT),
        (case(S.WAITING_LIST), A.REJECT),
        (case(S.WAITING_LIST), A.REFER_COLLECTIVE),
        (case(S.ACCEPTED, SUB), A.END_CARE),
        (case(S.IN_CARE, SUB), A.CLOSE),
        (case(S.CLOSED), A.CLOSE),
        (case(S.REJECTED), A.REOPEN),
        (case(S.WITHDRAWN), A.WITHDRAW),
    ],
)
def test_illegal_transitions(state, action):
    with pytest.raises(IllegalTransition) as caught:
        coordinator(state, action)
    assert f"'{state.status.label}'" in caught.value.message
    assert f"'{action.label}'" in caught.value.message
    assert action not in allowed_actions(state, Role.COORDINATOR, MAIN)


@pytest.mark.parametrize("action", [A.ACCEPT, A.DECLINE])
def test_nobody_can_answer_an_allocation_request_without_a_subcontractor(action):
    with pytest.raises(IllegalTransition) as caught:
        subcontractor(case(S.ALLOCATION_REQUESTED), action)
    assert caught.value.message.endswith("Er is geen onderaannemer toegewezen.")


def test_coordinator_is_told_to_wait_for_the_answer():
    with pytest.raises(IllegalTransition) as caught:
        coordinator(case(S.ALLOCATION_REQUESTED, SUB), A.REQUEST_ALLOCATION)
    assert caught.value.message.endswith("De toegewezen onderaannemer moet eerst antwoorden.")


@pytest.mark.parametrize(("status", "expected"), list(TERMINAL_ACTIONS.items()))
def test_terminal_statuses_only_close_or_reopen(status, expected):
    assert allowed_actions(case(status, SUB), Role.COORDINATOR, MAIN) == expected
    assert allowed_actions(case(status, SUB), Role.SUBCONTRACTOR, SUB) == []


# ---------------------------------------------------------------- who may act


@pytest.mark.parametrize("role", READ_ONLY)
@pytest.mark.parametrize("action", list(CaseAction))
def test_contract_managers_and_admins_only_read(role, action):
    state = case(S.ALLOCATION_REQUESTED, SUB)
    with pytest.raises(NotPermitted) as caught:
        decide_transition(state, action, role, MAIN, FULL)
    assert "alleen leesrechten" in caught.value.message
    assert allowed_actions(state, role, MAIN) == []


@pytest.mark.parametrize(
    ("state", "action", "who"),
    [
        (case(S.REGISTERED), A.START_ASSESSMENT, "de coördinator"),
        (case(S.ASSESSMENT), A.REQUEST_ALLOCATION, "de coördinator"),
        (case(S.ASSESSMENT), A.REJECT, "de coördinator"),
        (case(S.ALLOCATION_REQUESTED, SUB), A.WITHDRAW, "de coördinator"),
        (case(S.ALLOCATION_REQUESTED, SUB), A.HOLD, "de coördinator"),  # only once it is theirs
        (case(S.ON_HOLD, SUB, S.ALLOCATION_REQUESTED), A.RESUME, "de coördinator"),
        (case(S.ENDED, SUB), A.CLOSE, "de coördinator"),
        (case(S.CLOSED, SUB), A.REOPEN, "de coördinator"),
    ],
)
def test_subcontractor_cannot_take_coordinator_steps(state, action, who):
    with pytest.raises(NotPermitted) as caught:
        subcontractor(state, action)
    assert caught.value.message == f"Alleen {who} kan '{action.label}'."


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (case(S.ALLOCATION_REQUESTED, SUB), A.ACCEPT),
        (case(S.ALLOCATION_REQUESTED, SUB), A.DECLINE),
        (case(S.ACCEPTED, SUB), A.START_CARE),
    ],
)
def test_coordinator_cannot_answer_for_the_subcontractor(state, action):
    with pytest.raises(NotPermitted) as caught:
        coordinator(state, action)
    assert caught.value.message == f"Alleen de toegewezen onderaannemer kan '{action.label}'."


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (case(S.ALLOCATION_REQUESTED, SUB), A.ACCEPT),
        (case(S.ALLOCATION_REQUESTED, SUB), A.DECLINE),
        (case(S.ACCEPTED, SUB), A.START_CARE),
        (case(S.IN_CARE, SUB), A.END_CARE),
        (case(S.IN_CARE, SUB), A.HOLD),
        (case(S.ON_HOLD, SUB, S.IN_CARE), A.RESUME),
    ],
)
@pytest.mark.parametrize("org", [OTHER_SUB, None])
def test_only_the_assigned_subcontractor(state, action, org):
    with pytest.raises(NotPermitted) as caught:
        subcontractor(state, action, org=org)
    assert caught.value.message == f"Alleen de toegewezen onderaannemer kan '{action.label}'."
    assert action not in allowed_actions(state, Role.SUBCONTRACTOR, org)


def test_read_only_is_checked_before_anything_else():
    with pytest.raises(NotPermitted) as caught:
        decide_transition(case(S.CLOSED), A.ACCEPT, Role.CONTRACT_MANAGER, MAIN, TransitionInput())
    assert caught.value.message == (
        "Een contractmanager heeft alleen leesrechten op casussen en kan de status niet wijzigen."
    )


# ---------------------------------------------------------------- payload

REQUIRED = [(action, name) for action, step in LIFECYCLE.items() for name in step.requires]
LEGAL_FROM = {
    A.REQUEST_ALLOCATION: (case(S.ASSESSMENT), Role.COORDINATOR, MAIN),
    A.DECLINE: (case(S.ALLOCATION_REQUESTED, SUB), Role.SUBCONTRACTOR, SUB),
    A.END_CARE: (case(S.IN_CARE, SUB), Role.SUBCONTRACTOR, SUB),
    A.REJECT: (case(S.ASSESSMENT), Role.COORDINATOR, MAIN),
    A.REFER_COLLECTIVE: (case(S.REOPENED), Role.COORDINATOR, MAIN),
    A.WITHDRAW: (case(S.REGISTERED), Role.COORDINATOR, MAIN),
    A.HOLD: (case(S.IN_CARE, SUB), Role.COORDINATOR, MAIN),
    A.REOPEN: (case(S.CLOSED), Role.COORDINATOR, MAIN),
}


def test_required_fields_are_the_briefed_ones():
    assert {action: LIFECYCLE[action].requires for action in LEGAL_FROM} == {
        A.REQUEST_ALLOCATION: ("subcontractor_id",),
        A.DECLINE: ("reason_code",),
        A.END_CARE: ("end_reason",),
        A.REJECT: ("reason_code", "beschikking_issued", "objection_info_given", "referred_to"),
        A.REFER_COLLECTIVE: ("referred_to", "objection_info_given"),
        A.WITHDRAW: ("reason_code", "objection_info_given"),
        A.HOLD: ("note",),
        A.REOPEN: ("note",),
    }


@pytest.mark.parametrize(("action", "name"), REQUIRED)
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_each_missing_field_is_named(action, name, blank):
    state, role, org = LEGAL_FROM[action]
    with pytest.raises(InvalidInput) as caught:
        decide_transition(state, action, role, org, without(**{name: blank}))
    assert caught.value.field == name
    assert caught.value.message  # Dutch text for the form


@pytest.mark.parametrize(
    ("action", "name", "value", "message"),
    [
        (A.REQUEST_ALLOCATION, "subcontractor_id", 0, "Kies de onderaannemer"),
        (A.REQUEST_ALLOCATION, "subcontractor_id", True, "Kies de onderaannemer"),
        (A.REQUEST_ALLOCATION, "subcontractor_id", "7", "Kies de onderaannemer"),
        (A.DECLINE, "reason_code", "X9", "Onbekende reden van afwijzing: 'X9'."),
        (A.REJECT, "reason_code", "L8", "Onbekende reden van afwijzing: 'L8'."),
        (A.END_CARE, "end_reason", "99", "Onbekende reden van beëindiging: '99'."),
        (A.REJECT, "beschikking_issued", "ja", "Geef aan of er een beschikking is afgegeven"),
        (A.REJECT, "objection_info_given", 1, "Geef aan of de inwoner is gewezen op het recht van bezwaar"),
        (A.REJECT, "referred_to", 42, "Geef aan waarnaar de inwoner is doorverwezen"),
        (A.REFER_COLLECTIVE, "referred_to", NOWHERE, "Vul in naar welke algemene voorziening"),
        (A.HOLD, "note", 5, "Vul een tekst in."),
    ],
)
def test_invalid_field_values(action, name, value, message):
    state, role, org = LEGAL_FROM[action]
    with pytest.raises(InvalidInput) as caught:
        decide_transition(state, action, role, org, without(**{name: value}))
    assert caught.value.field == name
    assert caught.value.message.startswith(message)


def test_a_missing_hold_reason_names_the_action():
    with pytest.raises(InvalidInput) as caught:
        coordinator(case(S.ASSESSMENT), A.HOLD, TransitionInput())
    assert caught.value.message == "Vul een toelichting in; die is verplicht bij 'Opschorten'."


def test_unknown_action():
    with pytest.raises(InvalidInput) as caught:
        coordinator(case(S.REGISTERED), "teleport")
    assert caught.value.field == "action"
    assert caught.value.message.startswith("Onbekende actie: 'teleport'")


def test_permission_is_checked_before_the_payload():
    # A wrong actor learns that they may not act, not which fields they forgot.
    with pytest.raises(NotPermitted):
        subcontractor(case(S.ALLOCATION_REQUESTED, SUB), A.DECLINE, TransitionInput(), org=OTHER_SUB)


# ---------------------------------------------------------------- random walk

ORGS = [MAIN, SUB, OTHER_SUB, None]
WITH_SUBCONTRACTOR = {S.ACCEPTED, S.IN_CARE}


def some(valid, invalid):
    return st.one_of(st.none(), valid, invalid)


random_payloads = st.builds(
    TransitionInput,
    subcontractor_id=some(st.sampled_from([SUB, OTHER_SUB]), st.sampled_from([0, -1, True, "7"])),
    reason_code=some(st.sampled_from(RejectionReason), st.sampled_from(["X9", "L0", " "])),
    end_reason=some(st.sampled_from(EndReason), st.sampled_from(["1", "99", ""])),
    beschikking_issued=some(st.booleans(), st.sampled_from(["ja", 0])),
    objection_info_given=some(st.booleans(), st.sampled_from(["nee", 1])),
    referred_to=some(st.sampled_from(["Wijkteam", NOWHERE]), st.sampled_from(["  ", 3])),
    note=some(st.text(min_size=1, max_size=5), st.sampled_from(["", 9])),
)


def valid_payload(action: CaseAction):
    referred = st.just("Buurtkamer") if action is A.REFER_COLLECTIVE else st.sampled_from(["Wijkteam", NOWHERE])
    return st.builds(
        TransitionInput,
        subcontractor_id=st.sampled_from([SUB, OTHER_SUB]),
        reason_code=st.sampled_from(RejectionReason),
        end_reason=st.sampled_from(EndReason),
        beschikking_issued=st.booleans(),
        objection_info_given=st.booleans(),
        referred_to=referred,
        note=st.sampled_from(["Reden", "Opname ziekenhuis"]),
    )


class CaseLifecycle(RuleBasedStateMachine):
    """One case pushed around by anyone; the event list kept here must always explain the case."""

    def __init__(self):
        super().__init__()
        self.state = CaseState(S.REGISTERED)
        self.events: list[Transition] = []
        self.successes = 0

    def record(self, transition: Transition) -> None:
        before = self.state
        assert transition.from_status is before.status
        # Facts from the design, checked independently of the table.
        if before.status in TERMINAL_STATUSES:
            assert transition.action in {A.CLOSE, A.REOPEN}
        if transition.to_status is S.CLOSED:
            assert before.status in TERMINAL_STATUSES
        if transition.to_status is S.IN_CARE:
            assert before.acting_status in {S.ACCEPTED, S.IN_CARE}  # started after acceptance, or resumed
        if transition.to_status is S.WITHDRAWN:
            assert before.acting_status not in {S.IN_CARE, *TERMINAL_STATUSES}
        if transition.action is A.REQUEST_ALLOCATION:
            assert transition.subcontractor_id in {SUB, OTHER_SUB}
        elif transition.action is A.DECLINE:
            assert transition.subcontractor_id is None  # the ball goes back to the coordinator
            assert ball_in_court(transition.new_state) is Party.MAIN_CONTRACTOR
        else:
            assert transition.subcontractor_id == before.subcontractor_id
        self.successes += 1
        self.events.append(transition)
        self.state = transition.new_state

    @rule(
        action=st.sampled_from(CaseAction),
        role=st.sampled_from(Role),
        org=st.sampled_from(ORGS),
        payload=random_payloads,
    )
    def anyone_tries_anything(self, action, role, org, payload):
        before = copy.deepcopy(self.state)
        offered = action in allowed_actions(self.state, role, org)
        try:
            transition = decide_transition(self.state, action, role, org, payload)
        except InvalidInput:
            assert offered  # only an allowed action gets as far as checking the payload
        except (IllegalTransition, NotPermitted):
            assert not offered
        else:
            assert offered
            assert role not in READ_ONLY
            self.record(transition)
            return
        assert self.state == before  # a failed action changes nothing

    @rule(data=st.data())
    def someone_entitled_acts(self, data):
        # Random actors rarely get far; this rule walks the case into every corner of the table.
        actors = [(Role.COORDINATOR, MAIN)]
        if self.state.subcontractor_id is not None:
            actors.append((Role.SUBCONTRACTOR, self.state.subcontractor_id))
        role, org = data.draw(st.sampled_from(actors))
        actions = allowed_actions(self.state, role, org)
        if not actions:
            return
        action = data.draw(st.sampled_from(actions))
        # Whatever the UI offers must succeed with a complete payload.
        self.record(decide_transition(self.state, action, role, org, data.draw(valid_payload(action))))

    @invariant()
    def status_is_a_case_status(self):
        assert isinstance(self.state.status, CaseStatus)

    @invariant()
    def no_event_is_lost(self):
        assert len(self.events) == self.successes
        replayed = CaseState(S.REGISTERED)
        for event in self.events:
            assert event.from_status is replayed.status
            replayed = event.new_state
        assert replayed == self.state

    @invariant()
    def a_case_with_the_subcontractor_has_one(self):
        if self.state.acting_status in WITH_SUBCONTRACTOR:
            assert self.state.subcontractor_id is not None

    @invariant()
    def a_held_case_remembers_where_it_was(self):
        if self.state.status is S.ON_HOLD:
            assert self.state.status_before_hold in LIFECYCLE[A.HOLD].sources
        else:
            assert self.state.status_before_hold is None

    @invariant()
    def terminal_statuses_only_close_or_reopen(self):
        if self.state.status in TERMINAL_STATUSES:
            assert ball_in_court(self.state) is None
            expected = TERMINAL_ACTIONS[self.state.status]
            assert allowed_actions(self.state, Role.COORDINATOR, MAIN) == expected
            for role in Role:
                for org in ORGS:
                    assert set(allowed_actions(self.state, role, org)) <= set(expected)
        else:
            assert ball_in_court(self.state) is not None

    @invariant()
    def read_only_roles_never_act(self):
        for role in READ_ONLY:
            for org in ORGS:
                assert allowed_actions(self.state, role, org) == []
                with pytest.raises(NotPermitted):
                    decide_transition(self.state, A.CLOSE, role, org, FULL)


CaseLifecycle.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_case_lifecycle = CaseLifecycle.TestCase
