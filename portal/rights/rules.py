"""Residents' legal position (issue #9). Pure: no I/O, no framework.

The national guide on lump-sum contracts names the resident's legal position as the first risk: without a
formal decision (beschikking) a resident cannot object or appeal, and in a lump-sum contract a turn-away can
happen without one. This module holds, as tables where it can:

- ``TURN_AWAY_PATHS``: the ways a request ends without support and what each must record. The fields come
  from the lifecycle table (``portal.cases.rules.LIFECYCLE``), so there is one place for that rule.
- the objection (bezwaar, Awb art. 6:7) code list and checks: an objection is only possible against a
  beschikking, is filed within six weeks (a late one is recorded and shown as late), and is decided once.
- the re-assessment (herindicatie) code list, its due dates, and the figures the savings indicators, the
  rights page and the dashboard share (``reassessment_summary``).
"""

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from portal.cases.rules import LIFECYCLE, CaseAction, CaseStatus
from portal.lib.calendar_nl import add_weeks_atw
from portal.lib.codelists import CodeList
from portal.lib.errors import IllegalTransition, InvalidInput

S = CaseStatus

# --- turn-aways ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnAwayPath:
    status: CaseStatus
    action: CaseAction
    label: str

    @property
    def records(self) -> tuple[str, ...]:
        """What the step must record: the lifecycle table's required fields (one place for the rule)."""
        return LIFECYCLE[self.action].requires


# Every path that ends a request without support. Closing follows one of these (the lifecycle has no close
# straight from the assessment), so a closed turn-away is counted by the step that turned it away.
TURN_AWAY_PATHS: dict[CaseAction, TurnAwayPath] = {
    CaseAction.REJECT: TurnAwayPath(S.REJECTED, CaseAction.REJECT, "Afgewezen"),
    CaseAction.REFER_COLLECTIVE: TurnAwayPath(S.REFERRED_COLLECTIVE, CaseAction.REFER_COLLECTIVE,
                                              "Doorverwezen naar algemene voorziening"),
    CaseAction.WITHDRAW: TurnAwayPath(S.WITHDRAWN, CaseAction.WITHDRAW, "Ingetrokken"),
}
TURN_AWAY_ACTIONS = tuple(action.value for action in TURN_AWAY_PATHS)

RECORD_LABELS = {
    "reason_code": "reden",
    "beschikking_issued": "beschikking ja/nee",
    "objection_info_given": "inwoner gewezen op beschikking en bezwaar",
    "referred_to": "doorverwijzing",
}


def missing_records(action: CaseAction | str, recorded: Mapping[str, object]) -> list[str]:
    """The fields a turn-away event lacks (older events were recorded before every path required them). A
    field left out of ``recorded`` (a redacted view) is not known to be missing."""
    path = TURN_AWAY_PATHS[CaseAction(action)]
    return [name for name in path.records if name in recorded and recorded[name] is None]


def referral_kind(referred_to: str | None) -> str:
    """'somewhere', 'nowhere' (the explicit answer) or 'unknown' (not answered)."""
    if referred_to is None:
        return "unknown"
    return "nowhere" if referred_to == "nergens" else "somewhere"


# --- objections (bezwaar) ---------------------------------------------------------------------------------

OBJECTION_TERM_WEEKS = 6  # Awb art. 6:7


class ObjectionOutcome(CodeList, unknown="Onbekende uitkomst van het bezwaar",
                       hint="Kies gegrond, deels_gegrond, ongegrond, niet_ontvankelijk of ingetrokken."):
    WELL_FOUNDED = "gegrond", "Gegrond"
    PARTLY_WELL_FOUNDED = "deels_gegrond", "Deels gegrond"
    UNFOUNDED = "ongegrond", "Ongegrond"
    INADMISSIBLE = "niet_ontvankelijk", "Niet-ontvankelijk"
    WITHDRAWN = "ingetrokken", "Ingetrokken"


PENDING = "pending"  # an objection filed and not (yet) decided: no event of its own
PENDING_LABEL = "In behandeling"


def objection_deadline(decision_date: date) -> date:
    """The last day to object: six weeks from the day after the decision was made known (Awb art. 6:7, 6:8),
    extended to a working day (Atw art. 1)."""
    return add_weeks_atw(decision_date, OBJECTION_TERM_WEEKS)


