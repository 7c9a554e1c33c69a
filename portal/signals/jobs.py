"""Signal jobs. Thin: they record a JobRun and call the signals service. No arguments: nothing personal
travels through Redis. Both are idempotent (upserts on unique keys), as arq delivers at least once."""

from portal.ops import service as ops
from portal.signals import service


async def scan_signals(ctx: dict) -> dict:
    """The time-driven rules: stalled, legal terms, reports overdue, outliers, savings behind."""

    async def work(runner: str) -> dict:
        return (await service.run_scan()).as_dict()

    return await ops.run_recorded("scan_signals", ctx, work)


async def send_digests(ctx: dict) -> dict:
    """Per person what is overdue in their court, stored as today's digest and e-mailed when SMTP is set."""

    async def work(runner: str) -> dict:
        summary = await service.send_digests()
        return {"day": summary.day.isoformat(), "people": summary.people, "overdue": summary.overdue,
                "mailed": summary.mailed, "mail_failed": summary.mail_failed}

    return await ops.run_recorded("send_digests", ctx, work)
