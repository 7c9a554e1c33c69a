"""The production shape on this machine: a private PostgreSQL cluster and Redis server (started here, on free
ports, and stopped, killed and restarted by the fault tests), two `portal serve` processes and two
`portal worker` processes on them. The shared PostgreSQL (5432) and Redis (6379) are never touched.

Fixtures fail, never skip, when a piece cannot be started. The private cluster does not depend on
PORTAL_TEST_DATABASE, so these tests run once, in the PostgreSQL pass of ./scripts/test."""

import os
import shutil
import time

import asyncpg
import httpx
import pytest

from tests.production.cluster import (
    PORTAL,
    PortalProcess,
    PrivatePostgres,
    PrivateRedis,
    StartFailed,
    free_port,
    port_open,
    portal_env,
    run_cli,
    temporary_root,
)

DEMO_CASES = 400
EXPORT_CASES = 2100  # more than the direct-export limit (2.000 rows): the export becomes a job
JOB_TIMEOUT = 6  # seconds; a killed worker's job runs again JOB_TIMEOUT + 10 s later (arq's in-progress key)
DEMO_PASSWORD = "inzicht-demo-2026"


def pytest_collection_modifyitems(config, items):
    """The tests on the private cluster carry the ``production`` marker: scripts/test runs them once, in the
    PostgreSQL pass, and deselects them (never skips them) in the SQLite pass."""
    for item in items:
        if "tests/production" in str(item.fspath) and "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.production)


class Cluster:
    def __init__(self, root, postgres: PrivatePostgres, redis: PrivateRedis, env: dict) -> None:
        self.root, self.postgres, self.redis, self.env = root, postgres, redis, env
        self.portals: list[PortalProcess] = []
        self.workers: list[PortalProcess] = []
        self.api_key = ""

    @property
    def database_url(self) -> str:
        return self.postgres.url()

    def add_portal(self, name: str) -> PortalProcess:
        port = free_port()
        process = PortalProcess(name, [PORTAL, "serve", "--host", "127.0.0.1", "--port", str(port)], self.env,
                                self.root, port)
        self.portals.append(process)
        return process

    def add_worker(self, name: str) -> PortalProcess:
        process = PortalProcess(name, [PORTAL, "worker"], self.env, self.root)
        self.workers.append(process)
        return process

    def ensure_running(self) -> None:
        """Every process up (a test may have killed or stopped one), Redis and PostgreSQL answering."""
        if self.redis.process is None:
            self.redis.start()
        if not port_open(self.postgres.port):
            self.postgres.start()
        down = [process for process in [*self.portals, *self.workers] if not process.running]
        for process in down:  # started side by side: each takes seconds to import
            process.spawn()
        for process in down:
            process.wait_ready()

    async def connect(self, database: str = "inzicht") -> asyncpg.Connection:
        return await asyncpg.connect(self.postgres.url(database), timeout=10)

    async def fetchval(self, sql: str, *args):
        connection = await self.connect()
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()

    async def fetch(self, sql: str, *args) -> list:
        connection = await self.connect()
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()

    def stop(self) -> None:
        for process in [*self.workers, *self.portals]:
            process.stop()
        self.redis.stop() if self.redis.process else None
        self.postgres.stop("immediate")


def _load(cluster: Cluster) -> None:
    for args in (("migrate",), ("demo", "--no-serve", "--cases", str(DEMO_CASES))):
        result = run_cli(cluster.env, *args)
        if result.returncode != 0:
            raise StartFailed(f"portal {' '.join(args)} failed: {result.stdout}\n{result.stderr[-3000:]}")
    result = run_cli(cluster.env, "create-api-key", "--email", "coordinator@haarlem.demo", "--name", "loadtest")
    if result.returncode != 0:
        raise StartFailed(f"portal create-api-key failed: {result.stderr[-3000:]}")
    cluster.api_key = result.stdout.strip().splitlines()[-1]


