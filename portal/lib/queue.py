"""Background jobs: arq on Redis when PORTAL_REDIS_URL is set, otherwise in-process on a timer.

Both run the same job functions (``async def job(ctx, *ids)``), so the embedded default behaves
like production. Jobs are idempotent, because arq delivers at least once.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from portal.settings import Settings

log = logging.getLogger("portal.queue")

JobFunction = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class ScheduledJob:
    function: JobFunction
    every_seconds: int


class InProcessRunner:
    """Runs scheduled jobs on a timer inside the portal process (no Redis needed)."""

    def __init__(self, jobs: list[ScheduledJob]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job)) for job in self.jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def enqueue(self, function: JobFunction, *args: object) -> object:
        return await function({"runner": "in_process"}, *args)

    async def _loop(self, job: ScheduledJob) -> None:
        while True:
            try:
                await job.function({"runner": "in_process"})
            except Exception:  # a failing job must not stop the timer; the next tick catches up
                log.exception("job %s failed", job.function.__name__)
            await asyncio.sleep(job.every_seconds)


def portal_redis_settings(url: str):
    """Redis as the portal processes use it: fail fast (a web request must not hang on a dead Redis)."""
    from arq.connections import RedisSettings

    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout, settings.conn_retries = 2, 0
    return settings


def worker_redis_settings(url: str):
    """Redis as a worker uses it: when Redis goes away the worker waits for it (retrying with back-off, for
    ever) instead of exiting, and picks up its queue when Redis is back."""
    from arq.connections import RedisSettings
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    settings = RedisSettings.from_dsn(url)
    settings.conn_retries, settings.conn_retry_delay = 30, 2
    # OSError: a refused connection while Redis is down is retried too (redis-py only retries its own errors)
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    settings.retry = Retry(ExponentialBackoff(cap=5, base=0.2), retries=-1)
    return settings


class QueueUnavailable(Exception):
    """Redis cannot be reached: the job was not queued."""


async def enqueue(settings: Settings, function: JobFunction, *args: object, job_id: str | None = None) -> object:
    """Queue a job on arq, or run it now in-process when no Redis is configured.

    ``job_id``: a stable id (e.g. ``export:12``) so that queueing the same work twice queues it once; arq
    refuses a second job with the id of one still queued, running or with its result kept.
    Raises :class:`QueueUnavailable` when Redis cannot be reached."""
    if not settings.redis_url:
        return await InProcessRunner([]).enqueue(function, *args)
    from arq import create_pool
    from redis.exceptions import RedisError

    try:
        pool = await create_pool(portal_redis_settings(settings.redis_url))
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc
    try:
        return await pool.enqueue_job(function.__name__, *args, _job_id=job_id)
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc
    finally:
        await pool.aclose()


async def enqueue_recorded(settings: Settings, function: JobFunction, *args: object, job_id: str) -> bool:
    """Queue a job whose work is recorded in the database (e.g. an ``ExportJob`` row in status queued).

    When Redis is down the job is not lost: the row stays queued and the worker's catch-up job
    (``portal.ops.jobs.catch_up``, every minute) queues it again once Redis is back. Returns whether it was
    queued now."""
    try:
        await enqueue(settings, function, *args, job_id=job_id)
    except QueueUnavailable as exc:
        log.warning("Redis unreachable, job %s left for the catch-up: %s", job_id, exc)
        return False
    return True
