"""A digest is unique per person and day (a rerun of the digest job never duplicates); signals by the
organisation that raised them. Plain SQL that both SQLite and PostgreSQL accept."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T20:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "signal digest unique (user, day); signal raised_by_organisation index"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS signal_digest_user_day ON signal_digest ("user", day)',
    "CREATE INDEX IF NOT EXISTS signal_raised_by_org_status ON signal (raised_by_organisation, status)",
    "CREATE INDEX IF NOT EXISTS signal_subcontractor_status ON signal (subcontractor, status)",
]
INDEX_NAMES = [statement.split(" ON ")[0].split()[-1] for statement in STATEMENTS]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def create():
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    async def drop():
        for name in INDEX_NAMES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