def _copy_cases(cluster: Cluster, total: int) -> None:
    """Top the demo up to ``total`` cases by copying cases with their whole event history (set-based SQL)."""
    columns = [name for name in cluster.postgres.psql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'portal_case' "
        "AND column_name NOT IN ('id', 'case_number', 'pseudonym') ORDER BY ordinal_position").split()]
    event_columns = [name for name in cluster.postgres.psql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'case_event' "
        "AND column_name NOT IN ('id', 'case') ORDER BY ordinal_position").split()]
    have = int(cluster.postgres.psql("SELECT count(*) FROM portal_case"))
    copies = -(-(total - have) // have)
    cols = ", ".join(f'"{c}"' for c in columns)
    ecols = ", ".join(f'"{c}"' for c in event_columns)
    ocols = ", ".join(f'o."{c}"' for c in columns)
    eocols = ", ".join(f'e."{c}"' for c in event_columns)
    cluster.postgres.psql(f"""
        CREATE TEMP TABLE copied AS SELECT o.id AS original, g AS n FROM portal_case o, generate_series(1, {copies}) g;
        INSERT INTO portal_case (case_number, pseudonym, {cols})
            SELECT o.case_number || 'K' || c.n, md5(o.pseudonym || c.n) || md5(o.pseudonym), {ocols}
            FROM copied c JOIN portal_case o ON o.id = c.original;
        INSERT INTO case_event ("case", {ecols})
            SELECT k.id, {eocols} FROM copied c JOIN portal_case o ON o.id = c.original
            JOIN portal_case k ON k.case_number = o.case_number || 'K' || c.n
            JOIN case_event e ON e."case" = o.id;
        ANALYZE;
    """)  # noqa: S608 - column names from the schema, no input


@pytest.fixture(scope="session")
def cluster():
    started = time.perf_counter()
    root = temporary_root()
    postgres, redis = PrivatePostgres(root), PrivateRedis(root)
    postgres.init()
    postgres.psql("CREATE DATABASE inzicht", database="postgres")
    redis.start()
    env = portal_env(postgres.url(), redis.url, root / "var", PORTAL_JOB_TIMEOUT=str(JOB_TIMEOUT))
    shape = Cluster(root, postgres, redis, env)
    try:
        _load(shape)
        _copy_cases(shape, EXPORT_CASES)
        shape.add_portal("portal-1")
        shape.add_portal("portal-2")
        shape.add_worker("worker-1")
        shape.add_worker("worker-2")
        shape.ensure_running()
        print(f"\nproduction shape up in {time.perf_counter() - started:.1f} s (root {root})")
        yield shape
    finally:
        shape.stop()
        if not os.environ.get("PORTAL_KEEP_PRODUCTION_ROOT"):
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def shape(cluster):
    """The cluster with every process running (restarted if an earlier test killed one)."""
    cluster.ensure_running()
    return cluster


# --- logged-in clients against the real servers -----------------------------------------------------


class Browser:
    """A person's browser against any of the portal processes: one cookie jar, sent to whichever process
    (as a load balancer without sticky sessions would do). Cookies are kept by hand because production
    cookies are Secure and these servers speak plain HTTP on the loopback."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.http = httpx.AsyncClient(timeout=30, follow_redirects=False)

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"accept": "text/html"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers | (extra or {})

    async def get(self, base: str, path: str, **headers) -> httpx.Response:
        return self._keep(await self.http.get(base + path, headers=self._headers(headers)))

    async def post(self, base: str, path: str, data: dict | None = None) -> httpx.Response:
        if "inzicht_csrf" not in self.cookies:
            await self.get(base, "/inloggen")
        form = {"_csrf_token": self.cookies["inzicht_csrf"], **(data or {})}
        return self._keep(await self.http.post(base + path, data=form, headers=self._headers()))

    async def login(self, base: str, email: str, password: str = DEMO_PASSWORD) -> httpx.Response:
        response = await self.post(base, "/inloggen", {"email": email, "password": password})
        assert response.status_code == 303 and response.headers["location"] == "/", response.text[:300]
        return response

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def browser():
    person = Browser()
    yield person
    await person.close()
