"""Signal rules: every rule at its boundary, the dedup keys, the outlier method, the signal lifecycle,
and hypothesis properties (stalled iff over the norm, monotone escalation, idempotence, order invariance)."""

import random
from dataclasses import replace
from datetime import date, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.accounts.rules import Role
from portal.cases.clocks import CaseDates, ClockState, StatusChange, compute_clocks
from portal.cases.rules import CaseAction, CaseStatus, Party
from portal.lib.calendar_nl import add_working_days, working_days_between
from portal.lib.codelists import EndReason, ProvisionType, RejectionReason
from portal.lib.errors import IllegalTransition, InvalidInput, NotPermitted
from portal.signals.rules import (
    AUTO_CLOSE_REASONS,
    BALL_HOLDER,
    DEFAULT_STATUS_NORMS,
    EVENT_RULES,
    RULES,
    SCAN_RULES,
    SIGNAL_LIFECYCLE,
    CaseClocks,
    CaseFacts,
    EventFacts,
    MissingReport,
    Severity,
    SignalAction,
    SignalRule,
    SignalStatus,
    StalledCandidate,
    Trigger,
    allowed_signal_actions,
    auto_close_reason,
    ball_for_signal,
    bounced_key,
    closed_without_outcome_key,
    decide_signal_transition,
    deterministic_draw,
    effective_norms,
    escalation_level,
    find_outliers,
    is_overdue,
    legal_term_key,
    legal_term_signals,
    outlier_key,
    outlier_signals,
    raised_key,
    raised_signal,
    re_report_key,
    rejected_without_decision_key,
    rejection_review_key,
    report_overdue_key,
    report_overdue_signals,
    savings_behind_key,
    savings_behind_signal,
    signals_for_event,
    stalled_key,
    stalled_signals,
)

S, A, R = CaseStatus, CaseAction, SignalRule
SS, SA = SignalStatus, SignalAction
MONDAY = date(2026, 9, 7)  # no holidays in the weeks after
CONTRACT = 1
SUB = 7


# --- the rules table -------------------------------------------------------------------------------


def test_rules_table_covers_every_rule_with_the_triggers_of_the_brief():
    assert set(RULES) == set(SignalRule)
    assert {
        R.REJECTED_WITHOUT_DECISION, R.REJECTION_REVIEW, R.BOUNCED, R.RE_REPORT, R.CLOSED_WITHOUT_OUTCOME, R.RAISED,
    } == EVENT_RULES
    assert {R.STALLED, R.LEGAL_TERM_EXCEEDED, R.REPORT_OVERDUE, R.OUTLIER, R.SAVINGS_BEHIND} == SCAN_RULES
    assert all(RULES[rule].trigger is Trigger.EVENT for rule in EVENT_RULES)


def test_rules_table_owners_terms_and_reasons():
    assert RULES[R.STALLED].owner is BALL_HOLDER
    assert RULES[R.REJECTED_WITHOUT_DECISION].owner is Party.MAIN_CONTRACTOR
    assert RULES[R.REJECTION_REVIEW].owner is Party.MUNICIPALITY
    assert RULES[R.RAISED].owner is Party.MUNICIPALITY
    assert RULES[R.LEGAL_TERM_EXCEEDED].severity is Severity.HIGH
    for rule, spec in RULES.items():
        assert spec.response_days >= 1, rule
        assert spec.why.strip() and spec.why.endswith("."), rule
        assert rule.label and rule.label != rule.value
    assert RULES[R.STALLED].response_days == 5


def test_severity_labels_are_dutch():
    assert [(s.value, s.label) for s in Severity] == [("low", "Laag"), ("medium", "Middel"), ("high", "Hoog")]
    assert Severity.parse(" HIGH ") is Severity.HIGH
    with pytest.raises(InvalidInput):
        Severity.parse("urgent")


def test_every_scan_rule_and_only_those_can_close_automatically():
    assert set(AUTO_CLOSE_REASONS) == SCAN_RULES


# --- norms -----------------------------------------------------------------------------------------


def test_default_norms_are_those_of_the_brief():
    assert DEFAULT_STATUS_NORMS == {
        S.REGISTERED: 5, S.ASSESSMENT: 30, S.ALLOCATION_REQUESTED: 5, S.ACCEPTED: 10,
        S.WAITING_LIST: 40, S.ON_HOLD: 20, S.REOPENED: 10,
    }
    assert effective_norms({}) == DEFAULT_STATUS_NORMS
    assert effective_norms(None) == DEFAULT_STATUS_NORMS


def test_a_contract_overrides_one_norm_and_keeps_the_others():
    norms = effective_norms({"assessment": 20, " In_Care ": 200})
    assert norms[S.ASSESSMENT] == 20
    assert norms[S.IN_CARE] == 200
    assert norms[S.WAITING_LIST] == 40
    assert DEFAULT_STATUS_NORMS[S.ASSESSMENT] == 30  # the defaults are not changed


@pytest.mark.parametrize("days", [0, -3, True, 2.5, "5", None, 1001])
def test_a_norm_must_be_a_positive_whole_number(days):
    with pytest.raises(InvalidInput) as error:
        effective_norms({"assessment": days})
    assert "werkdagen" in error.value.message
    assert error.value.field == "max_working_days"


