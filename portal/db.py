"""Database engine from settings, SQLite tuning, the PostgreSQL pool, and write transactions."""

import sqlite3
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote, urlparse

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from portal.lib.formatting import AMSTERDAM
from portal.settings import Settings

SQLITE_BUSY_TIMEOUT_S = 10


def build_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        _prepare_sqlite_file(str(path))
        # timeout= is sqlite3's busy timeout: writers wait for the lock instead of failing at once.
        return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S, factory=TunedSQLiteConnection)
    return PostgresEngine(config=postgres_config(settings.database_url))


def postgres_config(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"PORTAL_DATABASE_URL: onbekend schema {parsed.scheme!r}")
    config = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": unquote(parsed.username or "postgres"),
        "database": parsed.path.lstrip("/") or "postgres",
    }
    if parsed.password:
        config["password"] = unquote(parsed.password)
    return config


def amsterdam_local(value: str | None) -> str | None:
    """SQL function ``amsterdam_local(ts)`` on SQLite, which knows no time zones: a stored (UTC) timestamp as
    Amsterdam wall-clock time 'YYYY-MM-DD HH:MM:SS', for date() and strftime() on business days and quarters.
    PostgreSQL's counterpart is ``ts AT TIME ZONE 'Europe/Amsterdam'``."""
    if value is None:
        return None
    text = str(value)
    if len(text) >= 19 and text.endswith("+00:00"):  # as Piccolo stores them: whole-hour offsets, so per hour
        return _amsterdam_hour(text[:13]) + text[13:19]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(AMSTERDAM).isoformat(sep=" ", timespec="seconds")[:19]


@lru_cache(maxsize=65536)
def _amsterdam_hour(utc_hour: str) -> str:
    """'2026-11-25 23' (UTC) -> '2026-11-26 00' (Amsterdam)."""
    return datetime.fromisoformat(f"{utc_hour}:00+00:00").astimezone(AMSTERDAM).isoformat(sep=" ")[:13]


class TunedSQLiteConnection(sqlite3.Connection):
    """Piccolo opens a connection per query outside a transaction; this sets each one up for a web app."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Safe with WAL (a power cut may lose the last commit, never corrupt) and much faster than FULL.
        self.execute("PRAGMA synchronous=NORMAL")
        self.create_function("amsterdam_local", 1, amsterdam_local, deterministic=True)


def _prepare_sqlite_file(path: str) -> None:
    # WAL lets readers go on while one writer writes; it is stored in the file, so set it once.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def engine() -> Engine:
    found = engine_finder()
    assert found is not None, "PICCOLO_CONF levert geen engine"
    return found


async def start_pool(settings: Settings) -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        # asyncpg opens min_size connections at once (default 10, more than a small worker pool allows)
        size = settings.database_pool_size
        await db.start_connection_pool(min_size=min(size, 10), max_size=size, reset=_keep_session_state)


async def _keep_session_state(connection) -> None:
    """Released connections go back to the pool as they are. asyncpg's default reset sends one more statement
    per query (unlock session advisory locks, close cursors, unlisten, reset settings); the portal uses none of
    those (only transaction-scoped advisory locks). asyncpg still rolls back an unfinished transaction itself."""


async def close_pool() -> None:
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        await db.close_connection_pool()


def write_transaction():
    """One explicit transaction for a write. On SQLite it takes the write lock at once (IMMEDIATE),
    so two writers queue up instead of failing halfway with 'database is locked'."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


@asynccontextmanager
async def read_transaction():
    """Group reads in one connection: SQLite otherwise opens a connection per query. On PostgreSQL the reads
    run on pooled connections as they are: at READ COMMITTED a transaction would give them no common snapshot,
    only a BEGIN and a COMMIT more per page."""
    db = engine()
    if isinstance(db, PostgresEngine):
        yield
        return
    async with db.transaction():
        yield


async def empty_all_tables() -> None:
    """Remove every row (demo --reset, tests). The schema and migrations stay."""
    from portal.piccolo_app import ALL_TABLES

    db = engine()
    if isinstance(db, PostgresEngine):
        names = ", ".join(f'"{table._meta.tablename}"' for table in ALL_TABLES)
        await db.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        return
    # SQLite checks ON DELETE RESTRICT row by row: unhook self-references first, children before parents.
    async with write_transaction():
        for table in reversed(ALL_TABLES):
            for column in table._meta.foreign_key_columns:
                if column._foreign_key_meta.resolved_references is table:
                    # names come from our own table definitions, never from input
                    await db.run_ddl(f'UPDATE "{table._meta.tablename}" SET "{column._meta.name}" = NULL')  # noqa: S608
            await db.run_ddl(f'DELETE FROM "{table._meta.tablename}"')  # noqa: S608
