"""Business days and quarters are Amsterdam days, also for moments between 22:00/23:00 and 00:00 UTC (when UTC
is still on the day before) and on SQLite, which knows no time zones (portal.db.amsterdam_local). These
moments are fixed, so the checks do not depend on the hour the suite runs at."""

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.dashboard import service as dashboard
from portal.db import amsterdam_local, stored_date
from portal.lib.formatting import AMSTERDAM
from portal.savings import service as savings
from tests import factories

LATE_EVENING = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 26-11-2026 00:30 in Amsterdam
NEW_YEAR = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 01-01-2027 00:30 in Amsterdam: Q1 2027
SUMMER_NIGHT = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)  # 01-07-2026 00:30 in Amsterdam (CEST): Q3 2026


@pytest.mark.parametrize("moment", [LATE_EVENING, NEW_YEAR, SUMMER_NIGHT, datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
                                    datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 59, tzinfo=UTC),
                                    datetime(2026, 10, 25, 1, 0, tzinfo=UTC)])
def test_sqlite_reads_a_stored_utc_moment_as_amsterdam_wall_clock_time(moment):
    expected = moment.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M:%S")
    assert amsterdam_local(str(moment)) == expected
    assert amsterdam_local(str(moment + timedelta(microseconds=1234))) == expected
    assert amsterdam_local(moment.isoformat()) == expected
    assert amsterdam_local(None) is None


@pytest.mark.parametrize("moment", [LATE_EVENING, NEW_YEAR, SUMMER_NIGHT])
def test_a_stored_moment_reads_as_its_amsterdam_day_however_it_comes_back(moment):
    day = moment.astimezone(AMSTERDAM).date()
    # an aware datetime (PostgreSQL), the stored text (SQLite), a naive UTC moment, and a date column as text
    for stored in (moment, str(moment), str(moment + timedelta(microseconds=1234)), moment.replace(tzinfo=None)):
        assert stored_date(stored) == day
    assert stored_date(day.isoformat()) == day and stored_date(day) == day and stored_date(None) is None


async def test_the_dashboard_counts_days_and_quarters_in_amsterdam_time(db):
    contract = await factories.contract(await factories.organisation("municipality"),
                                        await factories.organisation("main_contractor"), start_date=date(2020, 1, 1))
    sub = await factories.organisation("subcontractor")
    case = await factories.case(contract, "in_care", subcontractor=sub.id, melding_date=date(2026, 11, 16),
                                status_since=LATE_EVENING)
    await factories.event(case, "allocation_requested", sub, occurred_at=datetime(2026, 11, 20, 23, 15, tzinfo=UTC))
    await factories.event(case, "in_care", sub, action="start_care", occurred_at=LATE_EVENING)
    for moment in (NEW_YEAR, SUMMER_NIGHT):
        await factories.event(case, "registered", action="register", occurred_at=moment)
        await factories.event(case, "in_care", sub, action="refer_collective", occurred_at=moment)

    load = await dashboard._case_load(contract.id)
    assert [str(row["since"]) for row in load] == ["2026-11-26"]
    flows = await dashboard._flows(contract.id)
    assert [(row["melding_days"], row["wait_days"]) for row in flows] == [(10, 5)]  # 16-11 -> 26-11, 21-11 -> 26-11
    trends = await dashboard._trend_rows(contract.id, date(2026, 7, 1))  # from 01-07 00:00 in Amsterdam
    assert sorted((row["action"], int(row["year"]), int(row["quarter"]), row["n"]) for row in trends) == [
        ("refer_collective", 2026, 3, 1), ("refer_collective", 2027, 1, 1),
        ("register", 2026, 3, 1), ("register", 2027, 1, 1)]
    indicators = await savings.leading_indicators(contract.id)
    assert [(q["quarter"], q["collective"], q["individual"]) for q in indicators["quarters"]] == [
        ("2026-K3", 1, 0), ("2026-K4", 0, 1), ("2027-K1", 1, 0)]  # the start of care on 26-11: individual
