"""The migrations build the schema from nothing, and every table round-trips on this database."""

import os
from datetime import UTC, date, datetime

import pytest
from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)

from portal.accounts.tables import Organisation
from portal.db import engine
from portal.migrate import migrate
from portal.piccolo_app import ALL_TABLES
from tests import factories


def _sample_value(column, index: int):
    """A non-default value for a column, so a round trip proves the column is stored and read back."""
    if isinstance(column, Varchar):
        return f"v{index}"[: column.length]
    if isinstance(column, Text):
        return f"tekst met accenten: beëindigd, coördinator {index}"
    if isinstance(column, Boolean):
        return not column.default
    if isinstance(column, BigInt):
        return 190_000_000 + index  # EUR 1.9M in cents: beyond 32 bits
    if isinstance(column, Integer):
        return 7 + index
    if isinstance(column, Timestamptz):
        return datetime(2026, 11, 22, 9, 30, index % 60, tzinfo=UTC)
    if isinstance(column, Date):
        return date(2026, 11, 22)
    if isinstance(column, JSON):
        return '{"indicatoren": [1, 2, 3]}'
    raise AssertionError(f"no sample for {type(column).__name__} {column._meta.name}")


async def _insert_full_row(table, parents: dict):
    expected = {}
    for index, column in enumerate(table._meta.columns):
        name = column._meta.name
        if isinstance(column, Serial):
            continue
        if isinstance(column, ForeignKey):
            target = column._foreign_key_meta.resolved_references
            # a self-reference (a correction pointing at the row it corrects) gets the previous row
            value = parents[target].id if target in parents else None
        else:
            value = _sample_value(column, index)
        expected[name] = value
    row = table(**expected)
    await row.save()
    return row, expected


def _normalise(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str) and value.startswith("{"):
        return value.replace(" ", "")
    return value


async def test_every_table_round_trips_every_column(db):
    parents: dict = {}
    for table in ALL_TABLES:  # ALL_TABLES lists parents before children
        row, expected = await _insert_full_row(table, parents)
        parents[table] = row
        if any(getattr(c._foreign_key_meta, "resolved_references", None) is table
               for c in table._meta.foreign_key_columns):
            row, expected = await _insert_full_row(table, parents)
        stored = await table.select().where(table.id == row.id).first()
        assert stored is not None, table
        for name, value in expected.items():
            assert _normalise(stored[name]) == _normalise(value), f"{table._meta.tablename}.{name}"


async def test_migrations_are_idempotent(db):
    await migrate()  # a second run must find nothing to do and change nothing
    org = await factories.organisation("municipality")
    assert await Organisation.count() == 1
    assert org.id is not None


async def test_history_cannot_be_deleted_with_its_parent(db):
    municipality = await factories.organisation("municipality")
    contract = await factories.contract(municipality)
    await factories.case(contract)
    from portal.contracts.tables import Contract

    with pytest.raises(Exception) as raised:
        await Contract.delete().where(Contract.id == contract.id)
    assert "foreign key" in str(raised.value).lower() or "violates" in str(raised.value).lower()
    assert await Contract.count() == 1


async def test_composite_unique_constraints_hold(db):
    from portal.contracts.tables import ContractYear

    contract = await factories.contract()
    await ContractYear(contract=contract.id, year=2027, lump_sum_cents=700_000_000).save()
    with pytest.raises(Exception) as raised:
        await ContractYear(contract=contract.id, year=2027, lump_sum_cents=1).save()
    assert "unique" in str(raised.value).lower()
    assert await ContractYear.count() == 1


async def test_scan_and_dashboard_indexes_exist(db):
    if engine().engine_type == "sqlite":
        rows = await Organisation.raw("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = await Organisation.raw("SELECT indexname AS name FROM pg_indexes")
    names = {row["name"] for row in rows}
    for expected in ("case_contract_status_since", "case_subcontractor_status", "case_contract_id", "case_since_id",
                     "case_event_case_occurred", "signal_contract_status_rule", "report_unique"):
        assert expected in names


@pytest.mark.skipif(os.environ.get("PORTAL_TEST_DATABASE", "sqlite") != "sqlite", reason="SQLite pragmas only")
async def test_sqlite_is_tuned_for_a_web_app(db):
    pragmas = {}
    for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout"):
        rows = await Organisation.raw(f"PRAGMA {name}")
        pragmas[name] = next(iter(rows[0].values()))
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "busy_timeout": 10_000}
