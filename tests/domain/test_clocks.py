from dataclasses import FrozenInstanceError
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.cases.clocks import (
    CLOCKS,
    CaseDates,
    ClockDefinition,
    ClockState,
    StatusChange,
    TermUnit,
    compute_clocks,
)
from portal.cases.rules import CaseStatus as S
from portal.lib.calendar_nl import is_working_day


def clock(states: list[ClockState], code: str) -> ClockState:
    matches = [state for state in states if state.code == code]
    assert len(matches) == 1, f"expected one {code} clock, got {[s.code for s in states]}"
    return matches[0]


def codes(states: list[ClockState]) -> set[str]:
    return {state.code for state in states}


def history(*changes: tuple[date, S]) -> list[StatusChange]:
    return [StatusChange(at=at, status=status) for at, status in changes]


MELDING = date(2024, 3, 4)  # a Monday; 6 weeks later is Monday 15 April 2024
IN_ASSESSMENT = [(MELDING, S.REGISTERED), (date(2024, 3, 5), S.ASSESSMENT)]


def test_clock_table_has_one_row_per_clock():
    assert [c.code for c in CLOCKS] == ["assessment", "decision", "allocation_answer", "objection"]
    assert clock_definition("assessment").label == "Onderzoek (Wmo art. 2.3.2)"
    assert clock_definition("decision").label == "Beschikking (Wmo art. 2.3.5)"
    assert clock_definition("allocation_answer").label == "Antwoord op toewijzingsverzoek (iWmo)"
    assert clock_definition("objection").label == "Bezwaartermijn (Awb art. 6:7)"


def clock_definition(code: str) -> ClockDefinition:
    return next(c for c in CLOCKS if c.code == code)


def test_dataclasses_are_frozen():
    change = StatusChange(at=MELDING, status=S.REGISTERED)
    with pytest.raises(FrozenInstanceError):
        change.status = S.CLOSED  # type: ignore[misc]


# --- assessment (Wmo 2015 art. 2.3.2) -------------------------------------------------------------


def test_assessment_running_within_term():
    states = compute_clocks(CaseDates(MELDING), history(*IN_ASSESSMENT), today=date(2024, 4, 1))
    assessment = clock(states, "assessment")
    assert assessment.started_on == MELDING
    assert assessment.deadline == date(2024, 4, 15)
    assert assessment.days_left == 14
    assert assessment.unit == "kalenderdagen"
    assert assessment.met is None
    assert assessment.stopped_on is None
    assert assessment.exceeded_since is None
    assert assessment.paused is False
    assert assessment.legal_basis == "Wmo 2015 art. 2.3.2"
    assert codes(states) == {"assessment"}


def test_assessment_met():
    changes = history(*IN_ASSESSMENT, (date(2024, 4, 10), S.ALLOCATION_REQUESTED))
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 4, 20)), "assessment")
    assert assessment.stopped_on == date(2024, 4, 10)
    assert assessment.met is True
    assert assessment.days_left is None
    assert assessment.exceeded_since is None


def test_assessment_met_on_the_deadline_itself():
    changes = history(*IN_ASSESSMENT, (date(2024, 4, 15), S.REJECTED))
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 4, 20)), "assessment")
    assert assessment.met is True


def test_assessment_exceeded_while_running():
    assessment = clock(
        compute_clocks(CaseDates(MELDING), history(*IN_ASSESSMENT), today=date(2024, 4, 18)), "assessment"
    )
    assert assessment.days_left == -3
    assert assessment.exceeded_since == date(2024, 4, 16)
    assert assessment.met is None


def test_assessment_stopped_late_keeps_exceeded_since():
    changes = history(*IN_ASSESSMENT, (date(2024, 4, 17), S.WAITING_LIST))
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 6, 1)), "assessment")
    assert assessment.stopped_on == date(2024, 4, 17)
    assert assessment.met is False
    assert assessment.exceeded_since == date(2024, 4, 16)
    assert assessment.days_left is None


