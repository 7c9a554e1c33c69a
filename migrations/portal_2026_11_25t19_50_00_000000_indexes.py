"""Composite indexes and unique constraints that Piccolo columns cannot express.

Plain SQL that both SQLite and PostgreSQL accept. The indexes serve the scans and dashboards
(status and status_since on the case row, DESIGN appendix C) and keyset pagination (id order).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T19:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite indexes and unique constraints"

STATEMENTS = [
    # stalled scan and dashboard: cases of a contract per status, oldest first
    "CREATE INDEX IF NOT EXISTS case_contract_status_since ON portal_case (contract, status, status_since)",
    # subcontractor inbox and per-subcontractor figures
    "CREATE INDEX IF NOT EXISTS case_subcontractor_status ON portal_case (subcontractor, status)",
    # keyset pages per contract
    "CREATE INDEX IF NOT EXISTS case_contract_id ON portal_case (contract, id)",
    # re-report rule: same pseudonym within a contract
    "CREATE INDEX IF NOT EXISTS case_contract_pseudonym ON portal_case (contract, pseudonym)",
    # a case's timeline in order
    "CREATE INDEX IF NOT EXISTS case_event_case_occurred ON case_event (\"case\", occurred_at, id)",
    # flow-time and decline figures per contract
    "CREATE INDEX IF NOT EXISTS case_event_contract_action ON case_event (contract, action, occurred_at)",
    # who was ever allocated a case (subcontractors see history they were part of)
    "CREATE INDEX IF NOT EXISTS case_event_subcontractor_case ON case_event (subcontractor, \"case\")",
    "CREATE INDEX IF NOT EXISTS signal_contract_status_rule ON signal (contract, status, rule)",
    "CREATE INDEX IF NOT EXISTS signal_owner_status ON signal (owner_organisation, status)",
    "CREATE UNIQUE INDEX IF NOT EXISTS contract_year_unique ON contract_year (contract, year)",
    "CREATE UNIQUE INDEX IF NOT EXISTS status_norm_unique ON status_norm (contract, status)",
    "CREATE UNIQUE INDEX IF NOT EXISTS subcontract_unique ON subcontract (contract, subcontractor, start_date)",
    "CREATE UNIQUE INDEX IF NOT EXISTS report_template_unique ON report_template (contract, version)",
    "CREATE UNIQUE INDEX IF NOT EXISTS report_period_unique ON report_period (contract, kind, starts_on)",
    "CREATE UNIQUE INDEX IF NOT EXISTS report_unique ON portal_report (period, organisation, kind)",
    "CREATE UNIQUE INDEX IF NOT EXISTS report_version_unique ON report_version (report, number)",
    "CREATE UNIQUE INDEX IF NOT EXISTS savings_target_unique "
    "ON savings_target (contract, year, level, product_category)",
    "CREATE INDEX IF NOT EXISTS savings_actual_contract_period ON savings_actual (contract, period_start)",
    "CREATE INDEX IF NOT EXISTS audit_entry_contract_occurred ON audit_entry (contract_id, occurred_at)",
]

INDEX_NAMES = [statement.split(" ON ")[0].split()[-1] for statement in STATEMENTS]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def create():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop():
        engine = engine_finder()
        for name in INDEX_NAMES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
