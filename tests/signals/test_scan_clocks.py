"""The scan's set-based legal-term path gives what ``compute_clocks`` gives (pure: no database).

The scan's SQL finds, per case and clock, the first status step that stops the clock (on or after its start,
up to today); ``_unpaused_clock`` turns that into the exceeded clock of a case that was never on hold. Here
the first stop is computed from a generated history the way the SQL does, and the result is compared with
the exceeded clocks of ``compute_clocks``. The SQL itself is covered by the service tests on both databases.
"""

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.cases.clocks import CaseDates, StatusChange, compute_clocks
from portal.cases.rules import CaseStatus as S
from portal.lib.formatting import AMSTERDAM
from portal.signals.service import _LEGAL_CLOCKS, _unpaused_clock

STATUSES = [status for status in S if status is not S.ON_HOLD]


@st.composite
def case_histories(draw):
    melding = draw(st.dates(date(2025, 1, 1), date(2026, 10, 1)))
    steps = draw(st.lists(st.tuples(st.integers(0, 60), st.sampled_from(STATUSES)), max_size=6))
    history, on = [], melding
    for gap, status in steps:
        on += timedelta(days=gap)
        history.append(StatusChange(on, status))
    aanvraag = draw(st.none() | st.builds(lambda d: melding + timedelta(days=d), st.integers(0, 90)))
    decision = None
    if aanvraag is not None:
        decision = draw(st.none() | st.builds(lambda d: aanvraag + timedelta(days=d), st.integers(0, 60)))
    today = melding + timedelta(days=draw(st.integers(0, 200)))
    return CaseDates(melding, aanvraag, decision, draw(st.booleans())), history, today


def first_stop(clock, dates: CaseDates, history: list[StatusChange], today: date) -> datetime | None:
    """What the scan's SQL returns: the earliest stopping step on or after the clock's start, up to today."""
    start = getattr(dates, clock.starts_at)
    days = [change.at for change in history
            if start is not None and start <= change.at <= today and change.status in clock.stops_on_entering]
    return datetime.combine(min(days), time(23, 30), tzinfo=AMSTERDAM) if days else None  # late: day edge


def stop_day(moment: datetime | None) -> date | None:
    """The Amsterdam day of that moment, as the SQL hands it over (``amsterdam_day_sql``)."""
    return moment.astimezone(AMSTERDAM).date() if moment is not None else None


@settings(max_examples=400, deadline=None)
@given(case_histories())
def test_the_set_based_path_finds_exactly_the_exceeded_clocks_of_compute_clocks(case):
    dates, history, today = case
    expected = [state for state in compute_clocks(dates, history, today, _LEGAL_CLOCKS)
                if state.exceeded_since is not None and state.exceeded_since <= today]
    found = [state for clock in _LEGAL_CLOCKS
             if (state := _unpaused_clock(clock, dates, stop_day(first_stop(clock, dates, history, today)), today))]
    assert found == expected
