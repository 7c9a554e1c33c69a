"""Test set-up: choose the database before anything of `portal` is imported.

PORTAL_TEST_DATABASE=sqlite (default) uses a fresh SQLite file per test session;
PORTAL_TEST_DATABASE=postgres creates a fresh PostgreSQL database per session (dropped afterwards)
on PORTAL_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
An unreachable PostgreSQL fails the run; it never skips.
"""

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Timing belongs in benchmarks, not in tests: no per-example deadline, which a busy 2-core CI machine would
# turn into flaky failures.
settings.register_profile("portal", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "portal"))

TEST_DATABASE = os.environ.get("PORTAL_TEST_DATABASE", "sqlite")
ADMIN_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_tmp = Path(tempfile.mkdtemp(prefix="inzicht-test-"))
_pg_name = f"inzicht_test_{uuid.uuid4().hex[:10]}"

if TEST_DATABASE == "sqlite":
    os.environ["PORTAL_DATABASE_URL"] = f"sqlite:///{_tmp / 'test.sqlite3'}"
elif TEST_DATABASE == "postgres":
    os.environ["PORTAL_DATABASE_URL"] = ADMIN_URL.rsplit("/", 1)[0] + f"/{_pg_name}"
else:
    raise pytest.UsageError(f"PORTAL_TEST_DATABASE must be sqlite or postgres, not {TEST_DATABASE!r}")

os.environ["PORTAL_ENVIRONMENT"] = "test"
os.environ["PORTAL_VAR_DIR"] = str(_tmp)
os.environ["PORTAL_SECRET_KEY"] = "test-secret-key-" + "x" * 32
os.environ["PORTAL_PSEUDONYM_KEY"] = "test-pseudonym-key-" + "y" * 32
os.environ.setdefault("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.pop("PORTAL_REDIS_URL", None)
os.environ["PICCOLO_CONF"] = "portal.piccolo_conf"


def pytest_report_header(config):
    return f"database: {TEST_DATABASE} ({os.environ['PORTAL_DATABASE_URL']})"


async def _admin_execute(sql: str) -> None:
    import asyncpg

    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}") from exc
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def migrated_database():
    """A database with every migration applied, once per test session."""
    if TEST_DATABASE == "postgres":
        await _admin_execute(f'CREATE DATABASE "{_pg_name}"')
    from portal.migrate import migrate

    await migrate()
    yield os.environ["PORTAL_DATABASE_URL"]
    if TEST_DATABASE == "postgres":
        from portal.db import close_pool

        await close_pool()
        await _admin_execute(f'DROP DATABASE IF EXISTS "{_pg_name}" WITH (FORCE)')


@pytest.fixture
async def db(migrated_database):
    """An empty database for one test: every table is emptied before the test runs."""
    from portal.db import empty_all_tables, engine

    await empty_all_tables()
    yield engine()



@pytest.fixture
async def app(db):
    """The portal app, its lifespan running on the test's own event loop."""
    from portal.app import create_app
    from portal.settings import Settings

    application = create_app(Settings())
    # The lifespan runs in a task of its own: anyio's cancel scopes must enter and exit in one task,
    # and pytest-asyncio sets up and tears down a fixture in different tasks.
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await asyncio.wait_for(started.wait(), timeout=30)
    yield application
    stop.set()
    await task


@pytest.fixture
async def redis_pool():
    """An arq pool on the test Redis (PORTAL_TEST_REDIS_URL, database 15), emptied before and after the test."""
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(os.environ["PORTAL_TEST_REDIS_URL"]))
    await pool.flushdb()
    yield pool
    await pool.flushdb()
    await pool.aclose()


@pytest.fixture
async def client(app):
    import httpx

    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