def test_assessment_stops_only_for_a_decision_status():
    # on_hold and back to assessment do not stop the clock; referred_collective does
    changes = history(
        *IN_ASSESSMENT,
        (date(2024, 3, 6), S.ON_HOLD),
        (date(2024, 3, 7), S.ASSESSMENT),
        (date(2024, 3, 20), S.REFERRED_COLLECTIVE),
        (date(2024, 3, 25), S.CLOSED),
    )
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 5, 1)), "assessment")
    assert assessment.stopped_on == date(2024, 3, 20)


def test_atw_extension_when_six_weeks_end_on_christmas():
    melding = date(2025, 11, 13)  # + 6 weeks = Thursday 25 December 2025
    changes = history((melding, S.REGISTERED))
    assessment = clock(compute_clocks(CaseDates(melding), changes, today=date(2025, 12, 1)), "assessment")
    assert assessment.deadline == date(2025, 12, 29)
    # still within the term on Boxing Day and the weekend after it
    later = clock(compute_clocks(CaseDates(melding), changes, today=date(2025, 12, 28)), "assessment")
    assert later.exceeded_since is None
    assert later.days_left == 1


# --- pausing ---------------------------------------------------------------------------------------


def test_pause_moves_a_week_deadline_by_the_paused_calendar_days():
    changes = history(
        *IN_ASSESSMENT,
        (date(2024, 3, 11), S.ON_HOLD),
        (date(2024, 3, 21), S.ASSESSMENT),  # on hold 11..20 March: 10 days
    )
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 4, 1)), "assessment")
    assert assessment.deadline == date(2024, 4, 25)  # 15 April + 10 days
    assert assessment.paused is False
    assert assessment.days_left == 24


def test_clock_is_paused_while_on_hold_and_the_deadline_keeps_moving():
    changes = history(*IN_ASSESSMENT, (date(2024, 3, 11), S.ON_HOLD))
    on_15 = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 15)), "assessment")
    assert on_15.paused is True
    # 5 days paused (11..15 March): 20 April is a Saturday, so Monday 22 April
    assert on_15.deadline == date(2024, 4, 22)
    on_25 = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 25)), "assessment")
    assert on_25.deadline == date(2024, 4, 30)  # 15 days paused
    assert on_25.paused is True


def test_pause_after_the_deadline_does_not_undo_the_excess():
    changes = history(
        *IN_ASSESSMENT,
        (date(2024, 4, 20), S.ON_HOLD),
        (date(2024, 5, 20), S.ASSESSMENT),
        (date(2024, 5, 21), S.ALLOCATION_REQUESTED),
    )
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 6, 1)), "assessment")
    assert assessment.deadline == date(2024, 4, 15)
    assert assessment.met is False
    assert assessment.exceeded_since == date(2024, 4, 16)


def test_pause_moves_a_working_day_deadline_by_the_paused_working_days():
    changes = history(
        (date(2024, 3, 4), S.ALLOCATION_REQUESTED),  # Monday: deadline Monday 11 March
        (date(2024, 3, 6), S.ON_HOLD),  # Wednesday and Thursday paused
        (date(2024, 3, 8), S.ALLOCATION_REQUESTED),  # back from on_hold: resumed, not restarted
    )
    answer = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 8)), "allocation_answer")
    assert answer.started_on == date(2024, 3, 4)
    assert answer.deadline == date(2024, 3, 13)
    assert answer.unit == "werkdagen"
    assert answer.days_left == 3  # Monday, Tuesday, Wednesday


def test_pause_over_a_weekend_costs_no_working_days():
    changes = history(
        (date(2024, 3, 4), S.ALLOCATION_REQUESTED),
        (date(2024, 3, 9), S.ON_HOLD),  # Saturday
        (date(2024, 3, 11), S.ALLOCATION_REQUESTED),  # Monday
    )
    answer = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 11)), "allocation_answer")
    assert answer.deadline == date(2024, 3, 11)


