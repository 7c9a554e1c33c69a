"""export_job: large list exports produced by a job, with their progress. Additive only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import JSON, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

from portal.lib.tables_base import utc_now


class User(Table, tablename="portal_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-11-25T21:58:17:000000"
VERSION = "1.38.0"
DESCRIPTION = "export_job"


def _params(**overrides) -> dict:
    params = {"null": False, "primary_key": False, "unique": False, "index": False,
              "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False}
    return params | overrides


COLUMNS = [
    ("user", ForeignKey, _params(references=User, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade,
                                 target_column=None, index=True)),
    ("kind", Varchar, _params(length=16, default="")),
    ("format", Varchar, _params(length=4, default="")),
    ("params", JSON, _params(default="{}")),
    ("status", Varchar, _params(length=16, default="queued")),
    ("rows_done", Integer, _params(default=0)),
    ("rows_total", Integer, _params(default=0)),
    ("file_name", Varchar, _params(length=64, default=None, null=True)),
    ("created_at", Timestamptz, _params(default=utc_now)),
    ("finished_at", Timestamptz, _params(default=None, null=True)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    manager.add_table(class_name="ExportJob", tablename="export_job", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(table_class_name="ExportJob", tablename="export_job", column_name=name,
                           db_column_name=name, column_class_name=column_class.__name__,
                           column_class=column_class, params=params, schema=None)
    return manager
