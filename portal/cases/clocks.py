"""The legal and iWmo clocks of a case. Pure: no I/O, no framework.

A clock starts at a key date of the case or when the case enters a status, and stops at a key date or
when the case enters one of a set of statuses. Its term is in calendar weeks (ending on a working day,
Atw art. 1) or in working days (portal.lib.calendar_nl). Time the case spends ``on_hold`` while a clock
runs does not count: the deadline moves on by the paused calendar days (week terms) or paused working
days (working-day terms). A pause that begins after the deadline has passed does not undo the excess.

The clocks are the rows of ``CLOCKS``: a new clock is a new row.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

from portal.cases.rules import CaseStatus
from portal.lib.calendar_nl import add_weeks_atw, add_working_days, working_days_between

_ONE_DAY = timedelta(days=1)
S = CaseStatus


class TermUnit(StrEnum):
    """How a term is counted; the value is the unit ``days_left`` is shown in."""

    WEEKS = "kalenderdagen"  # calendar weeks, extended to a working day (Atw art. 1)
    WORKING_DAYS = "werkdagen"


@dataclass(frozen=True)
class CaseDates:
    """The key dates of a case."""

    melding_date: date
    aanvraag_date: date | None = None
    decision_date: date | None = None
    beschikking_issued: bool = False


@dataclass(frozen=True)
class StatusChange:
    """The case entered ``status`` on day ``at``. A history lists these in order."""

    at: date
    status: CaseStatus


@dataclass(frozen=True)
class ClockDefinition:
    code: str
    label: str
    legal_basis: str
    term: int
    unit: TermUnit
    # Start: a key date (a CaseDates field name) or the latest entry into a status (one of the two).
    starts_at: str | None = None
    starts_on_entering: CaseStatus | None = None
    # Stop: a key date, and/or the first entry into one of these statuses after the start.
    stops_at: str | None = None
    stops_on_entering: frozenset[CaseStatus] = frozenset()
    # A term of the resident (not of a party): it runs until its deadline and cannot be exceeded.
    runs_to_deadline: bool = False
    needs_beschikking: bool = False
    pausable: bool = True


@dataclass(frozen=True)
class ClockState:
    code: str
    label: str
    legal_basis: str
    started_on: date
    deadline: date
    stopped_on: date | None
    paused: bool
    days_left: int | None  # in ``unit``; negative when exceeded; None when stopped
    exceeded_since: date | None  # the first day after the deadline, if exceeded (also when stopped late)
    met: bool | None  # None while running
    unit: str


_DECISION_STATUSES = frozenset(
    {S.ALLOCATION_REQUESTED, S.WAITING_LIST, S.REJECTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN}
)

CLOCKS: tuple[ClockDefinition, ...] = (
    ClockDefinition(
        code="assessment",
        label="Onderzoek (Wmo art. 2.3.2)",
        legal_basis="Wmo 2015 art. 2.3.2",
        term=6,
        unit=TermUnit.WEEKS,
        starts_at="melding_date",
        stops_on_entering=_DECISION_STATUSES,
    ),
    ClockDefinition(
        code="decision",
        label="Beschikking (Wmo art. 2.3.5)",
        legal_basis="Wmo 2015 art. 2.3.5",
        term=2,
        unit=TermUnit.WEEKS,
        starts_at="aanvraag_date",
        stops_at="decision_date",
        stops_on_entering=frozenset({S.REJECTED, S.ALLOCATION_REQUESTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN}),
    ),
    ClockDefinition(
        code="allocation_answer",
        label="Antwoord op toewijzingsverzoek (iWmo)",
        legal_basis="iWmo OP274",
        term=5,
        unit=TermUnit.WORKING_DAYS,
        starts_on_entering=S.ALLOCATION_REQUESTED,
        # Any move out of allocation_requested answers the request; on_hold only pauses it.
        stops_on_entering=frozenset(CaseStatus) - {S.ALLOCATION_REQUESTED, S.ON_HOLD},
    ),
    ClockDefinition(
        code="objection",
        label="Bezwaartermijn (Awb art. 6:7)",
        legal_basis="Awb art. 6:7",
        term=6,
        unit=TermUnit.WEEKS,
        starts_at="decision_date",
        runs_to_deadline=True,
        needs_beschikking=True,
        pausable=False,
    ),
)


def compute_clocks(
    case_dates: CaseDates,
    history: list[StatusChange],
    today: date,
    clocks: tuple[ClockDefinition, ...] = CLOCKS,
) -> list[ClockState]:
    """The state on ``today`` of every clock that has started, in the order of ``clocks``.

    Status changes and key dates after ``today`` are not known yet and are ignored.
    """
    if any(later.at < earlier.at for earlier, later in zip(history, history[1:], strict=False)):
        raise ValueError("the status history must be in date order")
    known = [change for change in history if change.at <= today]
    states = []
    for clock in clocks:
        state = _compute_clock(clock, case_dates, known, today)
        if state is not None:
            states.append(state)
    return states


def _key_date(case_dates: CaseDates, field: str | None, today: date) -> date | None:
    value = getattr(case_dates, field) if field else None
    return value if value is not None and value <= today else None


def _find_start(
    clock: ClockDefinition, case_dates: CaseDates, history: list[StatusChange], today: date
) -> tuple[date, int] | None:
    """The start date and the index of the first status change that may stop the clock."""
    if clock.starts_at is not None:
        start = _key_date(case_dates, clock.starts_at, today)
        if start is None:
            return None
        first = next((i for i, change in enumerate(history) if change.at >= start), len(history))
        return start, first
    latest = None
    for i, change in enumerate(history):
        if change.status == clock.starts_on_entering and not _is_resumption(history, i):
            latest = i
    return None if latest is None else (history[latest].at, latest + 1)


def _is_resumption(history: list[StatusChange], i: int) -> bool:
    """True when change ``i`` returns from on_hold to the status the case was in before the pause."""
    j = i - 1
    while j >= 0 and history[j].status == S.ON_HOLD:
        j -= 1
    return j < i - 1 and j >= 0 and history[j].status == history[i].status


def _pauses(history: list[StatusChange], start: date, end: date) -> list[tuple[date, date]]:
    """The on_hold periods [first, last] within (start, end]: the days on which the case was on hold."""
    pauses = []
    for i, change in enumerate(history):
        if change.status != S.ON_HOLD or (i > 0 and history[i - 1].status == S.ON_HOLD):
            continue
        resumed = next((later.at for later in history[i + 1 :] if later.status != S.ON_HOLD), None)
        first = max(change.at, start + _ONE_DAY)
        last = min(resumed - _ONE_DAY if resumed else end, end)
        if first <= last:
            pauses.append((first, last))
    return pauses


def _deadline(clock: ClockDefinition, start: date, pauses: list[tuple[date, date]]) -> date:
    """The deadline, moved on by every pause that began on or before the deadline as it then stood."""
    paused = 0
    deadline = _term_end(clock, start, paused)
    for first, last in pauses:
        if first > deadline:
            break  # the term had already run out: a later pause does not undo that
        if clock.unit == TermUnit.WORKING_DAYS:
            paused += working_days_between(first - _ONE_DAY, last)
        else:
            paused += (last - first).days + 1
        deadline = _term_end(clock, start, paused)
    return deadline


@lru_cache(maxsize=8192)
def term_deadline(clock: ClockDefinition, start: date) -> date:
    """The deadline of ``clock`` started on ``start`` when nothing pauses it: it depends on the start date
    only, so a scan over many cases computes it once per distinct date."""
    return _term_end(clock, start, 0)


def _term_end(clock: ClockDefinition, start: date, paused: int) -> date:
    if clock.unit == TermUnit.WORKING_DAYS:
        return add_working_days(start, clock.term + paused)
    return add_weeks_atw(start + timedelta(days=paused), clock.term)


def _compute_clock(
    clock: ClockDefinition, case_dates: CaseDates, history: list[StatusChange], today: date
) -> ClockState | None:
    if clock.needs_beschikking and not case_dates.beschikking_issued:
        return None
    found = _find_start(clock, case_dates, history, today)
    if found is None:
        return None
    start, first_possible_stop = found

    stops = [
        change.at for change in history[first_possible_stop:] if change.status in clock.stops_on_entering
    ]
    stop_date = _key_date(case_dates, clock.stops_at, today)
    if stop_date is not None:
        stops.append(max(stop_date, start))
    stopped_on = min(stops, default=None)

    end = stopped_on or today
    pauses = _pauses(history, start, end) if clock.pausable else []
    deadline = _deadline(clock, start, pauses)

    if clock.runs_to_deadline and stopped_on is None and today > deadline:
        stopped_on = deadline  # the term has run its course

    exceeded_since = None
    if stopped_on is not None:
        days_left = None
        met = stopped_on <= deadline
        paused = False
        if not met:
            exceeded_since = deadline + _ONE_DAY
    else:
        met = None
        paused = bool(history) and history[-1].status == S.ON_HOLD and clock.pausable
        days_left = _days_left(clock.unit, today, deadline)
        if today > deadline:
            exceeded_since = deadline + _ONE_DAY

    return ClockState(
        code=clock.code,
        label=clock.label,
        legal_basis=clock.legal_basis,
        started_on=start,
        deadline=deadline,
        stopped_on=stopped_on,
        paused=paused,
        days_left=days_left,
        exceeded_since=exceeded_since,
        met=met,
        unit=clock.unit.value,
    )


def _days_left(unit: TermUnit, today: date, deadline: date) -> int:
    if unit == TermUnit.WEEKS:
        return (deadline - today).days
    if today > deadline:
        # At least -1 once exceeded, also on a weekend straight after the deadline.
        return -max(1, working_days_between(deadline, today))
    return working_days_between(today, deadline)