# --- decision (Wmo 2015 art. 2.3.5) ------------------------------------------------------------------


def test_decision_clock_needs_an_aanvraag():
    states = compute_clocks(CaseDates(MELDING), history(*IN_ASSESSMENT), today=date(2024, 3, 20))
    assert "decision" not in codes(states)


def test_decision_clock_stops_at_the_decision_date():
    dates = CaseDates(MELDING, aanvraag_date=date(2024, 3, 4), decision_date=date(2024, 3, 15))
    decision = clock(compute_clocks(dates, history(*IN_ASSESSMENT), today=date(2024, 3, 20)), "decision")
    assert decision.deadline == date(2024, 3, 18)
    assert decision.stopped_on == date(2024, 3, 15)
    assert decision.met is True


def test_decision_clock_stops_at_a_rejection_and_can_be_exceeded():
    dates = CaseDates(MELDING, aanvraag_date=date(2024, 3, 4))
    changes = history(*IN_ASSESSMENT, (date(2024, 3, 22), S.REJECTED))
    decision = clock(compute_clocks(dates, changes, today=date(2024, 4, 1)), "decision")
    assert decision.stopped_on == date(2024, 3, 22)
    assert decision.met is False
    assert decision.exceeded_since == date(2024, 3, 19)


def test_a_decision_date_after_today_is_not_known_yet():
    dates = CaseDates(MELDING, aanvraag_date=date(2024, 3, 4), decision_date=date(2024, 3, 15))
    decision = clock(compute_clocks(dates, history(*IN_ASSESSMENT), today=date(2024, 3, 10)), "decision")
    assert decision.stopped_on is None
    assert decision.days_left == 8


# --- allocation answer (iWmo OP274) ------------------------------------------------------------------


def test_allocation_answer_met_and_exceeded():
    requested = history((MELDING, S.REGISTERED), (date(2024, 3, 4), S.ALLOCATION_REQUESTED))
    running = clock(
        compute_clocks(CaseDates(MELDING), requested, today=date(2024, 3, 6)), "allocation_answer"
    )
    assert running.deadline == date(2024, 3, 11)
    assert running.days_left == 3  # Thursday, Friday, Monday
    late = clock(compute_clocks(CaseDates(MELDING), requested, today=date(2024, 3, 16)), "allocation_answer")
    assert late.days_left == -4  # 12, 13, 14 and 15 March
    assert late.exceeded_since == date(2024, 3, 12)
    answered = history(
        (MELDING, S.REGISTERED), (date(2024, 3, 4), S.ALLOCATION_REQUESTED), (date(2024, 3, 8), S.ACCEPTED)
    )
    done = clock(compute_clocks(CaseDates(MELDING), answered, today=date(2024, 3, 16)), "allocation_answer")
    assert done.stopped_on == date(2024, 3, 8)
    assert done.met is True


def test_exceeded_working_day_clock_is_negative_on_the_weekend_after_its_deadline():
    requested = history((date(2024, 3, 1), S.ALLOCATION_REQUESTED))  # Friday: deadline Friday 8 March
    state = clock(compute_clocks(CaseDates(MELDING), requested, today=date(2024, 3, 9)), "allocation_answer")
    assert state.deadline == date(2024, 3, 8)
    assert state.days_left == -1
    assert state.exceeded_since == date(2024, 3, 9)


