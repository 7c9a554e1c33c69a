"""Privacy jobs. Thin: a JobRun in the ledger and the privacy service. No arguments: nothing personal travels
through Redis. Idempotent (only rows that still hold text or a pseudonym change), as arq delivers at least once."""

from portal.ops import service as ops
from portal.privacy import service


async def apply_retention(ctx: dict) -> dict:
    """Daily: anonymise what has passed its contract's retention term after closing (RetentionRun records it)."""

    async def work(runner: str) -> dict:
        return (await service.run_retention(runner=runner)).as_dict()

    return await ops.run_recorded("apply_retention", ctx, work)
