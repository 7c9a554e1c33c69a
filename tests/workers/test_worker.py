"""The arq worker against real Redis (PORTAL_TEST_REDIS_URL, default db 15). Unreachable Redis fails."""

import os

import pytest

from portal.lib.queue import enqueue
from portal.ops.jobs import heartbeat
from portal.ops.tables import JobRun
from portal.settings import Settings
from tests import factories
from workers import settings as worker_settings

REDIS_URL = os.environ["PORTAL_TEST_REDIS_URL"]


async def test_job_queued_on_redis_runs_in_a_worker_and_reaches_the_database(db, redis_pool):
    job = await enqueue(Settings(redis_url=REDIS_URL), heartbeat)
    assert job is not None and job.job_id
    worker = await factories.burst_worker(redis_pool)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await job.result(timeout=5) == {"database": True, "millis": pytest.approx(0, abs=5000)}
    runs = await JobRun.select().where(JobRun.job == "heartbeat")
    assert len(runs) == 1
    assert runs[0]["runner"] == "arq" and runs[0]["outcome"] == "ok"


async def test_without_redis_the_same_job_runs_in_process(db):
    summary = await enqueue(Settings(redis_url=None), heartbeat)
    assert summary["database"] is True
    runs = await JobRun.select(JobRun.runner, JobRun.outcome)
    assert runs == [{"runner": "in_process", "outcome": "ok"}]


async def test_worker_schedule_covers_every_job():
    scheduled = {job.coroutine for job in worker_settings.WorkerSettings.cron_jobs}
    assert scheduled == set(worker_settings.SCHEDULE)
    assert set(worker_settings.SCHEDULE) <= set(worker_settings.JOBS)


async def test_health_includes_redis_when_configured(db):
    import httpx

    from portal.app import create_app

    for url, expected_status in ((REDIS_URL, 200), ("redis://127.0.0.1:1/0", 503)):
        app = create_app(Settings(redis_url=url))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/health")
        assert response.status_code == expected_status
        checks = {check["name"]: check["ok"] for check in response.json()["checks"]}
        assert checks == {"database": True, "redis": expected_status == 200}