def test_decline_restarts_the_allocation_clock():
    first = (date(2024, 3, 4), S.ALLOCATION_REQUESTED)
    declined = (date(2024, 3, 7), S.ALLOCATION_REQUESTED)  # declined, sent to another subcontractor
    accepted = (date(2024, 3, 13), S.ACCEPTED)
    without_decline = clock(
        compute_clocks(CaseDates(MELDING), history(first, accepted), today=date(2024, 3, 20)),
        "allocation_answer",
    )
    assert without_decline.met is False
    restarted = clock(
        compute_clocks(CaseDates(MELDING), history(first, declined, accepted), today=date(2024, 3, 20)),
        "allocation_answer",
    )
    assert restarted.started_on == date(2024, 3, 7)
    assert restarted.deadline == date(2024, 3, 14)
    assert restarted.met is True


def test_allocation_clock_from_waiting_list_is_a_new_start():
    changes = history(
        (date(2024, 3, 4), S.WAITING_LIST),
        (date(2024, 3, 18), S.ALLOCATION_REQUESTED),
    )
    state = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 18)), "allocation_answer")
    assert state.started_on == date(2024, 3, 18)
    assert state.deadline == date(2024, 3, 25)


def test_no_allocation_clock_before_a_request():
    assert "allocation_answer" not in codes(
        compute_clocks(CaseDates(MELDING), history(*IN_ASSESSMENT), today=date(2024, 3, 20))
    )


# --- objection (Awb 6:7) ---------------------------------------------------------------------------


def test_objection_clock_only_with_a_beschikking():
    without = CaseDates(MELDING, aanvraag_date=MELDING, decision_date=date(2024, 3, 4))
    assert "objection" not in codes(compute_clocks(without, history(*IN_ASSESSMENT), today=date(2024, 3, 20)))
    with_beschikking = CaseDates(
        MELDING, aanvraag_date=MELDING, decision_date=date(2024, 3, 4), beschikking_issued=True
    )
    objection = clock(
        compute_clocks(with_beschikking, history(*IN_ASSESSMENT), today=date(2024, 4, 1)), "objection"
    )
    assert objection.started_on == date(2024, 3, 4)
    assert objection.deadline == date(2024, 4, 15)
    assert objection.days_left == 14
    assert objection.met is None


def test_objection_term_runs_until_its_deadline_and_is_never_exceeded_nor_paused():
    dates = CaseDates(MELDING, decision_date=date(2024, 3, 4), beschikking_issued=True)
    changes = history((MELDING, S.REGISTERED), (date(2024, 3, 4), S.REJECTED), (date(2024, 3, 10), S.ON_HOLD))
    during = clock(compute_clocks(dates, changes, today=date(2024, 3, 20)), "objection")
    assert during.paused is False
    assert during.deadline == date(2024, 4, 15)  # the resident's term: on_hold does not move it
    after = clock(compute_clocks(dates, changes, today=date(2024, 5, 1)), "objection")
    assert after.stopped_on == date(2024, 4, 15)
    assert after.exceeded_since is None
    assert after.days_left is None


# --- input checks ----------------------------------------------------------------------------------


def test_history_out_of_order_is_refused():
    with pytest.raises(ValueError):
        compute_clocks(
            CaseDates(MELDING),
            history((date(2024, 3, 5), S.ASSESSMENT), (date(2024, 3, 4), S.REGISTERED)),
            today=date(2024, 3, 20),
        )


def test_changes_after_today_are_ignored():
    changes = history(*IN_ASSESSMENT, (date(2024, 3, 25), S.ALLOCATION_REQUESTED))
    assessment = clock(compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 20)), "assessment")
    assert assessment.stopped_on is None
    assert "allocation_answer" not in codes(
        compute_clocks(CaseDates(MELDING), changes, today=date(2024, 3, 20))
    )


# --- properties --------------------------------------------------------------------------------------

starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
offsets = st.integers(min_value=0, max_value=60)
lengths = st.integers(min_value=1, max_value=60)


def assessment_deadline(start: date, pause_at: int | None, pause_days: int) -> date:
    changes = [(start, S.REGISTERED)]
    if pause_at is not None:
        changes += [
            (start + timedelta(days=pause_at), S.ON_HOLD),
            (start + timedelta(days=pause_at + pause_days), S.ASSESSMENT),
        ]
    state = clock(
        compute_clocks(CaseDates(start), history(*changes), today=start + timedelta(days=200)), "assessment"
    )
    return state.deadline


