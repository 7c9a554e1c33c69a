"""Export jobs. Thin: they call the exports service. Jobs carry the export's id only, never filters or data."""

from portal.exports import service


async def run_export(ctx: dict, export_id: int) -> str:
    """Produce one large list export (its progress is on /exports/{id})."""
    return await service.run_export_job(export_id)


async def purge_exports(ctx: dict) -> dict:
    """Remove export files older than 24 hours. Idempotent: a second run finds nothing."""
    return {"expired": await service.purge_expired()}
