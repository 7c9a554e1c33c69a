"""signal_scan_state: per time-driven rule and contract, what the rule last ran on (the day, a summary of its
inputs, its number of signals), so that a rerun on the same day skips a contract whose inputs are unchanged.
Additive only; its unique index (rule, contract) is the next migration, as Piccolo runs raw steps first."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Date, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

from portal.lib.tables_base import utc_now


class Contract(Table, tablename="contract", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-11-26T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "signal_scan_state"


def _params(**overrides) -> dict:
    params = {"null": False, "primary_key": False, "unique": False, "index": False,
              "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False}
    return params | overrides


COLUMNS = [
    ("rule", Varchar, _params(length=40, default="")),
    ("contract", ForeignKey, _params(references=Contract, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade,
                                     target_column=None, index=True)),
    ("scanned_on", Date, _params(default=DateNow())),
    ("inputs", Varchar, _params(length=200, default="")),
    ("signals", Integer, _params(default=0)),
    ("updated_at", Timestamptz, _params(default=utc_now)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    manager.add_table(class_name="ScanState", tablename="signal_scan_state", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(table_class_name="ScanState", tablename="signal_scan_state", column_name=name,
                           db_column_name=name, column_class_name=column_class.__name__,
                           column_class=column_class, params=params, schema=None)

    return manager