@dataclass(frozen=True)
class ObjectionFiling:
    filed_on: date
    deadline: date  # the last day of the objection term

    @property
    def on_time(self) -> bool:
        return self.filed_on <= self.deadline


def check_objection_filing(*, beschikking_issued: bool | None, decision_date: date | None, pending: bool,
                           filed_on: date | None, today: date) -> ObjectionFiling:
    """An objection as the municipality reports it. Only possible against a beschikking (without one the
    resident has nothing to object to); one at a time; a late one is recorded and shown as late (Awb 6:11
    leaves it to the municipality whether the delay is excusable)."""
    if not beschikking_issued or decision_date is None:
        raise IllegalTransition("Bezwaar is alleen mogelijk tegen een beschikking; bij deze casus is geen "
                                "beschikking afgegeven.")
    if pending:
        raise IllegalTransition("Er loopt al een bezwaar bij deze casus; leg eerst de uitkomst daarvan vast.")
    if filed_on is None:
        raise InvalidInput("Vul de datum in waarop het bezwaar is ingediend.", field="filed_on")
    if filed_on > today:
        raise InvalidInput("De datum van het bezwaar ligt in de toekomst.", field="filed_on")
    if filed_on < decision_date:
        raise InvalidInput("Een bezwaar kan niet vóór de beschikking zijn ingediend.", field="filed_on")
    return ObjectionFiling(filed_on, objection_deadline(decision_date))


def check_objection_decision(*, pending_since: date | None, outcome: object, decided_on: date | None,
                             today: date) -> tuple[ObjectionOutcome, date]:
    """The outcome of the objection that is pending (filed on ``pending_since``)."""
    if pending_since is None:
        raise IllegalTransition("Er loopt geen bezwaar bij deze casus om een uitkomst van vast te leggen.")
    if outcome is None or (isinstance(outcome, str) and not outcome.strip()):
        raise InvalidInput("Kies de uitkomst van het bezwaar.", field="outcome")
    parsed = ObjectionOutcome.parse(outcome, field="outcome")
    if decided_on is None:
        raise InvalidInput("Vul de datum van de beslissing op het bezwaar in.", field="decided_on")
    if decided_on > today:
        raise InvalidInput("De datum van de beslissing ligt in de toekomst.", field="decided_on")
    if decided_on < pending_since:
        raise InvalidInput("De beslissing kan niet vóór het bezwaar liggen.", field="decided_on")
    return parsed, decided_on


@dataclass(frozen=True)
class Objection:
    filed_on: date
    deadline: date | None
    outcome: str  # an ObjectionOutcome value, or PENDING
    decided_on: date | None = None

    @property
    def on_time(self) -> bool | None:
        return None if self.deadline is None else self.filed_on <= self.deadline

    @property
    def outcome_label(self) -> str:
        return PENDING_LABEL if self.outcome == PENDING else ObjectionOutcome(self.outcome).label


def objections(events: Iterable[Mapping[str, object]]) -> list[Objection]:
    """The objections of one case from its events in time order: each decision closes the open objection."""
    found: list[Objection] = []
    for event in events:
        if event["action"] == "objection_filed":
            found.append(Objection(event["on"], event.get("due_date"), PENDING))  # type: ignore[arg-type]
        elif event["action"] == "objection_decided" and found and found[-1].outcome == PENDING:
            last = found[-1]
            found[-1] = Objection(last.filed_on, last.deadline, str(event["outcome"]), event["on"])  # type: ignore[arg-type]
    return found


@dataclass(frozen=True)
class ObjectionTerm:
    decided_on: date
    deadline: date
    days_left: int  # calendar days; negative once the term has passed

    @property
    def running(self) -> bool:
        return self.days_left >= 0


def objection_term(decision_date: date | None, beschikking_issued: bool | None, today: date) -> ObjectionTerm | None:
    if decision_date is None or not beschikking_issued:
        return None
    deadline = objection_deadline(decision_date)
    return ObjectionTerm(decision_date, deadline, (deadline - today).days)


# --- re-assessment (herindicatie) -------------------------------------------------------------------------


