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


async def enqueue(settings: Settings, function: JobFunction, *args: object) -> object:
    """Queue a job on arq, or run it now in-process when no Redis is configured."""
    if not settings.redis_url:
        return await InProcessRunner([]).enqueue(function, *args)
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        return await pool.enqueue_job(function.__name__, *args)
    finally:
        await pool.aclose()