def test_a_norm_needs_a_known_open_status():
    with pytest.raises(InvalidInput, match="Onbekende status"):
        effective_norms({"sleeping": 5})
    with pytest.raises(InvalidInput, match="Afgesloten"):
        effective_norms({"closed": 5})


# --- dedup keys ------------------------------------------------------------------------------------


def test_dedup_keys_have_the_documented_shapes():
    uuid = UUID("12345678-1234-5678-1234-567812345678")
    assert stalled_key(12, S.ASSESSMENT, date(2026, 9, 7)) == "stalled:case:12:assessment:2026-09-07"
    assert legal_term_key(12, "assessment") == "legal_term_exceeded:case:12:assessment"
    assert rejected_without_decision_key(12) == "rejected_without_decision:case:12"
    assert rejection_review_key(12) == "rejection_review:case:12"
    assert bounced_key(12) == "bounced:case:12"
    assert re_report_key(12) == "re_report:case:12"
    assert closed_without_outcome_key(12) == "closed_without_outcome:case:12"
    assert report_overdue_key(3, 7) == "report_overdue:report:3:7"
    assert outlier_key(1, 7, "rejection_rate", "2026-K1") == "outlier:1:7:rejection_rate:2026-K1"
    assert savings_behind_key(1, 2026) == "savings_behind:1:2026"
    assert raised_key(uuid) == raised_key(str(uuid)) == f"raised:{uuid}"


def test_a_new_stay_in_a_status_is_a_new_key():
    first = stalled_key(12, "assessment", date(2026, 9, 7))
    assert stalled_key(12, S.ASSESSMENT, date(2026, 9, 7)) == first  # a string status is the same status
    assert stalled_key(12, S.ASSESSMENT, date(2026, 10, 1)) != first
    assert stalled_key(12, S.WAITING_LIST, date(2026, 9, 7)) != first
    assert stalled_key(13, S.ASSESSMENT, date(2026, 9, 7)) != first


@given(st.text(min_size=0, max_size=400), st.text(min_size=0, max_size=400))
def test_keys_are_stable_and_at_most_200_characters(metric, period):
    key = outlier_key(1, 7, metric, period)
    assert len(key) <= 200
    assert key == outlier_key(1, 7, metric, period)
    assert key.startswith("outlier:1:7:")


def test_long_keys_stay_distinct():
    a = outlier_key(1, 7, "x" * 300, "2026-K1")
    b = outlier_key(1, 7, "x" * 300, "2026-K2")
    assert len(a) == len(b) == 200
    assert a != b


# --- event-driven rules ----------------------------------------------------------------------------

TODAY = date(2026, 9, 10)


def facts(**changes) -> CaseFacts:
    base = CaseFacts(
        case_id=42, contract_id=CONTRACT, status=S.REJECTED, status_since=TODAY, subcontractor_id=None,
        decline_count=0, pseudonym_previous_closed_on=None, melding_date=date(2026, 8, 1), end_reason=None,
    )
    return replace(base, **changes)


def rejection(**changes) -> EventFacts:
    base = EventFacts(
        action=A.REJECT, from_status=S.ASSESSMENT, reason_code=RejectionReason.NO_CAPACITY,
        beschikking_issued=True, objection_info_given=True, provision_type=ProvisionType.INDIVIDUAL,
    )
    return replace(base, **changes)


def fire(case: CaseFacts, event: EventFacts, *, pct: float = 0, draw: float = 0.5) -> dict[SignalRule, object]:
    drafts = signals_for_event(case, event, today=TODAY, rejection_sample_pct=pct, sample_draw=draw)
    assert len({d.dedup_key for d in drafts}) == len(drafts)
    return {draft.rule: draft for draft in drafts}


def test_a_proper_rejection_raises_nothing():
    assert fire(facts(), rejection()) == {}


@pytest.mark.parametrize(
    ("beschikking", "objection", "missing"),
    [
        (False, True, "zonder beschikking"),
        (True, False, "zonder informatie over het recht van bezwaar"),
        (False, False, "zonder beschikking en zonder informatie"),
    ],
)
def test_rejected_without_decision(beschikking, objection, missing):
    drafts = fire(facts(), rejection(beschikking_issued=beschikking, objection_info_given=objection))
    draft = drafts[R.REJECTED_WITHOUT_DECISION]
    assert missing in draft.title or missing in draft.detail
    assert "10-09-2026" in draft.detail and "L3 - Geen capaciteit" in draft.detail
    assert draft.owner_party is Party.MAIN_CONTRACTOR
    assert draft.severity is Severity.HIGH
    assert draft.dedup_key == "rejected_without_decision:case:42"
    assert draft.case_id == 42 and draft.contract_id == CONTRACT
    assert draft.response_due == add_working_days(TODAY, 5) == date(2026, 9, 17)


def test_a_collective_provision_needs_no_beschikking():
    event = rejection(beschikking_issued=False, objection_info_given=False, provision_type="collective")
    assert R.REJECTED_WITHOUT_DECISION not in fire(facts(), event)


