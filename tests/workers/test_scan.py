"""The signal scan as an arq job against real Redis (PORTAL_TEST_REDIS_URL, default db 15)."""

import os
from datetime import UTC, datetime, time, timedelta

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from portal.lib.calendar_nl import is_working_day
from portal.lib.formatting import AMSTERDAM
from portal.lib.queue import enqueue
from portal.ops.tables import JobRun
from portal.settings import Settings
from portal.signals import service
from portal.signals.jobs import scan_signals, send_digests
from portal.signals.tables import Signal
from tests import factories
from workers import settings as worker_settings

REDIS_URL = os.environ["PORTAL_TEST_REDIS_URL"]


@pytest.fixture
async def redis_pool():
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    await pool.flushdb()
    yield pool
    await pool.flushdb()
    await pool.aclose()


async def _burst(redis_pool) -> Worker:
    worker = Worker(functions=worker_settings.WorkerSettings.functions, redis_pool=redis_pool, burst=True,
                    poll_delay=0.05, on_startup=worker_settings.startup, handle_signals=False)
    await worker.main()
    await worker.close()
    return worker


async def _stalled_cases(count: int) -> list[int]:
    day, n = service.today_nl(), 15
    while n:
        day -= timedelta(days=1)
        n -= is_working_day(day)
    since = datetime.combine(day, time(12), tzinfo=AMSTERDAM).astimezone(UTC)
    municipality = await factories.organisation("municipality")
    main = await factories.organisation("main_contractor")
    contract = await factories.contract(municipality, main)
    return [(await factories.case(contract, status="registered", status_since=since, melding_date=day)).id
            for _ in range(count)]


async def test_the_scan_job_runs_in_an_arq_worker_and_a_second_run_creates_nothing(db, redis_pool):
    case_ids = await _stalled_cases(3)
    job = await enqueue(Settings(redis_url=REDIS_URL), scan_signals)
    worker = await _burst(redis_pool)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    result = await job.result(timeout=5)
    assert result["rules"]["stalled"]["created"] == 3
    rows = await Signal.select(Signal.case, Signal.rule, Signal.status)
    assert sorted(row["case"] for row in rows) == sorted(case_ids)
    assert {(row["rule"], row["status"]) for row in rows} == {("stalled", "open")}

    again = await enqueue(Settings(redis_url=REDIS_URL), scan_signals)
    await _burst(redis_pool)
    second = await again.result(timeout=5)
    assert sum(rule["created"] for rule in second["rules"].values()) == 0
    assert await Signal.count() == 3
    runs = await JobRun.select(JobRun.runner, JobRun.outcome).where(JobRun.job == "scan_signals")
    assert runs == [{"runner": "arq", "outcome": "ok"}] * 2


async def test_the_digest_job_runs_in_process_without_redis(db):
    summary = await enqueue(Settings(redis_url=None), send_digests)
    assert summary["people"] == 0
    runs = await JobRun.select(JobRun.runner, JobRun.outcome).where(JobRun.job == "send_digests")
    assert runs == [{"runner": "in_process", "outcome": "ok"}]


def test_the_scan_and_digest_have_unique_cron_entries_and_an_in_process_schedule():
    crons = {job.coroutine: job for job in worker_settings.WorkerSettings.cron_jobs}
    for job in (scan_signals, send_digests):
        assert job in crons and crons[job].unique is True
        assert job in worker_settings.JOBS and worker_settings.SCHEDULE[job] > 0
    assert crons[scan_signals].minute == {7}
