"""privacy: retention_run (the daily retention job's record) and pseudonym_key_state. Additive only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON, Date, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.indexes import IndexMethod

from portal.lib.tables_base import utc_now

ID = "2026-11-25T22:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "privacy"


def _params(**overrides) -> dict:
    params = {"null": False, "primary_key": False, "unique": False, "index": False,
              "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False}
    return params | overrides


TABLES = {
    ("RetentionRun", "retention_run"): [
        ("started_at", Timestamptz, _params(default=utc_now)),
        ("finished_at", Timestamptz, _params(default=None, null=True)),
        ("runner", Varchar, _params(length=16, default="")),
        ("outcome", Varchar, _params(length=16, default="running")),
        ("day", Date, _params(default=DateNow())),
        ("contracts", Integer, _params(default=0)),
        ("cases", Integer, _params(default=0)),
        ("event_texts", Integer, _params(default=0)),
        ("signal_texts", Integer, _params(default=0)),
        ("comment_texts", Integer, _params(default=0)),
        ("summary", JSON, _params(default=None, null=True)),
    ],
    ("PseudonymKeyState", "pseudonym_key_state"): [
        ("scope", Varchar, _params(length=16, default="", unique=True)),
        ("key_check", Varchar, _params(length=64, default="")),
        ("layers", Integer, _params(default=1)),
        ("updated_at", Timestamptz, _params(default=utc_now)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            manager.add_column(table_class_name=class_name, tablename=tablename, column_name=name,
                               db_column_name=name, column_class_name=column_class.__name__,
                               column_class=column_class, params=params, schema=None)
    return manager
