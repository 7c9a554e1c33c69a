"""Operational use cases: health of the database and Redis, and the job ledger."""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from portal.accounts.tables import Organisation
from portal.lib.tables_base import utc_now
from portal.ops.tables import JobRun


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    millis: float


async def check_database() -> Check:
    started = time.perf_counter()
    try:
        await Organisation.raw("SELECT 1")
    except Exception as exc:  # any driver error means: not healthy
        return Check("database", False, f"niet bereikbaar ({type(exc).__name__})", _ms(started))
    return Check("database", True, "bereikbaar", _ms(started))


async def check_redis(redis_url: str | None) -> Check | None:
    if not redis_url:
        return None
    from redis.asyncio import Redis

    started = time.perf_counter()
    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # any connection error means: not healthy
        return Check("redis", False, f"niet bereikbaar ({type(exc).__name__}): achtergrondtaken wachten tot Redis "
                     "terug is", _ms(started))
    finally:
        await client.aclose()
    return Check("redis", True, "bereikbaar", _ms(started))


async def record_job_start(job: str, runner: str) -> int:
    row = JobRun(job=job, runner=runner)
    await row.save()
    return row.id


async def record_job_end(run_id: int, outcome: str, summary: dict) -> None:
    await JobRun.update({JobRun.finished_at: utc_now(), JobRun.outcome: outcome, JobRun.summary: summary}).where(
        JobRun.id == run_id
    )


async def run_recorded(job: str, ctx: dict, work: Callable[[str], Awaitable[dict]]) -> dict:
    """Run a job's ``work(runner)`` as one ledger row: 'running', then 'ok' with the summary it returns, or
    'failed' with only the exception's type (never its message: it may hold data) before re-raising, so arq
    sees the failure."""
    runner = ctx.get("runner", "arq")
    run_id = await record_job_start(job, runner)
    try:
        summary = await work(runner)
    except Exception as exc:
        await record_job_end(run_id, "failed", {"error": type(exc).__name__})
        raise
    await record_job_end(run_id, "ok", summary)
    return summary


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def close_abandoned_runs(older_than: timedelta) -> int:
    """Ledger rows of runs whose worker died (still 'running' after longer than any job may run) become
    'abandoned', so the ledger does not show them as running for ever. Returns how many."""
    cutoff = utc_now() - older_than
    closed = await JobRun.update({JobRun.outcome: "abandoned", JobRun.finished_at: utc_now()}).where(
        JobRun.outcome == "running", JobRun.started_at < cutoff).returning(JobRun.id)
    return len(closed)


async def unfinished_exports(running_for_longer_than: timedelta) -> list[int]:
    """Exports still waiting for their job: every queued one, and running ones started long enough ago that
    their worker must have died (a job cannot run longer than the job timeout)."""
    from portal.exports.tables import ExportJob

    cutoff = utc_now() - running_for_longer_than
    rows = await ExportJob.select(ExportJob.id).where(
        (ExportJob.status == "queued") | ((ExportJob.status == "running") & (ExportJob.created_at < cutoff))
    ).order_by(ExportJob.id)
    return [row["id"] for row in rows]
