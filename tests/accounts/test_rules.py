"""The authorization policy, the lock-out rule and the audit hash chain as pure functions."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.accounts import policy
from portal.accounts.auth import safe_next
from portal.accounts.policy import CaseFacts, CaseView, ContractFacts, ReportFacts
from portal.accounts.rules import (
    GENESIS_HASH,
    LOCKOUT,
    MAX_FAILED_LOGINS,
    Actor,
    FailureState,
    OrganisationKind,
    Role,
    after_failed_login,
    audit_entry_hash,
    check_role_fits_organisation,
    find_chain_break,
    is_locked,
)
from portal.lib.errors import InvalidInput, NotFound, NotPermitted
from portal.lib.formatting import parse_date

ORG_IDS = st.integers(min_value=1, max_value=6)
KIND_OF_ROLE = {
    Role.CONTRACT_MANAGER: OrganisationKind.MUNICIPALITY,
    Role.COORDINATOR: OrganisationKind.MAIN_CONTRACTOR,
    Role.SUBCONTRACTOR: OrganisationKind.SUBCONTRACTOR,
    Role.ADMIN: OrganisationKind.PLATFORM,
}


def make_actor(role: Role, organisation_id: int) -> Actor:
    return Actor(user_id=100 + organisation_id, organisation_id=organisation_id,
                 organisation_kind=KIND_OF_ROLE[role], role=role, display_name="Iemand", email="iemand@example.nl")


actors = st.builds(make_actor, st.sampled_from(list(Role)), ORG_IDS)
contracts = st.builds(ContractFacts, contract_id=st.integers(1, 3), municipality_id=ORG_IDS,
                      main_contractor_id=st.one_of(st.none(), ORG_IDS))
cases = st.builds(CaseFacts, contract=contracts, current_subcontractor_id=st.one_of(st.none(), ORG_IDS),
                  allocated_to=st.frozensets(ORG_IDS, max_size=3))


@given(actors, cases)
def test_case_view_follows_the_ownership_rules(actor, case):
    view = policy.case_view(actor, case)
    org = actor.organisation_id
    if actor.role is Role.SUBCONTRACTOR:
        allowed = org == case.current_subcontractor_id or org in case.allocated_to
        assert view is (CaseView.FULL if allowed else CaseView.NONE)
    elif actor.role is Role.COORDINATOR:
        coordinating = case.contract.main_contractor_id or case.contract.municipality_id
        assert view is (CaseView.FULL if org == coordinating else CaseView.NONE)
    elif actor.role is Role.CONTRACT_MANAGER:
        assert view is (CaseView.PSEUDONYMISED if org == case.contract.municipality_id else CaseView.NONE)
    else:
        assert view is CaseView.NONE


@given(actors, cases)
def test_only_those_who_see_a_case_in_full_may_change_it(actor, case):
    if policy.can_change_case(actor, case):
        assert policy.case_view(actor, case) is CaseView.FULL
        assert actor.role in (Role.COORDINATOR, Role.SUBCONTRACTOR)


@given(actors, cases)
def test_authorize_case_read_answers_403_for_the_role_and_404_for_the_object(actor, case):
    if actor.role is Role.ADMIN:
        with pytest.raises(NotPermitted):
            policy.authorize_case_read(actor, case)
    elif policy.case_view(actor, case) is CaseView.NONE:
        with pytest.raises(NotFound) as raised:
            policy.authorize_case_read(actor, case)
        assert "bestaat niet, of u heeft er geen toegang toe" in raised.value.message
    else:
        assert policy.authorize_case_read(actor, case) is policy.case_view(actor, case)


@given(actors)
def test_a_missing_case_looks_exactly_like_a_hidden_one(actor):
    expected = NotPermitted if actor.role is Role.ADMIN else NotFound
    with pytest.raises(expected):
        policy.authorize_case_read(actor, None)


def test_a_contract_manager_may_see_but_not_act():
    contract = ContractFacts(1, municipality_id=1, main_contractor_id=2)
    case = CaseFacts(contract, current_subcontractor_id=3, allocated_to=frozenset({3}))
    with pytest.raises(NotPermitted):
        policy.authorize_case_change(make_actor(Role.CONTRACT_MANAGER, 1), case)
    with pytest.raises(NotFound):
        policy.authorize_case_change(make_actor(Role.CONTRACT_MANAGER, 9), case)
    policy.authorize_case_change(make_actor(Role.SUBCONTRACTOR, 3), case)
    policy.authorize_case_change(make_actor(Role.COORDINATOR, 2), case)


def test_the_municipality_coordinates_a_contract_without_main_contractor():
    zaltbommel = ContractFacts(1, municipality_id=1, main_contractor_id=None)
    case = CaseFacts(zaltbommel, current_subcontractor_id=None)
    assert policy.case_view(make_actor(Role.COORDINATOR, 1), case) is CaseView.FULL
    assert policy.case_view(make_actor(Role.CONTRACT_MANAGER, 1), case) is CaseView.PSEUDONYMISED
    with_main = ContractFacts(2, municipality_id=1, main_contractor_id=2)
    assert policy.case_view(make_actor(Role.COORDINATOR, 1), CaseFacts(with_main, None)) is CaseView.NONE


def test_a_former_subcontractor_keeps_seeing_the_case_it_was_allocated():
    contract = ContractFacts(1, municipality_id=1, main_contractor_id=2)
    declined = CaseFacts(contract, current_subcontractor_id=4, allocated_to=frozenset({3, 4}))
    assert policy.case_view(make_actor(Role.SUBCONTRACTOR, 3), declined) is CaseView.FULL
    assert policy.case_view(make_actor(Role.SUBCONTRACTOR, 5), declined) is CaseView.NONE


@given(st.dictionaries(st.sampled_from(["pseudonym", "note", "status", "actor_name", "referred_to", "id"]),
                       st.text(max_size=5)))
def test_the_pseudonymised_view_drops_identifying_fields(row):
    case = policy.redact_case(CaseView.PSEUDONYMISED, row)
    event = policy.redact_event(CaseView.PSEUDONYMISED, row)
    assert "pseudonym" not in case
    assert not {"note", "actor_name", "referred_to"} & event.keys()
    assert policy.redact_case(CaseView.FULL, row) == row
    assert case.get("status") == row.get("status")


@given(actors, contracts, ORG_IDS)
def test_reports_are_read_by_their_writer_and_the_contract_parties(actor, contract, writer):
    report = ReportFacts(contract, organisation_id=writer)
    readable = policy.can_read_report(actor, report)
    if actor.role is Role.SUBCONTRACTOR:
        assert readable is (actor.organisation_id == writer)
    elif actor.role is Role.ADMIN:
        assert readable is False
    if policy.can_change_report(actor, report):
        assert actor.organisation_id == writer and readable


@given(actors, contracts)
def test_audit_and_aggregates_belong_to_the_contract_manager_and_coordinator(actor, contract):
    if policy.can_read_audit(actor, contract):
        assert actor.role is Role.CONTRACT_MANAGER and actor.organisation_id == contract.municipality_id
    if policy.can_read_contract_aggregates(actor, contract):
        assert actor.role in (Role.CONTRACT_MANAGER, Role.COORDINATOR)
    assert policy.can_manage_accounts(actor) is (actor.role is Role.ADMIN)


def test_roles_must_fit_the_organisation_kind():
    check_role_fits_organisation(Role.COORDINATOR, OrganisationKind.MUNICIPALITY)  # Zaltbommel
    with pytest.raises(InvalidInput) as raised:
        check_role_fits_organisation(Role.CONTRACT_MANAGER, OrganisationKind.SUBCONTRACTOR)
    assert raised.value.field == "role"
    with pytest.raises(InvalidInput):
        check_role_fits_organisation(Role.SUBCONTRACTOR, OrganisationKind.MAIN_CONTRACTOR)


# --- lock-out -------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=12))
def test_the_fifth_failure_in_a_row_locks_for_fifteen_minutes(failures):
    state = FailureState(0, None)
    for _ in range(failures):
        state = after_failed_login(state, NOW)
    assert is_locked(state.locked_until, NOW) is (failures >= MAX_FAILED_LOGINS)
    if failures >= MAX_FAILED_LOGINS:
        assert state.locked_until == NOW + LOCKOUT  # failures during the lock do not extend it
        assert not is_locked(state.locked_until, NOW + LOCKOUT)
    else:
        assert state.failed_logins == failures


def test_a_lock_that_ran_out_starts_counting_again():
    state = FailureState(0, NOW - timedelta(seconds=1))
    assert after_failed_login(state, NOW) == FailureState(1, None)


# --- audit hash chain -----------------------------------------------------------------------------


def _chain(count: int) -> list[dict]:
    entries, prev = [], GENESIS_HASH
    for number in range(1, count + 1):
        entry = {"id": number, "occurred_at": NOW + timedelta(minutes=number), "user": number % 3, "organisation": 1,
                 "on_behalf_of": None, "role": "coordinator", "action": "read", "object_type": "case",
                 "object_id": str(number), "contract_id": 1, "purpose": "uitvoering", "result": "ok",
                 "origin": "203.0.113.7", "old_values": None, "new_values": '{"b": 1, "a": [1, 2]}'}
        entry["prev_hash"] = prev
        entry["entry_hash"] = prev = audit_entry_hash(entry, prev)
        entries.append(entry)
    return entries


def test_an_intact_chain_has_no_break():
    assert find_chain_break(_chain(6)) is None


def test_the_hash_ignores_json_formatting_and_timezone_notation():
    entry = _chain(1)[0]
    reformatted = {**entry, "new_values": '{"a":[1,2],"b":1}',
                   "occurred_at": entry["occurred_at"].astimezone(datetime.now().astimezone().tzinfo)}
    assert audit_entry_hash(reformatted, GENESIS_HASH) == entry["entry_hash"]


@given(st.integers(0, 5), st.sampled_from(["purpose", "user", "result", "occurred_at", "new_values", "origin"]))
def test_any_edit_is_found_at_the_edited_entry(index, field):
    entries = _chain(6)
    original = entries[index][field]
    entries[index][field] = original + timedelta(seconds=1) if isinstance(original, datetime) else "anders"
    broken = find_chain_break(entries)
    assert broken is not None and broken.entry_id == index + 1
    assert "gewijzigd" in broken.reason


@given(st.integers(0, 4))
def test_a_deleted_entry_breaks_the_link_of_the_next(index):
    entries = _chain(6)
    del entries[index]
    broken = find_chain_break(entries)
    assert broken is not None and broken.entry_id == index + 2
    assert "vorige regel" in broken.reason


@given(st.integers(0, 4))
def test_swapped_entries_are_found(index):
    entries = _chain(6)
    entries[index], entries[index + 1] = entries[index + 1], entries[index]
    broken = find_chain_break(entries)
    assert broken is not None and broken.entry_id == entries[index]["id"]


# --- small helpers used by the web layer ----------------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [
    ("/casussen/4", "/casussen/4"), ("https://evil.example/", "/"), ("//evil.example", "/"), (None, "/"),
    ("/\\evil.example", "/"),
])
def test_only_local_paths_follow_a_login(target, expected):
    assert safe_next(target) == expected


def test_dates_are_typed_in_dutch_format():
    assert parse_date("05-05-2026") == date(2026, 5, 5)
    assert parse_date("5/5/2026") == date(2026, 5, 5)
    assert parse_date("  ") is None
    with pytest.raises(InvalidInput) as raised:
        parse_date("2026-05-05", field="van")
    assert "dd-mm-jjjj" in raised.value.message and raised.value.field == "van"
