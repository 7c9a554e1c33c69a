"""The signal scan as an arq job against real Redis (PORTAL_TEST_REDIS_URL, default db 15)."""

import os
from datetime import UTC, datetime, time, timedelta

import pytest
from arq.worker import Retry, func

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
    worker = await factories.burst_worker(redis_pool)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    result = await job.result(timeout=5)
    assert result["rules"]["stalled"]["created"] == 3
    rows = await Signal.select(Signal.case, Signal.rule, Signal.status)
    assert sorted(row["case"] for row in rows) == sorted(case_ids)
    assert {(row["rule"], row["status"]) for row in rows} == {("stalled", "open")}

    again = await enqueue(Settings(redis_url=REDIS_URL), scan_signals)
    await factories.burst_worker(redis_pool)
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


async def _stalled_and_late_cases(count: int) -> list[int]:
    """Cases in assessment since long before the 6-week legal term: the stalled and the legal-term rule
    (two separate steps of the scan, each its own transaction) both fire for each."""
    day = service.today_nl() - timedelta(days=70)
    since = datetime.combine(day, time(12), tzinfo=AMSTERDAM).astimezone(UTC)
    municipality = await factories.organisation("municipality")
    main = await factories.organisation("main_contractor")
    contract = await factories.contract(municipality, main)
    return [(await factories.case(contract, status="assessment", status_since=since, melding_date=day)).id
            for _ in range(count)]


async def _signal_rows() -> list[tuple]:
    rows = await Signal.select(Signal.dedup_key, Signal.rule, Signal.case, Signal.status, Signal.severity,
                               Signal.escalation_level, Signal.owner_organisation).order_by(Signal.dedup_key)
    return [tuple(row.values()) for row in rows]


def _fail_once(monkeypatch) -> list[int]:
    """The legal-term step (after the stalled step has committed) raises on its first call only."""
    calls: list[int] = []
    real = service._scan_legal_terms

    async def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker died halfway the scan")
        return await real(*args)

    monkeypatch.setattr(service, "_scan_legal_terms", flaky)
    return calls


async def _clean_run_rows() -> list[tuple]:
    """What one uninterrupted scan over the same cases writes, from an empty signal table."""
    await Signal.delete(force=True)
    await service.run_scan()
    return await _signal_rows()


async def test_a_scan_that_dies_halfway_is_completed_by_the_next_tick_without_duplicates(db, redis_pool,
                                                                                          monkeypatch):
    """arq tries a cron job once: the failed run leaves the stalled signals (committed) and the next tick's
    run adds the rest. The end state equals a clean run's, with no duplicates."""
    case_ids = await _stalled_and_late_cases(3)
    calls = _fail_once(monkeypatch)
    failed = await enqueue(Settings(redis_url=REDIS_URL), scan_signals)
    worker = await factories.burst_worker(redis_pool)
    assert worker.jobs_failed == 1 and worker.jobs_complete == 0
    with pytest.raises(RuntimeError):
        await failed.result(timeout=5)
    assert {row[1] for row in await _signal_rows()} == {"stalled"}  # the rule before the crash is whole

    tick = await enqueue(Settings(redis_url=REDIS_URL), scan_signals)
    worker = await factories.burst_worker(redis_pool)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0 and len(calls) == 2
    result = await tick.result(timeout=5)
    assert result["rules"]["stalled"]["created"] == 0 and result["rules"]["legal_term_exceeded"]["created"] == 3
    after_retry = await _signal_rows()
    assert {(row[1], row[2]) for row in after_retry} >= {(rule, case_id) for case_id in case_ids
                                                         for rule in ("stalled", "legal_term_exceeded")}
    assert len({row[0] for row in after_retry}) == len(after_retry)
    runs = await JobRun.select(JobRun.outcome).where(JobRun.job == "scan_signals").order_by(JobRun.id)
    assert [run["outcome"] for run in runs] == ["failed", "ok"]
    assert after_retry == await _clean_run_rows()


async def test_arq_retries_a_scan_that_failed_halfway_and_the_retry_completes_it(db, redis_pool, monkeypatch):
    """A job wrapper that asks arq to retry on failure: arq runs the job again (try 2) in the same worker
    and the result is exactly a clean run's signals."""
    await _stalled_and_late_cases(2)
    calls = _fail_once(monkeypatch)

    async def scan_with_retry(ctx):
        try:
            return await scan_signals(ctx)
        except RuntimeError as exc:
            raise Retry(defer=0) from exc

    job = await redis_pool.enqueue_job("scan_with_retry")
    worker = await factories.burst_worker(redis_pool, [func(scan_with_retry, name="scan_with_retry", max_tries=3)])
    assert worker.jobs_retried == 1 and worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert (await job.info()).job_try == 2 and len(calls) == 2
    result = await job.result(timeout=5)
    assert result["rules"]["legal_term_exceeded"]["created"] == 2
    after_retry = await _signal_rows()
    assert len({row[0] for row in after_retry}) == len(after_retry)
    assert after_retry == await _clean_run_rows()
