"""Operational use cases: health of the database and Redis, and the job ledger."""

import time
from dataclasses import dataclass

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
        return Check("database", False, type(exc).__name__, _ms(started))
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
        return Check("redis", False, type(exc).__name__, _ms(started))
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


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
