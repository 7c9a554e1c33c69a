"""Signal jobs. Thin: they record a JobRun and call the signals service. No arguments: nothing personal
travels through Redis. Both are idempotent (upserts on unique keys), as arq delivers at least once."""

from portal.ops import service as ops
from portal.signals import service


async def scan_signals(ctx: dict) -> dict:
    """The time-driven rules: stalled, legal terms, reports overdue, outliers, savings behind."""
    run_id = await ops.record_job_start("scan_signals", ctx.get("runner", "arq"))
    try:
        summary = await service.run_scan()
    except Exception as exc:
        await ops.record_job_end(run_id, "failed", {"error": type(exc).__name__})
        raise
    result = summary.as_dict()
    await ops.record_job_end(run_id, "ok", result)
    return result


async def send_digests(ctx: dict) -> dict:
    """Per person what is overdue in their court, stored as today's digest and e-mailed when SMTP is set."""
    run_id = await ops.record_job_start("send_digests", ctx.get("runner", "arq"))
    try:
        summary = await service.send_digests()
    except Exception as exc:
        await ops.record_job_end(run_id, "failed", {"error": type(exc).__name__})
        raise
    result = {"day": summary.day.isoformat(), "people": summary.people, "overdue": summary.overdue,
              "mailed": summary.mailed, "mail_failed": summary.mail_failed}
    await ops.record_job_end(run_id, "ok", result)
    return result