def test_only_a_rejection_can_lack_a_decision():
    event = rejection(action=A.REFER_COLLECTIVE, beschikking_issued=False, objection_info_given=False)
    assert fire(facts(status=S.REFERRED_COLLECTIVE), event) == {}


def test_rejection_review_takes_the_sample_below_the_percentage():
    assert R.REJECTION_REVIEW in fire(facts(), rejection(), pct=10, draw=0.0999)
    assert R.REJECTION_REVIEW not in fire(facts(), rejection(), pct=10, draw=0.1)
    assert R.REJECTION_REVIEW not in fire(facts(), rejection(), pct=0, draw=0.0)
    draft = fire(facts(), rejection(), pct=100, draw=0.9999)[R.REJECTION_REVIEW]
    assert draft.owner_party is Party.MUNICIPALITY
    assert draft.dedup_key == "rejection_review:case:42"
    assert "100%" in draft.detail


def test_rejection_review_is_only_for_rejections():
    decline = EventFacts(action=A.DECLINE, reason_code="L3")
    assert R.REJECTION_REVIEW not in fire(facts(status=S.ALLOCATION_REQUESTED), decline, pct=100, draw=0.0)


@pytest.mark.parametrize("pct", [-1, 100.5, True])
def test_the_sample_percentage_is_checked(pct):
    with pytest.raises(InvalidInput):
        signals_for_event(facts(), rejection(), today=TODAY, rejection_sample_pct=pct, sample_draw=0.5)


def test_the_draw_must_be_in_the_unit_interval():
    with pytest.raises(ValueError):
        signals_for_event(facts(), rejection(), today=TODAY, rejection_sample_pct=10, sample_draw=1.0)


def test_deterministic_draw_is_stable_and_spread():
    assert deterministic_draw(42) == deterministic_draw(42)
    draws = [deterministic_draw(case_id) for case_id in range(1, 20_001)]
    assert all(0 <= d < 1 for d in draws)
    assert len(set(draws)) == len(draws)
    share = sum(d < 0.1 for d in draws) / len(draws)
    assert 0.09 < share < 0.11  # a 10% sample draws about 10% of the cases


def test_bounced_from_the_second_decline():
    decline = EventFacts(action=A.DECLINE, reason_code="L4")
    waiting = facts(status=S.ALLOCATION_REQUESTED)
    assert R.BOUNCED not in fire(replace(waiting, decline_count=1), decline)
    second = fire(replace(waiting, decline_count=2), decline)[R.BOUNCED]
    third = fire(replace(waiting, decline_count=3), decline)[R.BOUNCED]
    assert second.severity is Severity.MEDIUM and third.severity is Severity.HIGH
    assert second.dedup_key == third.dedup_key == "bounced:case:42"  # one signal per case, upserted
    assert "2 keer" in second.detail and "L4 - Buiten expertise" in second.detail
    # A count of 2 only matters on a decline.
    assert R.BOUNCED not in fire(replace(waiting, decline_count=2), EventFacts(action=A.REQUEST_ALLOCATION))


def test_re_report_within_90_days_of_a_closed_case():
    melding = date(2026, 9, 10)
    new_case = EventFacts(action=None)

    def case(closed_on):
        return facts(status=S.REGISTERED, melding_date=melding, pseudonym_previous_closed_on=closed_on)

    draft = fire(case(melding - timedelta(days=90)), new_case)[R.RE_REPORT]
    assert draft.dedup_key == "re_report:case:42"
    assert "90 dagen" in draft.detail and "12-06-2026" in draft.detail and "10-09-2026" in draft.detail
    assert R.RE_REPORT in fire(case(melding), new_case)
    assert R.RE_REPORT not in fire(case(melding - timedelta(days=91)), new_case)
    assert R.RE_REPORT not in fire(case(None), new_case)
    assert R.RE_REPORT not in fire(case(melding + timedelta(days=1)), new_case)  # closed after the melding
    # Only when the case is new, not on a later event of it.
    assert R.RE_REPORT not in fire(case(melding), EventFacts(action=A.START_ASSESSMENT))


def test_closed_without_outcome():
    end = EventFacts(action=A.END_CARE, from_status=S.IN_CARE)
    close = EventFacts(action=A.CLOSE, from_status=S.ENDED)
    draft = fire(facts(status=S.ENDED), end)[R.CLOSED_WITHOUT_OUTCOME]
    assert "beëindigd" in draft.title and draft.dedup_key == "closed_without_outcome:case:42"
    assert R.CLOSED_WITHOUT_OUTCOME not in fire(facts(status=S.ENDED, end_reason="19"), end)
    assert R.CLOSED_WITHOUT_OUTCOME in fire(facts(status=S.CLOSED), close)
    assert R.CLOSED_WITHOUT_OUTCOME not in fire(facts(status=S.CLOSED, end_reason=EndReason.MOVED), close)
    assert R.CLOSED_WITHOUT_OUTCOME in fire(facts(status=S.CLOSED), EventFacts(action=A.CLOSE))  # outcome unknown
    for outcome in (S.REJECTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN):
        assert fire(facts(status=S.CLOSED), EventFacts(action=A.CLOSE, from_status=outcome)) == {}


