"""A partial covering index for the scan's outlier rule (portal/signals/service.py, ``_scan_outliers``): the last
12 months of allocation requests, declines, rejections and referrals that concern a subcontractor, counted per
contract, subcontractor and action. About a tenth of the event log; read from this index alone, where the
planner otherwise walked the subcontractor index through the whole log (at 40 mln events: about 9 s)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-26T01:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial index of the events the outlier rule counts"

NAME = "case_event_outlier_actions"
# the actions of portal.signals.service._OUTLIER_ACTIONS: the planner uses the index only for those
WHERE = "action IN ('decline', 'request_allocation', 'reject', 'refer_collective') AND subcontractor IS NOT NULL"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def create():
        engine = engine_finder()
        if engine.engine_type == "postgres":
            columns = "(occurred_at) INCLUDE (contract, subcontractor, action)"
        else:  # SQLite knows no INCLUDE: the counted columns go into the key
            columns = "(occurred_at, contract, subcontractor, action)"
        await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {NAME} ON case_event {columns} WHERE {WHERE}")

    async def drop():
        await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {NAME}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
