"""The SQLite connection pool (portal.db.PooledSQLiteEngine): connections are reused, each one is tuned, writers
still queue, reads see only committed rows, and nothing outlives close_pool or keeps the process from exiting."""

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from portal.accounts.tables import Organisation
from portal.db import (
    SQLITE_BUSY_TIMEOUT_S,
    SQLITE_THREAD_NAME,
    PooledSQLiteEngine,
    close_pool,
    engine,
    write_transaction,
)

pytestmark = pytest.mark.skipif(os.environ.get("PORTAL_TEST_DATABASE", "sqlite") != "sqlite",
                                reason="the pool is SQLite's (PostgreSQL has asyncpg's)")

REPO = Path(__file__).resolve().parents[2]
# A TEMP table lives exactly as long as the connection that made it: seeing it again means the same connection.
PROBE = "CREATE TEMP TABLE IF NOT EXISTS pool_probe (n INTEGER)"
SEES_PROBE = "SELECT COUNT(*) AS n FROM sqlite_temp_master WHERE name = 'pool_probe'"


@pytest.fixture
async def pool(db):
    """The test's engine with an empty pool before and after (no connection, probe or thread carries over)."""
    await close_pool()
    yield db
    await close_pool()


def _sqlite_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == SQLITE_THREAD_NAME and thread.is_alive()]


async def _sees_probe() -> bool:
    return (await Organisation.raw(SEES_PROBE))[0]["n"] == 1


async def _tuning() -> dict:
    values = {}
    for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout"):
        rows = await Organisation.raw(f"PRAGMA {name}")
        values[name] = next(iter(rows[0].values()))
    rows = await Organisation.raw("SELECT amsterdam_local('2026-07-01 10:00:00+00:00') AS local")
    values["amsterdam_local"] = rows[0]["local"]
    return values


TUNED = {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "busy_timeout": SQLITE_BUSY_TIMEOUT_S * 1000,
         "amsterdam_local": "2026-07-01 12:00:00"}


async def test_queries_outside_a_transaction_reuse_one_connection(pool):
    await Organisation.raw(PROBE)
    for _ in range(20):
        assert await _sees_probe()
    assert len(_sqlite_threads()) == 1


async def test_a_transaction_reuses_the_connection_and_gives_it_back(pool):
    await Organisation.raw(PROBE)
    async with write_transaction():
        assert await _sees_probe()
        await Organisation(name="Gemeente", kind="municipality").save()
    assert await _sees_probe()
    assert await Organisation.count() == 1
    assert len(_sqlite_threads()) == 1


async def test_every_pooled_connection_is_tuned(pool):
    held, go = 4, asyncio.Event()
    entered: list[None] = []

    async def hold_one() -> dict:
        async with engine().transaction():  # held at once: four connections in the pool
            entered.append(None)
            if len(entered) == held:
                go.set()
            await go.wait()
            return await _tuning()

    assert await asyncio.gather(*(hold_one() for _ in range(held))) == [TUNED] * held
    assert len(_sqlite_threads()) == held
    for _ in range(held * 2):  # and again as reused connections, outside a transaction
        assert await _tuning() == TUNED


async def test_foreign_keys_hold_on_a_reused_connection_in_a_transaction(pool):
    from portal.accounts.tables import User

    await Organisation.count()  # the connection now waits in the pool
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        async with write_transaction():
            await User(email="a@example.nl", display_name="A", organisation=999_999, role="coordinator",
                       password_hash="x").save()
    assert await User.count() == 0


async def test_concurrent_writers_queue_instead_of_failing(pool):
    async def add_next() -> None:
        async with write_transaction():  # read-modify-write: only correct if writers take turns
            count = await Organisation.count()
            await asyncio.sleep(0.02)  # the others try to write meanwhile
            await Organisation(name=f"Organisatie {count + 1}", kind="subcontractor").save()

    await asyncio.gather(*(add_next() for _ in range(8)))  # 'database is locked' would raise here
    names = sorted(row["name"] for row in await Organisation.select(Organisation.name))
    assert names == sorted(f"Organisatie {n}" for n in range(1, 9))


