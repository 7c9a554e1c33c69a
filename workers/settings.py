"""arq worker: `portal worker` (or `arq workers.settings.WorkerSettings`).

Cron jobs are tried once per tick and may run twice with several workers: every job is idempotent.
"""

from arq import cron
from arq.connections import RedisSettings

from portal.db import close_pool, start_pool
from portal.ops.jobs import heartbeat
from portal.settings import get_settings

JOBS = [heartbeat]
# The same schedule runs in-process when no Redis is configured (portal.app).
SCHEDULE = {heartbeat: 60}


async def startup(ctx: dict) -> None:
    ctx["runner"] = "arq"
    await start_pool(get_settings())


async def shutdown(ctx: dict) -> None:
    await close_pool()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url or "redis://127.0.0.1:6379/0"
    return RedisSettings.from_dsn(url)


class WorkerSettings:
    functions = JOBS
    cron_jobs = [cron(heartbeat, second={0}, unique=True, run_at_startup=False)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_jobs = 10
    job_timeout = 600
