"""Operational jobs. Thin: they call the ops service. Jobs carry ids only, never personal data."""

from datetime import timedelta

from portal.ops import service


async def heartbeat(ctx: dict) -> dict:
    """Proves the job runner reaches the database; the health page shows the last run."""
    runner = ctx.get("runner", "arq")
    run_id = await service.record_job_start("heartbeat", runner)
    check = await service.check_database()
    summary = {"database": check.ok, "millis": check.millis}
    await service.record_job_end(run_id, "ok" if check.ok else "failed", summary)
    return summary


async def catch_up(ctx: dict) -> dict:
    """Queue again the work that is recorded in the database but may have missed the queue: exports asked for
    while Redis was down, or whose queue entry Redis lost. Idempotent: each export has a stable job id, so an
    export still queued or running is not queued twice. Also closes the ledger rows of killed runs."""
    from portal.exports.jobs import run_export
    from portal.exports.service import export_job_id
    from portal.lib.queue import enqueue_recorded
    from portal.settings import get_settings

    settings = get_settings()
    longest = timedelta(seconds=settings.job_timeout + 60)  # no job runs longer: its worker has died
    export_ids = await service.unfinished_exports(longest)
    queued = 0
    for export_id in export_ids:
        queued += await enqueue_recorded(settings, run_export, export_id, job_id=export_job_id(export_id))
    return {"exports": len(export_ids), "queued": queued, "abandoned": await service.close_abandoned_runs(longest)}