async def test_reads_never_see_an_unfinished_write(pool):
    written, committed = asyncio.Event(), asyncio.Event()
    seen: list[int] = []

    async def reader() -> None:  # started before the writer: outside its transaction
        await written.wait()
        seen.append(await Organisation.count())
        await committed.wait()
        seen.append(await Organisation.count())

    async def writer() -> None:
        async with write_transaction():
            await Organisation(name="Gemeente", kind="municipality").save()
            written.set()
            await asyncio.sleep(0.05)
        committed.set()

    await asyncio.gather(reader(), writer())
    assert seen == [0, 1]


async def test_a_connection_left_in_a_transaction_is_not_reused(pool):
    await Organisation.raw(PROBE)
    await Organisation.raw("BEGIN")  # a user that leaves a transaction open: its connection must go
    assert not await _sees_probe()
    await Organisation(name="Gemeente", kind="municipality").save()
    with sqlite3.connect(engine().path) as other:  # committed: another connection sees it
        assert other.execute("SELECT COUNT(*) FROM organisation").fetchone()[0] == 1


async def test_a_cancelled_write_rolls_back_and_leaves_no_lock(pool):
    inside = asyncio.Event()

    async def interrupted() -> None:
        async with write_transaction():
            await Organisation(name="Halverwege", kind="municipality").save()
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(interrupted())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the write lock is free at once (a leaked lock would make this wait the busy timeout and fail)
    async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_S / 2):
        async with write_transaction():
            await Organisation(name="Daarna", kind="municipality").save()
    assert [row["name"] for row in await Organisation.select(Organisation.name)] == ["Daarna"]


async def test_a_connection_of_a_finished_event_loop_is_not_reused(pool):
    async def on_its_own_loop() -> bool:
        await Organisation.raw(PROBE)
        return await _sees_probe()

    assert await asyncio.to_thread(asyncio.run, on_its_own_loop())  # that loop is closed afterwards
    assert not await _sees_probe()  # this loop opened its own connection
    await close_pool()
    assert _sqlite_threads() == []


async def test_a_recreated_database_file_is_opened_anew(tmp_path):
    path = tmp_path / "recreated.sqlite3"
    other = PooledSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        await other.run_ddl("CREATE TABLE first_file (n INTEGER)")
        assert await other.run_ddl("SELECT name FROM sqlite_master") == [{"name": "first_file"}]
        for leftover in tmp_path.glob("recreated.sqlite3*"):
            leftover.unlink()
        with sqlite3.connect(path) as fresh:
            fresh.execute("CREATE TABLE second_file (n INTEGER)")
        assert await other.run_ddl("SELECT name FROM sqlite_master") == [{"name": "second_file"}]
    finally:
        await other.pool.close()


async def test_close_pool_leaves_no_connection_thread(pool):
    go = asyncio.Event()
    entered: list[None] = []

    async def hold_one() -> None:
        async with engine().transaction():
            entered.append(None)
            if len(entered) == 3:
                go.set()
            await go.wait()
            await Organisation.count()

    await asyncio.gather(*(hold_one() for _ in range(3)))
    threads = _sqlite_threads()
    assert len(threads) == 3 and all(thread.daemon for thread in threads)
    await close_pool()
    assert _sqlite_threads() == []
    assert await Organisation.count() == 0  # and the pool opens again after it was closed


def test_a_process_that_never_closes_its_connections_still_exits(migrated_database):
    # aiosqlite's threads are not daemons by itself: an unclosed connection would hang the interpreter at exit.
    script = (
        "import asyncio\n"
        "from portal.accounts.tables import Organisation\n"
        "from portal.db import engine\n"
        "async def main():\n"
        "    await Organisation.count()\n"  # one connection idle in the pool
        "    await engine().pool.acquire()\n"  # and one lent out, never given back
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=os.environ.copy(), timeout=60,  # noqa: S603
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
