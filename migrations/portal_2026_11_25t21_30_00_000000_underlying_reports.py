from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-25T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "contract.municipality_reads_subcontractor_reports: the municipality reads the underlying reports"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Contract",
        tablename="contract",
        column_name="municipality_reads_subcontractor_reports",
        db_column_name="municipality_reads_subcontractor_reports",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": True,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