def test_event_facts_parse_plain_strings_from_the_database():
    event = EventFacts(action="reject", reason_code="l3", provision_type="individual", from_status="assessment")
    assert event.action is A.REJECT and event.reason_code is RejectionReason.NO_CAPACITY
    assert event.from_status is S.ASSESSMENT
    with pytest.raises(InvalidInput):
        EventFacts(action="reject", provision_type="both")


def test_raised_goes_to_the_municipality():
    uuid = "12345678-1234-5678-1234-567812345678"
    draft = raised_signal(uuid, contract_id=CONTRACT, title="  Wachtlijst loopt op ", detail="Zie toelichting.",
                          today=TODAY, subcontractor_id=SUB)
    assert draft.owner_party is Party.MUNICIPALITY and draft.rule is R.RAISED
    assert draft.title == "Wachtlijst loopt op" and draft.dedup_key == f"raised:{uuid}"
    with pytest.raises(InvalidInput):
        raised_signal(uuid, contract_id=CONTRACT, title="  ", detail="x", today=TODAY)
    with pytest.raises(InvalidInput):
        raised_signal(uuid, contract_id=CONTRACT, title="t", detail="", today=TODAY)


# --- stalled ---------------------------------------------------------------------------------------

NORMS = {S.REGISTERED: 5, S.ASSESSMENT: 30}


def candidate(status=S.REGISTERED, since=MONDAY, ball=Party.MAIN_CONTRACTOR, sub=None, case_id=42):
    return StalledCandidate(case_id, CONTRACT, status, since, sub, ball)


def stalled_on(today, **kwargs):
    return stalled_signals([candidate(**kwargs)], NORMS, today)


def test_stalled_fires_only_after_the_norm():
    assert working_days_between(MONDAY, date(2026, 9, 14)) == 5
    assert stalled_on(date(2026, 9, 14)) == []  # exactly the norm: on time
    [draft] = stalled_on(date(2026, 9, 15))
    assert draft.rule is R.STALLED and draft.escalation_level == 1 and draft.severity is Severity.LOW
    assert draft.dedup_key == "stalled:case:42:registered:2026-09-07"
    assert "07-09-2026" in draft.detail and "6 werkdagen" in draft.detail and "norm 5" in draft.detail


def test_stalled_escalates_at_two_and_three_times_the_norm():
    def level(today):
        [draft] = stalled_on(today)
        return draft.escalation_level, draft.severity

    assert level(add_working_days(MONDAY, 9)) == (1, Severity.LOW)
    assert level(add_working_days(MONDAY, 10)) == (2, Severity.MEDIUM)
    assert level(add_working_days(MONDAY, 14)) == (2, Severity.MEDIUM)
    assert level(add_working_days(MONDAY, 15)) == (3, Severity.HIGH)
    assert level(add_working_days(MONDAY, 60)) == (3, Severity.HIGH)


def test_stalled_counts_working_days_not_calendar_days():
    # 21-12-2026 to 28-12-2026: a week, but Christmas and Boxing Day and a weekend leave 4 working days.
    assert stalled_on(date(2026, 12, 28), since=date(2026, 12, 21)) == []
    assert len(stalled_on(date(2026, 12, 30), since=date(2026, 12, 21))) == 1


def test_stalled_skips_statuses_without_a_norm():
    assert stalled_on(date(2027, 9, 1), status=S.IN_CARE, ball=Party.SUBCONTRACTOR, sub=SUB) == []


def test_stalled_owner_is_whoever_holds_the_ball():
    late = date(2026, 9, 30)
    [with_sub] = stalled_on(late, ball=Party.SUBCONTRACTOR, sub=SUB)
    assert with_sub.owner_party is Party.SUBCONTRACTOR and with_sub.subcontractor_id == SUB
    [resident] = stalled_on(late, ball=Party.RESIDENT)
    assert resident.owner_party is Party.MAIN_CONTRACTOR  # a resident cannot answer a signal
    [no_sub] = stalled_on(late, ball=Party.SUBCONTRACTOR, sub=None)
    assert no_sub.owner_party is Party.MAIN_CONTRACTOR
    [municipality] = stalled_on(late, ball=Party.MUNICIPALITY)
    assert municipality.owner_party is Party.MUNICIPALITY


def test_escalation_level_boundaries():
    assert [escalation_level(r) for r in (0, 0.5, 1, 1.0001, 1.9999, 2, 2.9999, 3, 10)] == [0, 0, 0, 1, 1, 2, 2, 3, 3]


@given(
    norm=st.integers(min_value=1, max_value=60),
    offset=st.integers(min_value=0, max_value=400),
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
)
def test_stalled_fires_iff_working_days_exceed_the_norm(norm, offset, start):
    today = start + timedelta(days=offset)
    days = working_days_between(start, today)
    drafts = stalled_signals([candidate(status=S.ASSESSMENT, since=start)], {S.ASSESSMENT: norm}, today)
    assert (len(drafts) == 1) == (days > norm)
    if drafts:
        assert drafts[0].escalation_level == escalation_level(days / norm) >= 1


