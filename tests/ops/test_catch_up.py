"""Jobs whose work is recorded in the database survive a Redis outage: an export asked for while Redis is
unreachable is accepted (no 500) and stays queued; the catch-up job queues it once Redis answers, and an
arq worker (real Redis, database 15) runs it. Queueing the same export twice queues it once."""

import os
from datetime import timedelta

import pytest

from portal.exports import service as exports_service
from portal.exports.tables import ExportJob
from portal.lib.queue import QueueUnavailable, enqueue, enqueue_recorded
from portal.lib.tables_base import utc_now
from portal.ops import jobs, service
from portal.ops.tables import JobRun
from portal.settings import Settings
from tests import factories
from workers import settings as worker_settings

REDIS_URL = os.environ["PORTAL_TEST_REDIS_URL"]
NO_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
HTML = {"accept": "text/html"}


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality")
    main = await factories.organisation("main_contractor")
    contract = await factories.contract(municipality, main)
    for _ in range(3):
        await factories.case(contract)
    return {"app": app, "coordinator": await factories.user(main, "coordinator")}


async def test_an_export_asked_for_without_redis_waits_queued_and_the_catch_up_runs_it(world, redis_pool,
                                                                                        monkeypatch):
    monkeypatch.setattr(exports_service, "DIRECT_LIMIT", 1)
    world["app"].state.settings = Settings(redis_url=NO_REDIS)
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        response = await http.get("/casussen/export.csv", headers=HTML)
        assert response.status_code == 303, response.text[:300]  # accepted, not a 500
        export_id = int(response.headers["location"].rsplit("/", 1)[1])
        page = await http.get(f"/exports/{export_id}", headers=HTML)
        assert page.status_code == 200 and "In de wachtrij" in page.text
    assert await ExportJob.select(ExportJob.status).where(ExportJob.id == export_id).first() == {"status": "queued"}
    assert await redis_pool.zcard("arq:queue") == 0  # nothing reached Redis

    # Redis answers again: the worker's catch-up queues the export, a worker runs it
    monkeypatch.setattr("portal.settings.get_settings", lambda: Settings(redis_url=REDIS_URL))
    summary = await jobs.catch_up({"runner": "arq"})
    assert summary == {"exports": 1, "queued": 1, "abandoned": 0}
    again = await jobs.catch_up({"runner": "arq"})  # queued twice: one job (a stable job id)
    assert again["queued"] == 1 and await redis_pool.zcard("arq:queue") == 1
    worker = await factories.burst_worker(redis_pool)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await ExportJob.select(ExportJob.status).where(ExportJob.id == export_id).first() == {"status": "done"}
    assert await jobs.catch_up({"runner": "arq"}) == {"exports": 0, "queued": 0, "abandoned": 0}


async def test_unfinished_exports_are_the_queued_ones_and_long_running_ones(world):
    user = world["coordinator"]
    rows = {}
    for status in ("queued", "running", "done", "failed", "expired"):
        row = ExportJob(user=user.id, kind="cases", format="csv", status=status)
        await row.save()
        rows[status] = row.id
    assert await service.unfinished_exports(timedelta(hours=1)) == [rows["queued"]]
    # a running export older than the job timeout: its worker died (and Redis may have lost the job)
    assert await service.unfinished_exports(timedelta(seconds=-1)) == [rows["queued"], rows["running"]]


async def test_runs_whose_worker_died_are_closed_as_abandoned(db):
    old = JobRun(job="scan_signals", runner="arq", started_at=utc_now() - timedelta(hours=2))
    await old.save()
    recent = await service.record_job_start("scan_signals", "arq")
    done = await service.record_job_start("heartbeat", "arq")
    await service.record_job_end(done, "ok", {})
    assert await service.close_abandoned_runs(timedelta(hours=1)) == 1
    outcomes = {row["id"]: row["outcome"] for row in await JobRun.select(JobRun.id, JobRun.outcome)}
    assert outcomes == {old.id: "abandoned", recent: "running", done: "ok"}
    assert await service.close_abandoned_runs(timedelta(hours=1)) == 0


async def test_queueing_fails_fast_with_a_typed_error_when_redis_is_unreachable(db):
    with pytest.raises(QueueUnavailable):
        await enqueue(Settings(redis_url=NO_REDIS), jobs.heartbeat)
    assert await enqueue_recorded(Settings(redis_url=NO_REDIS), jobs.heartbeat, job_id="heartbeat:x") is False


def test_the_worker_waits_for_redis_instead_of_exiting_and_runs_the_catch_up_often():
    redis = worker_settings.WorkerSettings.redis_settings
    assert redis.retry is not None and redis.retry._retries < 0  # for ever, with back-off
    assert OSError in redis.retry_on_error  # a refused connection too
    crons = {job.coroutine: job for job in worker_settings.WorkerSettings.cron_jobs}
    assert crons[jobs.catch_up].unique and crons[jobs.catch_up].run_at_startup
    assert len(crons[jobs.catch_up].second) == 6  # every 10 seconds
