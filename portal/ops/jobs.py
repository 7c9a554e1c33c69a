"""Operational jobs. Thin: they call the ops service. Jobs carry ids only, never personal data."""

from portal.ops import service


async def heartbeat(ctx: dict) -> dict:
    """Proves the job runner reaches the database; the health page shows the last run."""
    runner = ctx.get("runner", "arq")
    run_id = await service.record_job_start("heartbeat", runner)
    check = await service.check_database()
    summary = {"database": check.ok, "millis": check.millis}
    await service.record_job_end(run_id, "ok" if check.ok else "failed", summary)
    return summary
