"""Helpers of the production tests: queue jobs on the private Redis and read what the workers did."""

import asyncio
import re
import time
import uuid

from arq import create_pool
from arq.connections import RedisSettings
from arq.jobs import Job, JobStatus

SIGNAL_ROWS = ("SELECT dedup_key, rule, status, severity, \"case\", owner_organisation FROM signal "
               "ORDER BY dedup_key")


async def redis_pool(cluster):
    return await create_pool(RedisSettings.from_dsn(cluster.redis.url))


async def enqueue(cluster, function: str, *args, job_id: str | None = None) -> Job:
    pool = await redis_pool(cluster)
    try:
        job = await pool.enqueue_job(function, *args, _job_id=job_id or f"{function}-{uuid.uuid4().hex[:12]}")
        assert job is not None
        return job
    finally:
        await pool.aclose()


async def result(cluster, job_id: str, wait: float = 60):
    """The job's result once a worker has finished it (and its JobResult: which try, success)."""
    pool = await redis_pool(cluster)
    try:
        job = Job(job_id, pool)
        deadline = time.monotonic() + wait
        while await job.status() != JobStatus.complete:
            assert time.monotonic() < deadline, f"job {job_id} not finished after {wait} s"
            await asyncio.sleep(0.1)
        info = await job.result_info()
        return info
    finally:
        await pool.aclose()


def worker_running(cluster, job_id: str):
    """The worker whose log shows it started ``job_id``, or None."""
    for worker in cluster.workers:
        if re.search(rf"→ {re.escape(job_id)}:", worker.log()):
            return worker
    return None


async def reset_signals(cluster) -> None:
    connection = await cluster.connect()
    try:
        await connection.execute("DELETE FROM signal_comment; DELETE FROM signal")
    finally:
        await connection.close()


async def signal_rows(cluster) -> list[tuple]:
    return [tuple(row.values()) for row in await cluster.fetch(SIGNAL_ROWS)]


async def one_clean_scan(cluster) -> list[tuple]:
    """What one scan, alone, writes from an empty signal table: the reference for the other scans."""
    await reset_signals(cluster)
    job = await enqueue(cluster, "scan_signals")
    info = await result(cluster, job.job_id)
    assert info.success, info.result
    rows = await signal_rows(cluster)
    assert rows, "the demo data should give the scan something to find"
    return rows


async def waiting_on_lock(cluster, count: int = 1, wait: float = 20) -> list[str]:
    """Wait until ``count`` sessions of the portal database wait on a lock; returns their queries."""
    deadline = time.monotonic() + wait
    while True:
        rows = await cluster.fetch("SELECT query FROM pg_stat_activity WHERE datname = 'inzicht' "
                                   "AND wait_event_type = 'Lock'")
        if len(rows) >= count:
            return [row["query"] for row in rows]
        assert time.monotonic() < deadline, f"only {len(rows)} of {count} sessions wait on the lock"
        await asyncio.sleep(0.05)


async def held(cluster, job, wait: float = 20):
    """Wait until ``job`` has started on a worker and is waiting on a lock; returns that worker. (A cron scan
    of the workers' own schedule may wait on the same lock: the job is found by its id, not by counting.)"""
    deadline = time.monotonic() + wait
    while (worker := worker_running(cluster, job.job_id)) is None:
        assert time.monotonic() < deadline, f"job {job.job_id} did not start"
        await asyncio.sleep(0.05)
    await waiting_on_lock(cluster, wait=wait)
    return worker

