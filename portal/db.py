"""Database engine from settings, SQLite tuning, the SQLite and PostgreSQL pools, and write transactions."""

import asyncio
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from urllib.parse import unquote, urlparse

import aiosqlite
from piccolo.columns.combination import Combinable, WhereRaw
from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from portal.lib.formatting import AMSTERDAM
from portal.settings import Settings

SQLITE_BUSY_TIMEOUT_S = 10


def build_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        _prepare_sqlite_file(str(path))
        # timeout= is sqlite3's busy timeout: writers wait for the lock instead of failing at once.
        return PooledSQLiteEngine(path=str(path), idle_size=settings.database_pool_size,
                                  timeout=SQLITE_BUSY_TIMEOUT_S, factory=TunedSQLiteConnection)
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


def amsterdam_day_sql(expression: str) -> str:
    """SQL for the Amsterdam calendar day of a stored (UTC) moment, on either database."""
    if engine().engine_type == "postgres":
        return f"(({expression}) AT TIME ZONE 'Europe/Amsterdam')::date"
    return f"date(amsterdam_local({expression}))"


def stored_date(value: date | datetime | str | None) -> date | None:
    """A stored date as a date, and a stored moment as its Amsterdam day: SQLite hands back ISO text from raw
    and aggregate queries ('2026-11-25', or '2026-11-25 23:30:00+00:00' for a moment); a moment without a
    zone is UTC, as the portal stores them."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        if len(value) == 10:
            return date.fromisoformat(value)
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(AMSTERDAM).date()


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


def hashtext(value: str | None) -> int | None:
    """SQL function ``hashtext(text)`` on SQLite, as PostgreSQL has it built in: a 32-bit hash of a text (not
    the same numbers as PostgreSQL's; summaries are compared within one database only)."""
    return None if value is None else zlib.crc32(value.encode())


class TunedSQLiteConnection(sqlite3.Connection):
    """Every SQLite connection the portal opens, set up for a web app."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Safe with WAL (a power cut may lose the last commit, never corrupt) and much faster than FULL.
        self.execute("PRAGMA synchronous=NORMAL")
        self.execute("PRAGMA foreign_keys=ON")
        self.create_function("amsterdam_local", 1, amsterdam_local, deterministic=True)
        self.create_function("hashtext", 1, hashtext, deterministic=True)


SQLITE_THREAD_NAME = "portal-sqlite"


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, but queries and transactions reuse open connections instead of opening one
    (a thread, the file, the schema, the pragmas) for every statement outside a transaction and for every
    transaction. A connection serves one user at a time and is in autocommit mode between users, so a read
    sees only committed rows, and a write transaction still takes the write lock with BEGIN IMMEDIATE."""

    def __init__(self, path: str, idle_size: int = 10, **connection_kwargs) -> None:
        # Inserts read their new id with RETURNING; Piccolo's way round it for older SQLite is not carried over.
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(f"SQLite 3.35 of nieuwer nodig, gevonden: {sqlite3.sqlite_version}")
        connection_kwargs.setdefault("factory", TunedSQLiteConnection)  # foreign keys on: no per-statement PRAGMA
        super().__init__(path=path, **connection_kwargs)
        self.pool = SQLiteConnectionPool(self._open, lambda: self.path, idle_size)

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's worker thread is not a daemon: one never closed (its loop died mid-query, close_pool never
        # ran) would keep the process from exiting. SQLite's journal makes dying with it safe.
        connection._thread.daemon = True
        connection._thread.name = SQLITE_THREAD_NAME
        await connection
        connection.row_factory = dict_factory
        return connection

    async def get_connection(self) -> aiosqlite.Connection:
        """An unpooled connection (Piccolo's batch() closes it when done)."""
        return await self._open()

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred,
                    allow_nested: bool = True) -> SQLiteTransaction:
        return PooledSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(self, query: str, args: list | None = None, query_type: str = "generic",
                                     table=None):
        # One round trip to the connection's thread (Piccolo's execute, fetchall and cursor close take three). Its
        # commit() after the statement is left out: in autocommit mode the statement commits itself.
        connection = await self.pool.acquire()
        reusable = False
        try:
            rows = await connection.execute_fetchall(query, args or [])
            reusable = True
        finally:
            self.pool.release(connection, reusable)
        return rows

    async def _run_in_existing_connection(self, connection, query: str, args: list | None = None,
                                          query_type: str = "generic", table=None):
        # Piccolo sends PRAGMA foreign_keys before every statement: a round trip to the connection's thread, and a
        # no-op inside a transaction. Every connection is opened with it on (TunedSQLiteConnection).
        return await connection.execute_fetchall(query, args or [])


class PooledSQLiteTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction on a pooled connection. Unlike Piccolo's, a failed BEGIN, COMMIT or ROLLBACK
    (or a cancellation) never leaves the connection open or the transaction current: the connection is dropped."""

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.engine.pool.acquire()
        try:
            await self.begin()
        except BaseException:
            self.engine.pool.release(self.connection, reusable=False)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        ended = False
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
            ended = True
        finally:
            self.engine.current_transaction.reset(self.context)
            self.engine.pool.release(self.connection, reusable=ended)
        return exception is None


class SQLiteConnectionPool:
    """Open aiosqlite connections, lent to one user at a time. Up to ``idle_size`` wait for the next user; when
    all are busy another is opened (never a wait, so nested use cannot deadlock).

    A connection comes back into the pool only when its user finished cleanly and left no transaction open;
    otherwise it is closed. It is lent again only on the event loop it was last used on (tests run a loop per
    test) and only while the database file is the one it opened (tests may recreate the file). The lock is for
    Piccolo's run_sync, which may run a loop in another thread."""

    def __init__(self, open_connection, path, idle_size: int) -> None:
        self._open = open_connection
        self._path = path
        self._idle_size = idle_size
        self._idle: list[tuple[aiosqlite.Connection, asyncio.AbstractEventLoop]] = []
        self._lent: dict[aiosqlite.Connection, asyncio.AbstractEventLoop] = {}
        self._file: tuple[int, int] | None = None  # (device, inode) of the file the pooled connections opened
        self._generation = 0  # close() moves it on: connections lent before are closed when they come back
        self._born: dict[aiosqlite.Connection, int] = {}
        self._stopping: list[threading.Thread] = []  # threads of connections told to close, for close() to wait for
        self._lock = threading.Lock()

    async def acquire(self) -> aiosqlite.Connection:
        loop = asyncio.get_running_loop()
        # A file is only replaced while nothing uses it (tests, a restore), so it is looked at only then: under load
        # the stat, which hands the GIL to the connection threads and waits to get it back, costs ~10% of req/s.
        file = self._file_identity() if not self._lent else self._file
        connection, stale = None, []
        with self._lock:
            if file != self._file:
                stale = [idle for idle, _ in self._idle]
                self._idle.clear()
                self._file = file
            for index in range(len(self._idle) - 1, -1, -1):
                idle, idle_loop = self._idle[index]
                if idle_loop is loop:
                    connection = idle
                    del self._idle[index]
                    break
                if idle_loop.is_closed():
                    stale.append(idle)
                    del self._idle[index]
            if connection is not None:
                self._lent[connection] = loop
        self._stop(stale)
        if connection is None:
            connection = await self._open()
            with self._lock:
                self._lent[connection] = loop
                self._born[connection] = self._generation
        return connection

    def release(self, connection: aiosqlite.Connection, reusable: bool = True) -> None:
        """Take a connection back. Never awaits, so it also works in a task that is being cancelled."""
        with self._lock:
            loop = self._lent.pop(connection, None)
            keep = (reusable and loop is not None and not loop.is_closed() and len(self._idle) < self._idle_size
                    and self._born.get(connection) == self._generation and _settled(connection))
            if keep:
                self._idle.append((connection, loop))
        if not keep:
            self._stop([connection])

    async def close(self) -> None:
        """Close the idle connections and wait for their threads to end. Lent ones are closed when they come back,
        or now if their event loop is gone (their user never will)."""
        with self._lock:
            self._generation += 1
            idle = [connection for connection, _ in self._idle]
            self._idle.clear()
            orphans = [connection for connection, loop in self._lent.items() if loop.is_closed()]
            for connection in orphans:
                del self._lent[connection]
        self._stop([*orphans, *idle])
        with self._lock:
            stopping, self._stopping = self._stopping, []
        for thread in stopping:
            await asyncio.to_thread(thread.join, 5)

    def _stop(self, connections: list[aiosqlite.Connection]) -> None:
        """Close without waiting: the close is queued behind whatever still runs on the connection's thread."""
        with self._lock:
            self._stopping = [thread for thread in self._stopping if thread.is_alive()]
            self._stopping += [connection._thread for connection in connections]
            for connection in connections:
                self._born.pop(connection, None)
        for connection in connections:
            connection.stop()

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self._path())
        except OSError:
            return None
        return found.st_dev, found.st_ino


def _settled(connection: aiosqlite.Connection) -> bool:
    """No transaction left open (a user ran BEGIN itself, or a COMMIT failed)."""
    try:
        return not connection.in_transaction
    except (ValueError, sqlite3.Error):  # already closed
        return False


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
    elif isinstance(db, PooledSQLiteEngine):
        await db.pool.close()


def write_transaction():
    """One explicit transaction for a write. On SQLite it takes the write lock at once (IMMEDIATE),
    so two writers queue up instead of failing halfway with 'database is locked'."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


@asynccontextmanager
async def read_transaction():
    """Group reads in one SQLite transaction: one connection and one snapshot for the page. On PostgreSQL the reads
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


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    """``items`` in slices of at most ``size``: one statement per slice, within the databases' limits."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def any_of(column, values: Sequence) -> Combinable:
    """``column IN (values)`` for long lists (thousands of ids or keys). On PostgreSQL one array parameter,
    ``= ANY($1)``: one statement text whatever the length, instead of a parameter (and a piece of SQL to build
    and parse) per value. SQLite knows no arrays; it gets ``IN`` with a parameter per value (callers batch)."""
    if engine().engine_type == "postgres":
        return WhereRaw(f"{column._meta.get_full_name(with_alias=False)} = ANY({{}})", list(values))
    return column.is_in(list(values))
