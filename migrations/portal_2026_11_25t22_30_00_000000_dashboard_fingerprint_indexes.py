"""Indexes for the dashboard's fingerprint query (portal/dashboard/service.py): a contract's last case, last
event and last signal change, each read from the end of an index instead of from every row of a large tenant."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T22:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the dashboard fingerprint"

INDEXES = {
    "case_contract_id": "portal_case (contract, id)",
    "case_event_contract_id": "case_event (contract, id)",
    "signal_contract_updated": "signal (contract, updated_at)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def create():
        for name, target in INDEXES.items():
            await engine_finder().run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop():
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