@given(st.lists(st.fractions(min_value=0, max_value=50), min_size=2, max_size=10))
def test_escalation_is_monotone_in_lateness(ratios):
    levels = [escalation_level(r) for r in sorted(ratios)]
    assert levels == sorted(levels)
    assert all(0 <= level <= 3 for level in levels)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10_000),
            st.sampled_from(sorted(DEFAULT_STATUS_NORMS)),
            st.integers(min_value=0, max_value=300),
            st.sampled_from(list(Party) + [None]),
        ),
        max_size=20,
    )
)
def test_the_same_scan_twice_gives_the_same_drafts(rows):
    today = date(2026, 9, 30)
    cases = [candidate(status=st_, since=today - timedelta(days=ago), ball=ball, case_id=cid)
             for cid, st_, ago, ball in rows]
    first = stalled_signals(cases, DEFAULT_STATUS_NORMS, today)
    assert first == stalled_signals(list(cases), DEFAULT_STATUS_NORMS, today)
    assert all(len(d.dedup_key) <= 200 for d in first)


@given(
    decline_count=st.integers(min_value=0, max_value=5),
    beschikking=st.booleans(),
    objection=st.booleans(),
    action=st.sampled_from(list(CaseAction) + [None]),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_the_same_event_twice_gives_the_same_drafts(decline_count, beschikking, objection, action, draw):
    case = facts(decline_count=decline_count, pseudonym_previous_closed_on=date(2026, 7, 1))
    event = EventFacts(action=action, beschikking_issued=beschikking, objection_info_given=objection)
    run = lambda: signals_for_event(case, event, today=TODAY, rejection_sample_pct=25, sample_draw=draw)  # noqa: E731
    assert run() == run()


# --- legal terms -----------------------------------------------------------------------------------

MELDING = date(2024, 3, 4)  # the assessment term ends on Monday 15-04-2024


def assessment_clocks(today):
    history = [StatusChange(MELDING, S.REGISTERED), StatusChange(date(2024, 3, 5), S.ASSESSMENT)]
    return CaseClocks(42, CONTRACT, None, tuple(compute_clocks(CaseDates(MELDING), history, today)))


def test_legal_term_fires_the_day_after_the_deadline():
    assert legal_term_signals([assessment_clocks(date(2024, 4, 15))], date(2024, 4, 15)) == []
    [draft] = legal_term_signals([assessment_clocks(date(2024, 4, 16))], date(2024, 4, 16))
    assert draft.dedup_key == "legal_term_exceeded:case:42:assessment"
    assert draft.severity is Severity.HIGH and draft.owner_party is Party.MAIN_CONTRACTOR
    assert "15-04-2024" in draft.detail and "16-04-2024" in draft.detail and "Wmo 2015 art. 2.3.2" in draft.detail


def test_legal_term_covers_the_decision_clock_but_not_objection_or_allocation():
    def exceeded(code):
        return ClockState(code, code, "basis", date(2024, 1, 1), date(2024, 1, 15), None, False, -3,
                          date(2024, 1, 16), None, "kalenderdagen")

    clocks = CaseClocks(42, CONTRACT, SUB, tuple(exceeded(c) for c in ("decision", "objection", "allocation_answer")))
    drafts = legal_term_signals([clocks], date(2024, 1, 18))
    assert [d.dedup_key for d in drafts] == ["legal_term_exceeded:case:42:decision"]
    assert drafts[0].subcontractor_id == SUB


def test_a_late_stopped_clock_stays_a_breach():
    history = [StatusChange(MELDING, S.REGISTERED), StatusChange(date(2024, 3, 5), S.ASSESSMENT),
               StatusChange(date(2024, 4, 18), S.WAITING_LIST)]
    clocks = compute_clocks(CaseDates(MELDING), history, date(2024, 5, 1))
    [draft] = legal_term_signals([CaseClocks(42, CONTRACT, None, tuple(clocks))], date(2024, 5, 1))
    assert "Afgerond op 18-04-2024, 3 dagen te laat" in draft.detail


# --- report overdue --------------------------------------------------------------------------------


def test_report_overdue_from_the_day_after_the_deadline():
    deadline = date(2026, 10, 15)
    sub = MissingReport(CONTRACT, 9, "2026 K3", SUB, Party.SUBCONTRACTOR, deadline, report_id=55)
    main = MissingReport(CONTRACT, 9, "2026 K3", 100, "main_contractor", deadline)
    assert report_overdue_signals([sub, main], deadline) == []
    drafts = report_overdue_signals([sub, main], deadline + timedelta(days=1))
    assert [(d.dedup_key, d.owner_party, d.subcontractor_id) for d in drafts] == [
        ("report_overdue:report:9:7", Party.SUBCONTRACTOR, SUB),
        ("report_overdue:report:9:100", Party.MAIN_CONTRACTOR, None),
    ]
    assert drafts[0].report_id == 55 and "15-10-2026" in drafts[0].detail and "2026 K3" in drafts[0].title


# --- outliers --------------------------------------------------------------------------------------


def outliers(figures, **kwargs):
    return {d.subcontractor_id: d for d in outlier_signals(
        figures, "rejection_rate", contract_id=CONTRACT, period="2026-K1", today=TODAY, **kwargs)}


PEERS = {1: (10, 50), 2: (11, 50), 3: (9, 50), 4: (10, 50)}  # about 20%


def test_a_clear_outlier_is_flagged_and_only_it():
    drafts = outliers(PEERS | {5: (30, 50)})  # 60% against about 20%
    assert set(drafts) == {5}
    draft = drafts[5]
    assert draft.dedup_key == "outlier:1:5:rejection_rate:2026-K1"
    assert draft.owner_party is Party.MAIN_CONTRACTOR and draft.case_id is None
    assert "60,0%" in draft.detail and "30 van 50" in draft.detail and "20,0%" in draft.detail
    assert "4 andere" in draft.detail and "hoger" in draft.detail


def test_a_figure_far_below_the_peers_is_flagged_too():
    drafts = outliers(PEERS | {5: (0, 50)})
    assert set(drafts) == {5} and "lager" in drafts[5].detail


def test_a_small_volume_subcontractor_is_never_flagged_nor_a_peer():
    assert outliers(PEERS | {5: (19, 19)}) == {}  # 100%, but only 19 requests
    assert outliers(PEERS | {5: (20, 20)}).keys() == {5}  # at the minimum volume it counts
    # Three peers plus a tiny one: the tiny one does not make up the minimum of 3 peers.
    assert outliers({1: (10, 50), 2: (10, 50), 3: (40, 50), 4: (0, 5)}) == {}


def test_identical_peers_use_the_minimum_difference():
    same = {1: (10, 50), 2: (10, 50), 3: (10, 50), 4: (10, 50)}  # all exactly 20%, standard deviation 0
    assert outliers(same | {5: (17, 50)}) == {}  # 34%: 14 points, not enough
    assert outliers(same | {5: (35, 100)}).keys() == {5}  # 35%: exactly 15 points
    assert outliers(same) == {}


def test_fewer_than_three_peers_give_no_signal():
    assert outliers({1: (10, 50), 2: (10, 50), 3: (50, 50)}) == {}


def test_the_spread_of_the_peers_counts():
    # Peers at 10% and 30% alternately: mean 20%, standard deviation 10 points.
    spread = {1: (5, 50), 2: (15, 50), 3: (5, 50), 4: (15, 50), 5: (5, 50), 6: (15, 50)}
    assert outliers(spread | {7: (19, 50)}) == {}  # 38%: 18 points above, more than 15 but less than 2 std
    assert outliers(spread | {7: (19, 50)}, z=1.5).keys() == {7}
    assert outliers(spread | {7: (21, 50)}).keys() == {7}  # 42%: 22 points, more than 2 std


def test_other_metrics_use_their_own_minimum():
    days = {1: (500, 50), 2: (500, 50), 3: (500, 50)}  # 10 days each
    drafts = outlier_signals(days | {4: (950, 50)}, "waiting_days", contract_id=1, period="P", today=TODAY)
    assert drafts == []  # 19 days: 9 days more, the minimum is 10
    drafts = outlier_signals(days | {4: (1000, 50)}, "waiting_days", contract_id=1, period="P", today=TODAY)
    assert [d.subcontractor_id for d in drafts] == [4] and "20,0 dagen" in drafts[0].detail
    with pytest.raises(InvalidInput):
        outlier_signals(days, "happiness", contract_id=1, period="P", today=TODAY)


figures_strategy = st.dictionaries(
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=0, max_value=80).flatmap(
        lambda den: st.tuples(st.integers(min_value=0, max_value=den), st.just(den))
    ),
    max_size=12,
)


