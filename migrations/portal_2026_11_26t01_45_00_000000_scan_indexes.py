"""Partial indexes of the event log for the scan (portal/signals/service.py), each read without the table.

- ``case_event_status_steps``, for the legal-term rule (``_scan_legal_terms``): per candidate case the steps
  that change a status (about a quarter of all events; the rest are progress notes) with their moment and new
  status. Without it PostgreSQL walks every event of the log (at 40 mln events: 40 s against 4 s).
- ``case_event_outlier_actions``, for the outlier rule (``_scan_outliers``): the allocation requests, declines,
  rejections and referrals that concern a subcontractor, counted per contract, subcontractor and action over
  the last 12 months. Without it the planner walked the subcontractor index through the whole log (9 s at L).

The conditions are those of the queries (``STATUS_STEPS``, ``_OUTLIER_ACTIONS``): the planner uses a partial
index only when the query's condition implies the index's. SQLite knows no INCLUDE: those columns go into the key.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-26T01:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial indexes of the event log for the scan"

# name: (key columns, included columns, condition)
INDEXES = {
    "case_event_status_steps": ('"case", occurred_at', "to_status",
                                "from_status IS NULL OR from_status <> to_status OR action = 'decline'"),
    "case_event_outlier_actions": ("occurred_at", "contract, subcontractor, action",
                                   "action IN ('decline', 'request_allocation', 'reject', 'refer_collective') "
                                   "AND subcontractor IS NOT NULL"),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def create():
        engine = engine_finder()
        for name, (key, included, condition) in INDEXES.items():
            columns = f"({key}) INCLUDE ({included})" if engine.engine_type == "postgres" else f"({key}, {included})"
            await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON case_event {columns} WHERE {condition}")

    async def drop():
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
