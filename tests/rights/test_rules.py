"""The rights rules, pure: what a turn-away records, objections (Awb 6:7) and re-assessments (herindicatie)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.cases.rules import LIFECYCLE, CaseAction, CaseStatus
from portal.lib.calendar_nl import is_working_day
from portal.lib.errors import IllegalTransition, InvalidInput
from portal.rights import rules
from portal.rights.rules import ObjectionOutcome as OO
from portal.rights.rules import ReassessmentOutcome as RO

days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
TODAY = date(2026, 11, 25)


# --- turn-aways -------------------------------------------------------------------------------------------


def test_every_turn_away_path_records_what_the_brief_asks():
    assert {action: path.records for action, path in rules.TURN_AWAY_PATHS.items()} == {
        CaseAction.REJECT: ("reason_code", "beschikking_issued", "objection_info_given", "referred_to"),
        CaseAction.REFER_COLLECTIVE: ("referred_to", "objection_info_given"),
        CaseAction.WITHDRAW: ("reason_code", "objection_info_given"),
    }
    # one place for the rule: the lifecycle table itself requires these fields
    assert all(path.records == LIFECYCLE[action].requires for action, path in rules.TURN_AWAY_PATHS.items())
    assert {path.status for path in rules.TURN_AWAY_PATHS.values()} == {
        CaseStatus.REJECTED, CaseStatus.REFERRED_COLLECTIVE, CaseStatus.WITHDRAWN}


@given(st.sampled_from(list(rules.TURN_AWAY_PATHS)),
       st.fixed_dictionaries({name: st.one_of(st.none(), st.just("x")) for name in rules.RECORD_LABELS}))
def test_missing_records_are_exactly_the_required_fields_left_empty(action, recorded):
    missing = rules.missing_records(action, recorded)
    assert missing == [name for name in rules.TURN_AWAY_PATHS[action].records if recorded[name] is None]


def test_a_field_hidden_from_the_view_is_not_called_missing():
    # the contract manager's view leaves out referred_to: that is not a gap in the record
    assert rules.missing_records("reject", {"reason_code": "L1", "beschikking_issued": False,
                                            "objection_info_given": True}) == []
    assert rules.missing_records("withdraw", {"reason_code": None, "objection_info_given": None}) == [
        "reason_code", "objection_info_given"]


def test_referral_kinds():
    assert [rules.referral_kind(value) for value in (None, "nergens", "Buurthuis")] == [
        "unknown", "nowhere", "somewhere"]


# --- objections -------------------------------------------------------------------------------------------


@given(days)
def test_the_objection_term_is_six_weeks_ending_on_a_working_day(decided):
    deadline = rules.objection_deadline(decided)
    assert decided + timedelta(weeks=6) <= deadline <= decided + timedelta(weeks=6, days=4)
    assert is_working_day(deadline)
    # extended only past days that are no working day (Atw art. 1)
    assert all(not is_working_day(day) for day in
               (decided + timedelta(weeks=6, days=n) for n in range((deadline - decided).days - 42)))


def test_known_objection_terms():
    assert rules.objection_deadline(date(2026, 11, 2)) == date(2026, 12, 14)  # a Monday
    assert rules.objection_deadline(date(2026, 11, 14)) == date(2026, 12, 28)  # Sat 26-12 (Boxing Day) -> Mon
    assert rules.objection_deadline(date(2026, 3, 24)) == date(2026, 5, 6)  # 5 May (Liberation Day) -> 6 May


@given(decided=days, after=st.integers(0, 120))
def test_an_objection_is_recorded_in_time_or_late(decided, after):
    filed = decided + timedelta(days=after)
    filing = rules.check_objection_filing(beschikking_issued=True, decision_date=decided, pending=False,
                                          filed_on=filed, today=filed)
    assert filing.deadline == rules.objection_deadline(decided)
    assert filing.on_time is (filed <= filing.deadline)
    if after <= 42:
        assert filing.on_time  # within the six calendar weeks is always in time


@pytest.mark.parametrize(("arguments", "error", "field"), [
    ({"beschikking_issued": False}, IllegalTransition, None),
    ({"beschikking_issued": None}, IllegalTransition, None),
    ({"decision_date": None}, IllegalTransition, None),
    ({"pending": True}, IllegalTransition, None),
    ({"filed_on": None}, InvalidInput, "filed_on"),
    ({"filed_on": TODAY + timedelta(days=1)}, InvalidInput, "filed_on"),
    ({"filed_on": date(2026, 10, 31)}, InvalidInput, "filed_on"),
])
def test_an_objection_needs_a_beschikking_and_plausible_dates(arguments, error, field):
    valid = {"beschikking_issued": True, "decision_date": date(2026, 11, 2), "pending": False,
             "filed_on": date(2026, 11, 20), "today": TODAY}
    with pytest.raises(error) as raised:
        rules.check_objection_filing(**(valid | arguments))
    assert raised.value.field == field and raised.value.message


def test_the_decision_on_an_objection():
    assert rules.check_objection_decision(pending_since=date(2026, 11, 2), outcome=" Gegrond ",
                                          decided_on=date(2026, 11, 20), today=TODAY) == (OO.WELL_FOUNDED,
                                                                                          date(2026, 11, 20))
    with pytest.raises(IllegalTransition):
        rules.check_objection_decision(pending_since=None, outcome="gegrond", decided_on=TODAY, today=TODAY)
    for outcome, decided, field in (("", TODAY, "outcome"), ("pending", TODAY, "outcome"),
                                    ("gegrond", None, "decided_on"), ("gegrond", date(2026, 11, 1), "decided_on"),
                                    ("gegrond", TODAY + timedelta(days=1), "decided_on")):
        with pytest.raises(InvalidInput) as raised:
            rules.check_objection_decision(pending_since=date(2026, 11, 2), outcome=outcome, decided_on=decided,
                                           today=TODAY)
        assert raised.value.field == field


steps = st.lists(st.tuples(st.sampled_from(["objection_filed", "objection_decided"]), st.sampled_from(list(OO))),
                 max_size=8)


@given(steps)
def test_objections_pair_each_decision_with_the_open_objection(sequence):
    events, expected, open_one = [], [], None
    for index, (action, outcome) in enumerate(sequence):
        on = date(2026, 1, 1) + timedelta(days=index)
        events.append({"action": action, "on": on, "outcome": outcome.value if action == "objection_decided"
                       else None, "due_date": on + timedelta(days=42) if action == "objection_filed" else None})
        if action == "objection_filed":
            open_one = len(expected)
            expected.append((on, rules.PENDING, None))
        elif open_one is not None and expected[open_one][1] == rules.PENDING:
            expected[open_one] = (expected[open_one][0], outcome.value, on)
    found = rules.objections(events)
    assert [(o.filed_on, o.outcome, o.decided_on) for o in found] == expected
    assert all(o.on_time for o in found)
    assert {o.outcome_label for o in found} <= {rules.PENDING_LABEL} | {o.label for o in OO}


def test_objection_term_on_a_case():
    term = rules.objection_term(date(2026, 11, 2), True, TODAY)
    assert (term.deadline, term.days_left, term.running) == (date(2026, 12, 14), 19, True)
    assert rules.objection_term(date(2026, 9, 1), True, TODAY).running is False
    assert rules.objection_term(date(2026, 11, 2), False, TODAY) is None


# --- re-assessment ----------------------------------------------------------------------------------------


@given(days, st.integers(0, 120))
def test_add_months_keeps_the_day_or_takes_the_months_last(day, months):
    later = rules.add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)


def talk(**overrides):
    arguments = {"acting_status": "in_care", "provision_type": "individual", "outcome": "voortgezet",
                 "talk_on": date(2026, 11, 20), "next_due": None, "not_before": date(2026, 1, 5), "today": TODAY}
    return rules.check_reassessment(**(arguments | overrides))


@given(st.sampled_from(list(RO)), st.dates(min_value=date(2026, 1, 5), max_value=TODAY))
def test_each_outcome_gets_its_next_due_date(outcome, talk_on):
    result = talk(outcome=outcome.value, talk_on=talk_on)
    assert result.outcome is outcome and result.talk_on == talk_on
    if outcome in (RO.CONTINUED, RO.SCALED_DOWN):
        assert result.next_due == rules.add_months(talk_on, 12)
    else:
        assert result.next_due is None


def test_a_chosen_next_due_date_within_five_years():
    assert talk(next_due=date(2028, 1, 1)).next_due == date(2028, 1, 1)
    for next_due, outcome in ((date(2026, 11, 20), "voortgezet"), (date(2031, 11, 21), "afgeschaald"),
                              (date(2027, 1, 1), "voortgezet_onbepaalde_tijd"), (date(2027, 1, 1), "gestopt")):
        with pytest.raises(InvalidInput) as raised:
            talk(outcome=outcome, next_due=next_due)
        assert raised.value.field == "next_due"


def test_only_a_running_individual_provision_is_reassessed():
    assert talk(acting_status=CaseStatus.IN_CARE).outcome is RO.CONTINUED
    for status in ("accepted", "ended", "closed", "on_hold"):
        with pytest.raises(IllegalTransition):
            talk(acting_status=status)
    with pytest.raises(IllegalTransition):
        talk(provision_type="collective")
    for overrides, field in (({"outcome": ""}, "outcome"), ({"outcome": "half"}, "outcome"),
                             ({"talk_on": None}, "talk_on"), ({"talk_on": TODAY + timedelta(days=1)}, "talk_on"),
                             ({"talk_on": date(2026, 1, 4)}, "talk_on")):
        with pytest.raises(InvalidInput) as raised:
            talk(**overrides)
        assert raised.value.field == field


def test_reassessment_state():
    assert rules.reassessment_state(None, TODAY) is None
    assert rules.reassessment_state(TODAY - timedelta(days=1), TODAY) == "overdue"
    assert rules.reassessment_state(TODAY, TODAY) == "due_soon"
    assert rules.reassessment_state(TODAY + timedelta(days=30), TODAY) == "due_soon"
    assert rules.reassessment_state(TODAY + timedelta(days=31), TODAY) == "planned"


@given(st.dictionaries(st.sampled_from([*(o.value for o in RO), None]), st.integers(0, 500)))
def test_the_summary_counts_every_talk_and_the_share_stopped(counts):
    summary = rules.reassessment_summary(counts, overdue=3, due_soon=1)
    talks = sum(counts.values())
    assert summary["talks"] == talks == sum(row["count"] for row in summary["by_outcome"])
    assert summary["stopped"] == counts.get("gestopt", 0)
    assert summary["stopped_pct"] == (summary["stopped"] * 100 / talks if talks else None)
    assert (summary["overdue"], summary["due_soon"]) == (3, 1)


def test_stichtse_vecht_figures():
    summary = rules.reassessment_summary({"gestopt": 41, "voortgezet_onbepaalde_tijd": 299})
    assert summary["talks"] == 340 and summary["stopped"] == 41 and round(summary["stopped_pct"]) == 12


# --- the case page ----------------------------------------------------------------------------------------


def test_case_panel_of_a_rejection_with_a_beschikking_and_a_pending_objection():
    case = {"status": "closed", "status_before_hold": None, "provision_type": "individual",
            "beschikking_issued": True, "decision_date": date(2026, 11, 2), "reassessment_due": None}
    events = [
        {"action": "reject", "on": date(2026, 11, 2), "beschikking_issued": True, "reason_code": "L1",
         "objection_info_given": True, "referred_to": "nergens"},
        {"action": "close", "on": date(2026, 11, 3)},
        {"action": "objection_filed", "on": date(2026, 11, 20), "due_date": date(2026, 12, 14), "outcome": None},
    ]
    panel = rules.case_panel(case, events, TODAY, can_record=True)
    assert panel["term"] == {"decided_on": date(2026, 11, 2), "deadline": date(2026, 12, 14), "days_left": 19,
                             "running": True}
    assert panel["pending"] and panel["can_decide_objection"] and not panel["can_file_objection"]
    assert panel["turn_away"] == {"label": "Afgewezen", "missing": []}
    assert not panel["reassessment"]["can_record"]
    assert rules.case_panel(case, events, TODAY, can_record=False)["can_decide_objection"] is False


def test_case_panel_of_a_withdrawal_recorded_before_the_rule():
    case = {"status": "withdrawn", "provision_type": "individual", "beschikking_issued": None}
    panel = rules.case_panel(case, [{"action": "withdraw", "on": TODAY, "reason_code": None,
                                     "objection_info_given": None}], TODAY, can_record=True)
    assert panel["term"] is None and not panel["can_file_objection"]
    assert panel["turn_away"]["missing"] == ["reden", "inwoner gewezen op beschikking en bezwaar"]


def test_case_panel_of_a_running_provision():
    case = {"status": "on_hold", "status_before_hold": "in_care", "provision_type": "individual",
            "reassessment_due": TODAY - timedelta(days=3)}
    panel = rules.case_panel(case, [{"action": "reassessment", "on": date(2025, 11, 1), "outcome": "voortgezet",
                                     "due_date": TODAY - timedelta(days=3)}], TODAY, can_record=True)
    assert panel["reassessment"]["state"] == "overdue" and panel["reassessment"]["can_record"]
    assert panel["reassessment"]["talks"][0]["outcome_label"] == "Voortgezet"


def test_outcome_labels():
    assert rules.outcome_label("objection_decided", "niet_ontvankelijk") == "Niet-ontvankelijk"
    assert rules.outcome_label("reassessment", "gestopt") == "Gestopt"
    assert rules.outcome_label("reassessment", None) == ""