@given(figures_strategy, st.randoms(use_true_random=False))
def test_outliers_do_not_depend_on_the_order_of_subcontractors(figures, rnd: random.Random):
    items = list(figures.items())
    rnd.shuffle(items)
    assert outliers(figures) == outliers(dict(items))
    assert find_outliers(figures) == find_outliers(dict(items))


@given(figures_strategy)
def test_outliers_have_volume_and_peers(figures):
    flagged = find_outliers(figures)
    eligible = [sub for sub, (_, den) in figures.items() if den >= 20]
    for found in flagged:
        assert figures[found.subcontractor_id][1] >= 20
        assert found.peers == len(eligible) - 1 >= 3
        assert abs(found.difference) >= 0.15


# --- savings ---------------------------------------------------------------------------------------


def savings(target, actual, tolerance):
    return savings_behind_signal(CONTRACT, 2026, target, actual, tolerance, today=TODAY)


def test_savings_behind_at_the_tolerance_boundary():
    target = 190_000_000  # EUR 1.900.000,00
    assert savings(target, 171_000_000, 10) is None  # exactly 10% behind: within the tolerance
    draft = savings(target, 170_999_999, 10)
    assert draft.dedup_key == "savings_behind:1:2026" and draft.severity is Severity.HIGH
    assert "EUR 1.900.000,00" in draft.detail and "EUR 1.709.999,99" in draft.detail
    assert "EUR 190.000,01" in draft.detail and "10,0%" in draft.detail
    assert savings(target, 200_000_000, 10) is None  # ahead
    assert savings(1000, 975, 2.5) is None and savings(1000, 974, 2.5) is not None
    assert savings(target, target - 1, 0) is not None  # no tolerance: any shortfall