class ReassessmentOutcome(CodeList, unknown="Onbekende uitkomst van de herindicatie",
                          hint="Kies voortgezet, voortgezet_onbepaalde_tijd, afgeschaald of gestopt."):
    CONTINUED = "voortgezet", "Voortgezet"
    CONTINUED_INDEFINITELY = "voortgezet_onbepaalde_tijd", "Voortgezet voor onbepaalde tijd"
    SCALED_DOWN = "afgeschaald", "Afgeschaald"
    STOPPED = "gestopt", "Gestopt"


# The outcomes after which the provision runs on for a set term, and so gets a next re-assessment date.
NEEDS_NEXT_DUE = frozenset({ReassessmentOutcome.CONTINUED, ReassessmentOutcome.SCALED_DOWN})
INDICATION_MONTHS = 12  # a new individual provision, or one continued, is re-assessed after a year by default
MAX_INDICATION_YEARS = 5
REASSESSABLE = frozenset({S.IN_CARE})  # a running provision (also while on hold from it)
DUE_SOON_DAYS = 30


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; the month's last day when it has no such day (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def first_reassessment_due(care_started: date) -> date:
    """When an individual provision that starts today is first re-assessed."""
    return add_months(care_started, INDICATION_MONTHS)


@dataclass(frozen=True)
class Reassessment:
    talk_on: date
    outcome: ReassessmentOutcome
    next_due: date | None


def check_reassessment(*, acting_status: CaseStatus | str, provision_type: str, outcome: object,
                       talk_on: date | None, next_due: date | None, not_before: date, today: date) -> Reassessment:
    """A re-assessment talk on a running individual provision. Continued or scaled down: a next due date (by
    default a year after the talk, at most five years); continued for an indefinite term or stopped: none
    (a stopped provision then ends through the lifecycle, end reason 36)."""
    if CaseStatus(acting_status) not in REASSESSABLE:
        raise IllegalTransition("Een herindicatie kan alleen bij een lopende voorziening (levering gestart).")
    if provision_type != "individual":
        raise IllegalTransition("Alleen een maatwerkvoorziening wordt geherindiceerd; een algemene voorziening "
                                "heeft geen indicatie.")
    if outcome is None or (isinstance(outcome, str) and not outcome.strip()):
        raise InvalidInput("Kies de uitkomst van het herindicatiegesprek.", field="outcome")
    parsed = ReassessmentOutcome.parse(outcome, field="outcome")
    if talk_on is None:
        raise InvalidInput("Vul de datum van het herindicatiegesprek in.", field="talk_on")
    if talk_on > today:
        raise InvalidInput("De datum van het gesprek ligt in de toekomst.", field="talk_on")
    if talk_on < not_before:
        raise InvalidInput("Het gesprek kan niet vóór de start van de levering liggen.", field="talk_on")
    if parsed in NEEDS_NEXT_DUE:
        next_due = next_due or add_months(talk_on, INDICATION_MONTHS)
        if next_due <= talk_on:
            raise InvalidInput("De volgende herindicatie moet na het gesprek liggen.", field="next_due")
        if next_due > add_months(talk_on, 12 * MAX_INDICATION_YEARS):
            raise InvalidInput(f"De volgende herindicatie ligt hooguit {MAX_INDICATION_YEARS} jaar na het gesprek.",
                               field="next_due")
    elif next_due is not None:
        raise InvalidInput(f"Bij '{parsed.label.lower()}' hoort geen volgende herindicatiedatum.", field="next_due")
    return Reassessment(talk_on, parsed, next_due)


def reassessment_state(due: date | None, today: date) -> str | None:
    """'overdue', 'due_soon', 'planned', or None without a due date."""
    if due is None:
        return None
    if due < today:
        return "overdue"
    return "due_soon" if due <= today + timedelta(days=DUE_SOON_DAYS) else "planned"


# Talks recorded before outcomes were (legacy rows, or another system's import) have no outcome: the SQL that
# counts talks classifies those as stopped when the provision ended after the talk, else as unknown.
UNKNOWN_OUTCOME = "onbekend"


