"""Benchmark runner: loads a scale's data once, starts a real portal server and measures it.

    python -m benchmarks.run --scale S                       # SQLite file in var/bench/
    python -m benchmarks.run --scale S --postgres            # a PostgreSQL database inzicht_bench_s

Prints one table. Figures depend on the machine: the README says which one produced them.
Scales follow DESIGN: S one municipality (15k cases), M a large city (60k), L national (2M).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

SCALES = {"XS": 3_000, "S": 15_000, "M": 60_000, "L": 2_000_000}
REPO = Path(__file__).resolve().parent.parent
PASSWORD = "inzicht-demo-2026"  # noqa: S105 - the published demo password


@dataclass
class Measurement:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=20)[18] if len(self.latencies_ms) >= 20 else max(
            self.latencies_ms)


def database_url(scale: str, postgres: bool) -> str:
    if postgres:
        return f"postgresql://postgres@127.0.0.1:5432/inzicht_bench_{scale.lower()}"
    return f"sqlite:///{REPO / 'var' / 'bench' / f'bench_{scale.lower()}.sqlite3'}"


async def prepare(url: str, cases: int) -> float:
    """Create, migrate and fill the database when it does not hold this scale yet. Returns load seconds."""
    if url.startswith("postgresql"):
        import asyncpg

        admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
        name = url.rsplit("/", 1)[1]
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
    from portal.cases.tables import Case
    from portal.db import close_pool, start_pool
    from portal.demo.generator import load_demo
    from portal.migrate import migrate
    from portal.settings import get_settings

    await start_pool(get_settings())
    try:
        await migrate()
        if await Case.count() == cases:
            return 0.0
        started = time.perf_counter()
        await load_demo("haarlem", cases=cases, seed=2026, reset=True)
        return time.perf_counter() - started
    finally:
        await close_pool()


async def keyset_and_scan(deep_page: int, repeats: int = 15) -> dict:
    """In-process: the case list's page 2 vs a deep page (same query shape, only the cursor differs),
    for a coordinator who sees every case; and the signal scan, first run and an idle rerun."""
    from portal.accounts.rules import Actor, Role
    from portal.accounts.tables import Organisation, User
    from portal.cases import service
    from portal.cases.tables import Case
    from portal.db import close_pool, start_pool
    from portal.lib.keyset import encode_cursor
    from portal.settings import get_settings
    from portal.signals import service as signals

    await start_pool(get_settings())
    try:
        person = await User.select().where(User.email == "coordinator@haarlem.demo").first()
        org = await Organisation.select().where(Organisation.id == person["organisation"]).first()
        actor = Actor(user_id=person["id"], organisation_id=org["id"], organisation_kind=org["kind"],
                      role=Role.COORDINATOR, display_name=person["display_name"], email=person["email"])
        total = await Case.count()
        deep_page = min(deep_page, total // service.PAGE_SIZE - 1)

        async def cursor_at(position: int) -> str:
            row = await Case.select(Case.id, Case.status_since).order_by(Case.status_since, Case.id,
                                                                         ascending=False).offset(position).first()
            return encode_cursor(row["status_since"], row["id"])

        async def timed(cursor: str) -> float:
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                await service.list_cases(actor, service.CaseFilter(cursor=cursor))
                samples.append((time.perf_counter() - started) * 1000)
            return statistics.median(samples)

        page_2 = await timed(await cursor_at(service.PAGE_SIZE - 1))
        deep = await timed(await cursor_at(deep_page * service.PAGE_SIZE - 1))
        started = time.perf_counter()
        first = await signals.run_scan()
        first_scan = time.perf_counter() - started
        started = time.perf_counter()
        await signals.run_scan()
        rerun = time.perf_counter() - started
        created = sum(rule.created for rule in first.rules.values())
        return {"page_2_ms": page_2, "deep_page": deep_page + 1, "deep_ms": deep, "scan_s": first_scan,
                "rescan_s": rerun, "signals": created}
    finally:
        await close_pool()


async def login(http: httpx.AsyncClient, email: str) -> None:
    await http.get("/inloggen")
    token = http.cookies.get("inzicht_csrf")
    response = await http.post("/inloggen", data={"_csrf_token": token, "email": email, "password": PASSWORD})
    if response.status_code != 303:
        raise SystemExit(f"login as {email} failed: {response.status_code}")


async def hammer(base: str, path: str, email: str | None, concurrency: int, seconds: float) -> Measurement:
    """``concurrency`` clients request ``path`` in a loop for ``seconds``; every answer must be a 200."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    cookies = httpx.Cookies()
    if email:  # one login per person: the login rate limit would refuse one per connection
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            await login(http, email)
            cookies = http.cookies

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30, cookies=cookies) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get(path, headers={"accept": "text/html"})
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return Measurement(path, len(latencies), time.perf_counter() - started, latencies)


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_PORT": str(port)}
    env.pop("PORTAL_REDIS_URL", None)
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "portal.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the portal did not start")


async def measure(base: str, concurrency: int, seconds: float) -> list[Measurement]:
    results = [await hammer(base, "/health/live", None, concurrency, seconds)]
    for path, email in PAGES:
        results.append(await hammer(base, path, email, concurrency, seconds))
    return results


PAGES = [
    ("/", "coordinator@haarlem.demo"),
    ("/casussen", "coordinator@haarlem.demo"),
    ("/casussen", "onderaannemer1@haarlem.demo"),
    ("/dashboard", "contractmanager@haarlem.demo"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="S")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8077)
    args = parser.parse_args()

    url = database_url(args.scale, args.postgres)
    os.environ["PORTAL_DATABASE_URL"] = url
    load_seconds = asyncio.run(prepare(url, SCALES[args.scale]))
    inner = asyncio.run(keyset_and_scan(1000))
    server = start_server(url, args.port)
    try:
        results = asyncio.run(measure(f"http://127.0.0.1:{args.port}", args.concurrency, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)

    hello = results[0].per_second
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nscale {args.scale} ({SCALES[args.scale]:,} cases) on {database}, {args.concurrency} connections, "
          f"{args.seconds:.0f} s per route" + (f"; data loaded in {load_seconds:.1f} s" if load_seconds else ""))
    print(f"{'route':<28} {'user':<28} {'req/s':>8} {'vs hello':>9} {'p50 ms':>8} {'p95 ms':>8}")
    users = [None, *[email for _, email in PAGES]]
    for result, user in zip(results, users, strict=True):
        print(f"{result.name:<28} {user or '-':<28} {result.per_second:>8.1f} {result.per_second / hello:>8.2f}x "
              f"{result.p50:>8.1f} {result.p95:>8.1f}")
    print(f"\ncase list, keyset: page 2 {inner['page_2_ms']:.1f} ms, page {inner['deep_page']:,} "
          f"{inner['deep_ms']:.1f} ms ({inner['deep_ms'] / inner['page_2_ms']:.2f}x; goal <= 1.5x)")
    print(f"signal scan: first run {inner['scan_s']:.2f} s ({inner['signals']:,} signals), "
          f"rerun {inner['rescan_s']:.2f} s (idempotent: nothing new)")


if __name__ == "__main__":
    main()