@pytest.mark.parametrize(("target", "actual", "tolerance"), [(100.0, 50, 10), (100, 50, 101), (100, 50, -1)])
def test_savings_inputs_are_checked(target, actual, tolerance):
    with pytest.raises(InvalidInput):
        savings(target, actual, tolerance)


# --- the signal lifecycle --------------------------------------------------------------------------

OWNER_SUB = dict(actor_role=Role.SUBCONTRACTOR, actor_is_owner=True, actor_is_municipality=False)
OWNER_COORD = dict(actor_role=Role.COORDINATOR, actor_is_owner=True, actor_is_municipality=False)
OTHER_SUB = dict(actor_role=Role.SUBCONTRACTOR, actor_is_owner=False, actor_is_municipality=False)
MUNI = dict(actor_role=Role.CONTRACT_MANAGER, actor_is_owner=False, actor_is_municipality=True)
SYSTEM = dict(actor_role=None, actor_is_owner=False, actor_is_municipality=False)
ADMIN = dict(actor_role=Role.ADMIN, actor_is_owner=True, actor_is_municipality=True)

# The oracle, written from the brief, not read from the table: (from, action, actor) -> to.
ALLOWED = [
    (SS.OPEN, SA.ACKNOWLEDGE, OWNER_SUB, SS.ACKNOWLEDGED),
    (SS.OPEN, SA.ACKNOWLEDGE, OWNER_COORD, SS.ACKNOWLEDGED),
    (SS.OPEN, SA.ESCALATE, OWNER_SUB, SS.ESCALATED),
    (SS.OPEN, SA.ESCALATE, OWNER_COORD, SS.ESCALATED),
    (SS.OPEN, SA.ESCALATE, MUNI, SS.ESCALATED),
    (SS.ACKNOWLEDGED, SA.ESCALATE, OWNER_COORD, SS.ESCALATED),
    (SS.ACKNOWLEDGED, SA.ESCALATE, MUNI, SS.ESCALATED),
    (SS.OPEN, SA.RESOLVE, MUNI, SS.RESOLVED),
    (SS.ACKNOWLEDGED, SA.RESOLVE, MUNI, SS.RESOLVED),
    (SS.ESCALATED, SA.RESOLVE, MUNI, SS.RESOLVED),
    (SS.RESOLVED, SA.REOPEN, MUNI, SS.OPEN),
    (SS.CLOSED, SA.REOPEN, MUNI, SS.OPEN),
    (SS.OPEN, SA.AUTO_CLOSE, SYSTEM, SS.CLOSED),
    (SS.ACKNOWLEDGED, SA.AUTO_CLOSE, SYSTEM, SS.CLOSED),
    (SS.ESCALATED, SA.AUTO_CLOSE, SYSTEM, SS.CLOSED),
]
SOURCES = {
    SA.ACKNOWLEDGE: {SS.OPEN},
    SA.ESCALATE: {SS.OPEN, SS.ACKNOWLEDGED},
    SA.RESOLVE: {SS.OPEN, SS.ACKNOWLEDGED, SS.ESCALATED},
    SA.REOPEN: {SS.RESOLVED, SS.CLOSED},
    SA.AUTO_CLOSE: {SS.OPEN, SS.ACKNOWLEDGED, SS.ESCALATED},
}


@pytest.mark.parametrize(("status", "action", "actor", "target"), ALLOWED)
def test_every_allowed_signal_transition(status, action, actor, target):
    assert decide_signal_transition(status, action, text="  Toelichting  ", **actor) == (target, "Toelichting")


def test_the_table_matches_the_oracle():
    assert {action: step.sources for action, step in SIGNAL_LIFECYCLE.items()} == SOURCES


@pytest.mark.parametrize("action", list(SignalAction))
@pytest.mark.parametrize("status", list(SignalStatus))
def test_from_any_other_status_the_transition_is_illegal(status, action):
    if status in SOURCES[action]:
        return
    for actor in (OWNER_SUB, MUNI, SYSTEM):
        with pytest.raises(IllegalTransition) as error:
            decide_signal_transition(status, action, text="x", **actor)
        assert status.label in error.value.message


@pytest.mark.parametrize(
    ("status", "action", "actor"),
    [
        (SS.OPEN, SA.ACKNOWLEDGE, MUNI),  # the municipality does not explain for the owner
        (SS.OPEN, SA.ACKNOWLEDGE, OTHER_SUB),
        (SS.OPEN, SA.ACKNOWLEDGE, SYSTEM),
        (SS.ACKNOWLEDGED, SA.RESOLVE, OWNER_COORD),  # the owner cannot close its own signal
        (SS.OPEN, SA.RESOLVE, OWNER_SUB),
        (SS.OPEN, SA.ESCALATE, OTHER_SUB),
        (SS.RESOLVED, SA.REOPEN, OWNER_COORD),
        (SS.CLOSED, SA.REOPEN, SYSTEM),
        (SS.OPEN, SA.AUTO_CLOSE, MUNI),  # only a job closes automatically
        (SS.OPEN, SA.AUTO_CLOSE, OWNER_SUB),
        (SS.OPEN, SA.ACKNOWLEDGE, ADMIN),  # an admin never acts on content
        (SS.OPEN, SA.RESOLVE, ADMIN),
    ],
)
def test_forbidden_signal_transitions(status, action, actor):
    with pytest.raises(NotPermitted) as error:
        decide_signal_transition(status, action, text="x", **actor)
    assert error.value.message.startswith("Alleen ")