def reassessment_summary(talks_by_outcome: Mapping[str | None, int], overdue: int = 0, due_soon: int = 0) -> dict:
    """The re-assessment figures: talks held, per outcome, how many stopped and which share. One rule for the
    savings indicator ("provisions stopped after re-assessment"), the rights page and the dashboard."""
    counts = {outcome.value: 0 for outcome in ReassessmentOutcome} | {UNKNOWN_OUTCOME: 0}
    for outcome, number in talks_by_outcome.items():
        counts[outcome or UNKNOWN_OUTCOME] = counts.get(outcome or UNKNOWN_OUTCOME, 0) + int(number or 0)
    talks = sum(counts.values())
    stopped = counts[ReassessmentOutcome.STOPPED.value]
    return {
        "talks": talks,
        "by_outcome": [{"code": code, "label": _outcome_label(code), "count": number}
                       for code, number in counts.items() if number or code != UNKNOWN_OUTCOME],
        "stopped": stopped,
        "stopped_pct": stopped * 100 / talks if talks else None,
        "scaled_down": counts[ReassessmentOutcome.SCALED_DOWN.value],
        "overdue": overdue,
        "due_soon": due_soon,
    }


def _outcome_label(code: str) -> str:
    return "Onbekend (geen uitkomst vastgelegd)" if code == UNKNOWN_OUTCOME else ReassessmentOutcome(code).label


def share(part: int, whole: int) -> float | None:
    return part * 100 / whole if whole else None


# --- the case page: what the resident's legal position is on one case -------------------------------------


def beschikking_decision(case: Mapping[str, object], events: Iterable[Mapping[str, object]]) -> date | None:
    """The day of the beschikking an objection can be made against: the latest rejection recorded with a
    beschikking, else the case's decision date when the case says a beschikking was issued."""
    latest = None
    for event in events:
        if event["action"] == CaseAction.REJECT.value and event.get("beschikking_issued"):
            latest = event["on"]
    if latest is not None:
        return latest  # type: ignore[return-value]
    return case.get("decision_date") if case.get("beschikking_issued") else None  # type: ignore[return-value]


def case_panel(case: Mapping[str, object], events: list[Mapping[str, object]], today: date,
               can_record: bool) -> dict:
    """The rights part of a case page from the case row and its events (each with ``on``, its local day):
    the objection term, the objections, re-assessment talks and the next one due, and which forms to offer."""
    decided_on = beschikking_decision(case, events)
    term = objection_term(decided_on, decided_on is not None, today)
    found = objections(events)
    pending = bool(found) and found[-1].outcome == PENDING
    acting = case.get("status_before_hold") or case["status"]
    reassessable = acting in REASSESSABLE and case.get("provision_type") == "individual"
    talks = [{"on": event["on"], "outcome": event.get("outcome"), "next_due": event.get("due_date"),
              "outcome_label": _outcome_label(str(event.get("outcome") or UNKNOWN_OUTCOME))}
             for event in events if event["action"] == "reassessment"]
    turn_away = next((event for event in reversed(events) if event["action"] in TURN_AWAY_ACTIONS), None)
    due = case.get("reassessment_due")
    return {
        "beschikking": decided_on is not None,
        "term": None if term is None else {"decided_on": term.decided_on, "deadline": term.deadline,
                                           "days_left": term.days_left, "running": term.running},
        "objections": [{"filed_on": o.filed_on, "deadline": o.deadline, "on_time": o.on_time,
                        "outcome": o.outcome, "outcome_label": o.outcome_label, "decided_on": o.decided_on}
                       for o in found],
        "pending": pending,
        "pending_since": found[-1].filed_on if pending else None,
        "can_file_objection": can_record and decided_on is not None and not pending,
        "can_decide_objection": can_record and pending,
        "turn_away": None if turn_away is None else {
            "label": TURN_AWAY_PATHS[CaseAction(turn_away["action"])].label,
            "missing": [RECORD_LABELS[name] for name in missing_records(turn_away["action"], turn_away)]},
        "reassessment": {"due": due, "state": reassessment_state(due, today) if reassessable else None,
                         "talks": talks, "can_record": can_record and reassessable,
                         "default_next_due": add_months(today, INDICATION_MONTHS)},
        "objection_outcomes": ObjectionOutcome.choices(),
        "reassessment_outcomes": ReassessmentOutcome.choices(),
    }


def outcome_label(action: str, outcome: str | None) -> str:
    """The Dutch label of an event's outcome (objection decided, re-assessment), or '' without one."""
    if not outcome:
        return ""
    codes = ObjectionOutcome if action == "objection_decided" else ReassessmentOutcome
    try:
        return codes(outcome).label
    except ValueError:
        return outcome
