"""arq worker: `portal worker` (or `arq workers.settings.WorkerSettings`).

Cron jobs are tried once per tick and may run twice with several workers: every job is idempotent.
"""

from arq import cron
from arq.connections import RedisSettings

from portal.db import close_pool, start_pool
from portal.exports.jobs import purge_exports, run_export
from portal.lib.queue import worker_redis_settings
from portal.ops.jobs import catch_up, heartbeat
from portal.privacy.jobs import apply_retention
from portal.settings import get_settings
from portal.signals.jobs import scan_signals, send_digests

JOBS = [heartbeat, scan_signals, send_digests, run_export, purge_exports, catch_up, apply_retention]
# The same schedule runs in-process when no Redis is configured (portal.app).
SCHEDULE = {heartbeat: 60, scan_signals: 3600, send_digests: 86400, purge_exports: 3600, catch_up: 60,
            apply_retention: 86400}


async def startup(ctx: dict) -> None:
    ctx["runner"] = "arq"
    await start_pool(get_settings())


async def shutdown(ctx: dict) -> None:
    await close_pool()


def redis_settings() -> RedisSettings:
    # A worker outlives a Redis outage: it waits for Redis and goes on with its queue (portal.lib.queue).
    return worker_redis_settings(get_settings().redis_url or "redis://127.0.0.1:6379/0")


class WorkerSettings:
    functions = JOBS
    cron_jobs = [
        cron(heartbeat, second={0}, unique=True, run_at_startup=False),
        # hourly at minute 7 (a missed tick is caught up by the next: the scan is idempotent)
        cron(scan_signals, minute={7}, second={0}, unique=True, run_at_startup=False),
        # daily at 06:30 UTC, after the night's scans, before the working day starts
        cron(send_digests, hour={6}, minute={30}, second={0}, unique=True, run_at_startup=False),
        # hourly at minute 37: export files older than 24 hours are removed
        cron(purge_exports, minute={37}, second={0}, unique=True, run_at_startup=False),
        # daily at 02:15 UTC: anonymise cases past their contract's retention term (idempotent)
        cron(apply_retention, hour={2}, minute={15}, second={0}, unique=True, run_at_startup=False),
        # every 10 seconds (a small query): exports asked for while Redis was down, or lost from its queue,
        # are queued again
        cron(catch_up, second={5, 15, 25, 35, 45, 55}, unique=True, run_at_startup=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_jobs = 10
    job_timeout = get_settings().job_timeout