@pytest.mark.parametrize("text", [None, "", "   \n"])
@pytest.mark.parametrize(("status", "action", "actor", "target"), ALLOWED)
def test_every_signal_transition_needs_a_text(status, action, actor, target, text):
    with pytest.raises(InvalidInput) as error:
        decide_signal_transition(status, action, text=text, **actor)
    assert error.value.message == SIGNAL_LIFECYCLE[action].text_required
    assert error.value.field == "text"


def test_signal_text_has_a_maximum_and_actions_are_codes():
    with pytest.raises(InvalidInput):
        decide_signal_transition(SS.OPEN, SA.ACKNOWLEDGE, text="x" * 10_001, **OWNER_SUB)
    with pytest.raises(InvalidInput, match="Onbekende actie"):
        decide_signal_transition(SS.OPEN, "delete", text="x", **MUNI)
    assert decide_signal_transition("open", "acknowledge", text="ok", **OWNER_SUB) == (SS.ACKNOWLEDGED, "ok")


def test_allowed_signal_actions_are_the_buttons_to_show():
    assert allowed_signal_actions(SS.OPEN, **OWNER_SUB) == [SA.ACKNOWLEDGE, SA.ESCALATE]
    assert allowed_signal_actions(SS.ACKNOWLEDGED, **MUNI) == [SA.RESOLVE, SA.ESCALATE]
    assert allowed_signal_actions(SS.CLOSED, **MUNI) == [SA.REOPEN]
    assert allowed_signal_actions(SS.OPEN, **OTHER_SUB) == []
    # A signal the municipality owns (raised): it may do everything a person can.
    both = dict(actor_role=Role.CONTRACT_MANAGER, actor_is_owner=True, actor_is_municipality=True)
    assert allowed_signal_actions(SS.OPEN, **both) == [SA.ACKNOWLEDGE, SA.RESOLVE, SA.ESCALATE]


def test_signal_status_labels_are_dutch_and_distinct():
    labels = [status.label for status in SignalStatus]
    assert len(set(labels)) == len(labels) == 5
    assert SignalStatus.ESCALATED.label == "Geëscaleerd"


def test_ball_for_signal():
    assert ball_for_signal(SS.OPEN, Party.SUBCONTRACTOR) is Party.SUBCONTRACTOR
    assert ball_for_signal("open", "main_contractor") is Party.MAIN_CONTRACTOR
    assert ball_for_signal(SS.ACKNOWLEDGED, Party.SUBCONTRACTOR) is Party.MUNICIPALITY
    assert ball_for_signal(SS.ESCALATED, Party.MAIN_CONTRACTOR) is Party.MUNICIPALITY
    assert ball_for_signal(SS.RESOLVED, Party.MAIN_CONTRACTOR) is None
    assert ball_for_signal(SS.CLOSED, Party.MAIN_CONTRACTOR) is None


def test_is_overdue_after_the_due_date():
    due = date(2026, 9, 17)
    assert not is_overdue(due, due)
    assert is_overdue(due, due + timedelta(days=1))
    assert not is_overdue(None, due)


@given(st.lists(st.tuples(st.sampled_from(list(SignalAction)),
                          st.sampled_from([OWNER_SUB, OWNER_COORD, OTHER_SUB, MUNI, SYSTEM, ADMIN])), max_size=30))
def test_a_random_walk_only_meets_domain_errors(steps):
    status = SS.OPEN
    for action, actor in steps:
        try:
            status, _ = decide_signal_transition(status, action, text="reden", **actor)
        except (IllegalTransition, NotPermitted):
            continue
        assert (ball_for_signal(status, Party.SUBCONTRACTOR) is None) == (status in {SS.RESOLVED, SS.CLOSED})
        # Only the municipality's own action makes a signal resolved; only a job makes it closed.
        if status is SS.RESOLVED:
            assert actor is MUNI
        if status is SS.CLOSED:
            assert actor is SYSTEM


# --- automatic closing -----------------------------------------------------------------------------


def test_auto_close_reason():
    assert auto_close_reason(R.STALLED, False, current_status=S.IN_CARE) == (
        "De casus is verder gegaan: status is nu 'Levering gestart'."
    )
    assert auto_close_reason("stalled", False) == "De casus is verder gegaan."
    assert auto_close_reason(R.STALLED, True, current_status=S.IN_CARE) is None
    assert auto_close_reason(R.REPORT_OVERDUE, False) == "Het verslag is alsnog ingediend."
    for rule in EVENT_RULES:
        assert auto_close_reason(rule, False) is None  # a person closes those
    for rule in SCAN_RULES:
        reason = auto_close_reason(rule, False)
        assert reason and reason.endswith(".")
        decide_signal_transition(SS.OPEN, SA.AUTO_CLOSE, text=reason, **SYSTEM)