def allocation_deadline(start: date, pause_at: int | None, pause_days: int) -> date:
    changes = [(start, S.ALLOCATION_REQUESTED)]
    if pause_at is not None:
        changes += [
            (start + timedelta(days=pause_at), S.ON_HOLD),
            (start + timedelta(days=pause_at + pause_days), S.ALLOCATION_REQUESTED),
        ]
    state = clock(
        compute_clocks(CaseDates(start), history(*changes), today=start + timedelta(days=200)),
        "allocation_answer",
    )
    assert state.started_on == start  # resuming after on_hold never restarts the clock
    return state.deadline


@pytest.mark.parametrize("deadline_of", [assessment_deadline, allocation_deadline])
@given(start=starts, pause_at=offsets, pause_days=lengths)
def test_pausing_never_moves_a_deadline_earlier(deadline_of, start, pause_at, pause_days):
    assert deadline_of(start, pause_at, pause_days) >= deadline_of(start, None, 0)


@pytest.mark.parametrize("deadline_of", [assessment_deadline, allocation_deadline])
@given(start=starts, pause_at=offsets, shorter=lengths, extra=lengths)
def test_a_longer_pause_never_gives_an_earlier_deadline(deadline_of, start, pause_at, shorter, extra):
    assert deadline_of(start, pause_at, shorter + extra) >= deadline_of(start, pause_at, shorter)


@given(start=starts, pause_at=st.integers(min_value=1, max_value=40), pause_days=lengths)
def test_a_pause_inside_a_week_term_adds_exactly_its_days_before_atw(start, pause_at, pause_days):
    deadline = assessment_deadline(start, pause_at, pause_days)
    raw = start + timedelta(weeks=6, days=pause_days)
    assert raw <= deadline <= raw + timedelta(days=4)
    assert is_working_day(deadline)


statuses = st.sampled_from(list(S))


@given(
    start=starts,
    steps=st.lists(st.tuples(st.integers(min_value=0, max_value=20), statuses), max_size=12),
    today_offset=st.integers(min_value=0, max_value=300),
    aanvraag=st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
    decision=st.one_of(st.none(), st.integers(min_value=0, max_value=90)),
    beschikking=st.booleans(),
)
def test_clock_states_are_consistent(start, steps, today_offset, aanvraag, decision, beschikking):
    changes = [StatusChange(start, S.REGISTERED)]
    for gap, status in steps:
        changes.append(StatusChange(changes[-1].at + timedelta(days=gap), status))
    dates = CaseDates(
        start,
        aanvraag_date=None if aanvraag is None else start + timedelta(days=aanvraag),
        decision_date=None if decision is None else start + timedelta(days=decision),
        beschikking_issued=beschikking,
    )
    today = start + timedelta(days=today_offset)
    states = compute_clocks(dates, changes, today)
    assert "assessment" in codes(states)
    for state in states:
        assert state.started_on <= today
        assert state.deadline > state.started_on
        assert is_working_day(state.deadline)
        assert state.unit in {u.value for u in TermUnit}
        if state.stopped_on is None:
            assert state.met is None
            assert state.days_left is not None
            assert (state.days_left < 0) == (state.exceeded_since is not None)
        else:
            assert state.started_on <= state.stopped_on <= today
            assert state.days_left is None
            assert state.paused is False
            assert state.met == (state.stopped_on <= state.deadline)
        if state.exceeded_since is not None:
            assert state.exceeded_since == state.deadline + timedelta(days=1)
        assert not state.paused or changes_until(changes, today)[-1].status == S.ON_HOLD


def changes_until(changes: list[StatusChange], today: date) -> list[StatusChange]:
    return [change for change in changes if change.at <= today]
