"""API keys per person (bearer authentication of the JSON API) and the stored responses of idempotent POSTs,
unique per (user, key) through one hashed column. Additive only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import JSON, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

from portal.lib.tables_base import utc_now


class User(Table, tablename="portal_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-11-25T20:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api_key and idempotency_record"


def _params(**overrides) -> dict:
    params = {"null": False, "primary_key": False, "unique": False, "index": False,
              "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False}
    return params | overrides


def _user_fk() -> dict:
    return _params(references=User, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade, target_column=None,
                   index=True)


COLUMNS = {
    ("ApiKey", "api_key"): [
        ("user", ForeignKey, _user_fk()),
        ("name", Varchar, _params(length=100, default="")),
        ("prefix", Varchar, _params(length=8, default="")),
        ("key_hash", Varchar, _params(length=64, default="", unique=True)),
        ("created_at", Timestamptz, _params(default=utc_now)),
        ("last_used_at", Timestamptz, _params(default=None, null=True)),
        ("revoked_at", Timestamptz, _params(default=None, null=True)),
    ],
    ("IdempotencyRecord", "idempotency_record"): [
        ("user", ForeignKey, _user_fk()),
        # sha256 of user id and the client's key: unique per (user, key)
        ("scoped_key", Varchar, _params(length=64, default="", unique=True)),
        ("fingerprint", Varchar, _params(length=64, default="")),
        ("response_status", Integer, _params(default=None, null=True)),
        ("response_body", JSON, _params(default=None, null=True)),
        ("created_at", Timestamptz, _params(default=utc_now)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    for (class_name, tablename), columns in COLUMNS.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            manager.add_column(table_class_name=class_name, tablename=tablename, column_name=name,
                               db_column_name=name, column_class_name=column_class.__name__,
                               column_class=column_class, params=params, schema=None)
    return manager
