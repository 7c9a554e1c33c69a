"""Residents' legal position (issue #9): the next re-assessment of a provision on the case row, and the outcome
and date of the non-status events objection_filed, objection_decided and reassessment. Additive only: three
nullable columns, no rewrite of existing rows."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-25T22:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "portal_case.reassessment_due, case_event.outcome and case_event.due_date"


def _params(**overrides) -> dict:
    params = {"default": None, "null": True, "primary_key": False, "unique": False, "index": False,
              "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False}
    return params | overrides


COLUMNS = [
    ("Case", "portal_case", "reassessment_due", Date, _params()),
    ("CaseEvent", "case_event", "outcome", Varchar, _params(length=32)),
    ("CaseEvent", "case_event", "due_date", Date, _params()),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    for class_name, tablename, name, column_class, params in COLUMNS:
        manager.add_column(table_class_name=class_name, tablename=tablename, column_name=name, db_column_name=name,
                           column_class_name=column_class.__name__, column_class=column_class, params=params,
                           schema=None)
    return manager
