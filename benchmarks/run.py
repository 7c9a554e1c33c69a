"""Benchmark runner: loads a scale once (benchmarks.data), measures everything side by side, prints one table.

    python -m benchmarks.run --scale S --postgres --compare-sqlite   # the full set at S (also SQLite's S)
    python -m benchmarks.run --scale M --postgres
    python -m benchmarks.run --scale L --postgres --seconds 20        # 342 tenants: dashboard p95 per tenant
    python -m benchmarks.run --scale S --postgres --http-only --compare-sqlite --dashboard-only  # just SQLite vs PG

Lines of the table, each with its goal (issue #10) and a verdict:
- dashboard vs hello: a real portal server (one process), ``--concurrency`` clients request the contract
  dashboard (contract manager) and the bare liveness route ``/health/live`` for ``--seconds`` each, taking
  turns in three windows (the machine's drift weighs on both alike); goal
  dashboard >= 0.2x hello's req/s at S; at L p95 < 300 ms for every tenant measured (clients spread over
  ``--tenants`` contract managers of different municipalities at once).
- scan vs its SQL: ``run_scan()`` (an idle rerun: the contracts whose inputs did not change since the rule's
  last run today are skipped) against every statement that rerun sent to PostgreSQL (captured at the engine:
  SELECTs, upserts, updates), replayed with asyncpg on one connection in a transaction that is rolled back;
  medians. Goal <= 1.5x; at L the scan under 60 s. For information the same for ``run_scan(full=True)``, every
  rule on every contract, as the first scan of a day (or of a contract that changed) runs.
- Piccolo vs asyncpg: the case list's page query (coordinator, 51 rows with the contract and subcontractor
  names) as ``list_cases`` runs it (written with Piccolo, compiled once per shape: ``portal.lib.compiled_query``),
  against the identical SQL and arguments run with asyncpg on the same pool. Goal <= 1.3x. For information also
  the same query built and compiled afresh by Piccolo on every call (how the portal ran it before).
- keyset: the case list service (``list_cases``) for a deep page (1.000, or the last one the scale has) vs
  page 1 reached through the same seek path; goal <= 1.5x.
- SQLite vs PostgreSQL: the dashboard's req/s on SQLite's copy of the scale over PostgreSQL's; goal >= 0.5x.

Figures depend on the machine: the README says which one produced them. Nothing here asserts a time.
"""

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.data import SCALES, SERVER, database_url, loaded_scale

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "inzicht-demo-2026"  # noqa: S105 - the published demo password
HELLO = "/health/live"
DASHBOARD = "/dashboard"
TIMEOUT_S = 60.0


@dataclass
class Measurement:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    per_user: dict[str, list[float]] = field(default_factory=dict)
    timeouts: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p95(self) -> float:
        return p95(self.latencies_ms)


def p95(samples: list[float]) -> float:
    if not samples:
        return float("nan")
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


@dataclass
class Row:
    what: str
    figure: str
    goal: str
    met: bool | None  # None: information only


# --- data -------------------------------------------------------------------------------------------------


def ensure_data(url: str, scale: str, postgres: bool, server: str) -> str:
    """Load the scale in its own database unless it is there already. Returns a line about the load."""
    cases, events = SCALES[scale][:2]
    have = asyncio.run(loaded_scale(url))
    if have[0] == cases and have[1] >= events * 0.95:
        # the schema may have moved on since the load: bring it up to date (additive migrations)
        subprocess.run([sys.executable, "-m", "portal.cli", "migrate"], cwd=REPO, check=True,  # noqa: S603
                       env={**os.environ, "PORTAL_DATABASE_URL": url}, capture_output=True)
        return f"data reused: {have[0]:,} cases, {have[1]:,} events"
    command = [sys.executable, "-m", "benchmarks.data", "--scale", scale, "--server", server]
    if postgres:
        command.append("--postgres")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout.strip().splitlines()[-1]


# --- in-process measurements (PostgreSQL) ---------------------------------------------------------------


def _capture():
    """Record every statement Piccolo sends to PostgreSQL while the returned list is active."""
    from piccolo.engine.postgres import PostgresEngine

    original = PostgresEngine.run_querystring
    captured: list[tuple[str, tuple]] = []
    state = {"on": False}

    async def recording(self, querystring, in_pool: bool = True):
        if state["on"]:
            sql, args = querystring.compile_string(engine_type=self.engine_type)
            captured.append((sql, tuple(args)))
        return await original(self, querystring, in_pool)

    PostgresEngine.run_querystring = recording
    return captured, state, lambda: setattr(PostgresEngine, "run_querystring", original)


async def _replay(url: str, statements: list[tuple[str, tuple]], repeats: int) -> float:
    """Median seconds to run the statements one after another on one asyncpg connection (rolled back)."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        times = []
        for _ in range(repeats + 1):  # the first round prepares the statements and warms the cache
            transaction = connection.transaction()
            await transaction.start()
            started = time.perf_counter()
            for sql, args in statements:
                await connection.fetch(sql, *args)
            times.append(time.perf_counter() - started)
            await transaction.rollback()
        return statistics.median(times[1:])
    finally:
        await connection.close()


async def _coordinator():
    from portal.accounts.rules import Actor, Role
    from portal.accounts.tables import Organisation, User

    person = await User.select().where(User.email == "coordinator@haarlem.demo").first()
    org = await Organisation.select().where(Organisation.id == person["organisation"]).first()
    return Actor(user_id=person["id"], organisation_id=org["id"], organisation_kind=org["kind"],
                 role=Role.COORDINATOR, display_name=person["display_name"], email=person["email"])


async def in_process(url: str, repeats: int) -> dict:
    from portal.accounts import policy
    from portal.cases import service
    from portal.cases.tables import Case
    from portal.db import close_pool, engine, start_pool
    from portal.lib.keyset import encode_cursor
    from portal.settings import get_settings
    from portal.signals import service as signals

    result: dict = {}
    await start_pool(get_settings())
    try:
        # the scan: a first run from nothing (writes every signal), then idle reruns and the SQL they sent.
        # An idle rerun skips the contracts whose inputs have not changed today; a full rerun (run_scan(full=True))
        # evaluates every rule on every contract, as the first scan of a day does.
        from portal.signals.tables import ScanState, Signal, SignalComment

        await SignalComment.delete(force=True)  # the benchmark's own database: start without signals
        await Signal.delete(force=True)
        await ScanState.delete(force=True)
        started = time.perf_counter()
        first = await signals.run_scan()
        result["scan_first_s"] = time.perf_counter() - started
        result["signals"] = sum(rule.signals for rule in first.rules.values())
        scan_statements = {}
        for kind, full in (("scan", False), ("full_scan", True)):
            captured, state, undo = _capture()
            try:
                state["on"] = True
                await signals.run_scan(full=full)
                state["on"] = False
            finally:
                undo()
            scan_statements[kind] = list(captured)
            reruns, per_rule = [], {}
            for _ in range(repeats):
                started = time.perf_counter()
                summary = await signals.run_scan(full=full)
                reruns.append(time.perf_counter() - started)
                for name, rule in summary.rules.items():
                    per_rule.setdefault(name, []).append(rule.millis)
            result[f"{kind}_s"] = statistics.median(reruns)
            result[f"{kind}_rules"] = {name: statistics.median(values) for name, values in per_rule.items()}
            result[f"{kind}_statements"] = len(scan_statements[kind])

        # Piccolo vs asyncpg: the case list's page query as list_cases runs it (its values checked, the query
        # compiled once per shape and run with them), against asyncpg running the identical SQL and arguments
        actor = await _coordinator()
        order, limit, no_filters = service.CaseOrder.RECENT, service.PAGE_SIZE + 1, service.CaseFilter()

        async def portal_page() -> list[dict]:
            values = await service._list_values(actor, no_filters)
            page = {**values, **service._cursor_values(order, None)}
            return await service._compiled_page(actor, page, order, limit).run(page)

        def fresh_query():  # extra information: the same query built and compiled by Piccolo on every call
            return Case.select(*service.LIST_COLUMNS, Case.urgency).where(policy.case_scope(actor)).order_by(
                Case.status_since, Case.id, ascending=False).limit(limit)

        values = await service._list_values(actor, no_filters)
        compiled_page = service._compiled_page(actor, values, order, limit)
        sql, args = compiled_page.sql, compiled_page.bind(values)
        assert (sql, args) == fresh_query().querystrings[0].compile_string(engine_type="postgres")
        pool = engine().pool
        piccolo_ms, raw_ms, fresh_ms = [], [], []
        for _ in range(repeats * 20):
            started = time.perf_counter()
            rows = await portal_page()
            piccolo_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            async with pool.acquire() as connection:
                raw = await connection.fetch(sql, *args)
            raw_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            fresh = await fresh_query()
            fresh_ms.append((time.perf_counter() - started) * 1000)
        assert rows == fresh == [dict(record) for record in raw]
        result["piccolo_ms"], result["asyncpg_ms"] = statistics.median(piccolo_ms), statistics.median(raw_ms)
        result["piccolo_fresh_ms"] = statistics.median(fresh_ms)

        # keyset: a deep page vs page 1, both through list_cases with a cursor (the seek path, no count)
        visible = await Case.count().where(policy.case_scope(actor))
        deep = max(1, min(1000, visible // service.PAGE_SIZE - 1))

        async def cursor_at(position: int) -> str:
            if position < 0:
                return encode_cursor("9999-12-31T00:00:00+00:00", 2**31 - 1)  # before the first row
            row = await Case.select(Case.id, Case.status_since).where(policy.case_scope(actor)).order_by(
                Case.status_since, Case.id, ascending=False).offset(position).first()
            return encode_cursor(row["status_since"], row["id"])

        async def timed(cursor: str) -> float:
            samples = []
            for _ in range(repeats * 5):
                started = time.perf_counter()
                await service.list_cases(actor, service.CaseFilter(cursor=cursor))
                samples.append((time.perf_counter() - started) * 1000)
            return statistics.median(samples)

        first_cursor, deep_cursor = await cursor_at(-1), await cursor_at(deep * service.PAGE_SIZE - 1)
        await timed(first_cursor)  # warm
        result["page_1_ms"], result["deep_ms"], result["deep_page"] = (
            await timed(first_cursor), await timed(deep_cursor), deep + 1)
    finally:
        await close_pool()
    result["sql_s"] = await _replay(url, scan_statements["scan"], repeats)
    result["full_sql_s"] = await _replay(url, scan_statements["full_scan"], repeats)
    return result


# --- HTTP ----------------------------------------------------------------------------------------------


async def login(http: httpx.AsyncClient, email: str) -> None:
    await http.get("/inloggen")
    token = http.cookies.get("inzicht_csrf")
    response = await http.post("/inloggen", data={"_csrf_token": token, "email": email, "password": PASSWORD})
    if response.status_code != 303:
        raise SystemExit(f"login as {email} failed: {response.status_code}")


async def hammer(base: str, path: str, emails: list[str | None], concurrency: int, seconds: float) -> Measurement:
    """``concurrency`` clients (spread over ``emails``) request ``path`` in a loop; every answer must be 200."""
    latencies: list[float] = []
    timeouts: list[str] = []
    per_user: dict[str, list[float]] = {}
    jars: dict[str | None, httpx.Cookies] = {}
    for email in emails:  # one login per person: the login rate limit would refuse one per connection
        jars[email] = httpx.Cookies()
        if email:
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                await login(http, email)
                jars[email] = http.cookies
    deadline = time.perf_counter() + seconds

    async def client_loop(email: str | None) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S, cookies=jars[email]) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.get(path, headers={"accept": "text/html"})
                except httpx.TimeoutException:
                    timeouts.append(email or "-")  # counted at the timeout: the p95 shows it
                else:
                    if response.status_code != 200:
                        raise SystemExit(f"{path} as {email}: HTTP {response.status_code}")
                elapsed = (time.perf_counter() - started) * 1000
                latencies.append(elapsed)
                per_user.setdefault(email or "-", []).append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(emails[n % len(emails)]) for n in range(concurrency)))
    return Measurement(path, len(latencies) - len(timeouts), time.perf_counter() - started, latencies, per_user,
                       len(timeouts))


REDIS_URL: str | None = None  # --redis: background jobs go to Redis (workers elsewhere), as in production


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_PORT": str(port)}
    env.pop("PORTAL_REDIS_URL", None)
    if REDIS_URL:
        env["PORTAL_REDIS_URL"] = REDIS_URL
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "portal.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{HELLO}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the portal did not start")


ROUNDS = 3  # windows per route in serve_and_measure


def _merged(parts: list[Measurement]) -> Measurement:
    per_user: dict[str, list[float]] = {}
    for part in parts:
        for user, samples in part.per_user.items():
            per_user.setdefault(user, []).extend(samples)
    return Measurement(parts[0].name, sum(part.requests for part in parts), sum(part.seconds for part in parts),
                       [sample for part in parts for sample in part.latencies_ms], per_user,
                       sum(part.timeouts for part in parts))


def serve_and_measure(url: str, port: int, plan: list[tuple[str, list[str | None]]], concurrency: int,
                      seconds: float) -> list[Measurement]:
    server = start_server(url, port)
    try:
        async def run() -> list[Measurement]:
            base = f"http://127.0.0.1:{port}"
            for path, emails in plan:
                await hammer(base, path, emails, concurrency, 1.0)  # warm up
            # the routes take turns in ROUNDS short windows, so that a machine that speeds up or slows down
            # during the run (other work, CPU boost) weighs on every route alike, not on one route's window
            windows: list[list[Measurement]] = [[] for _ in plan]
            for _ in range(ROUNDS):
                for index, (path, emails) in enumerate(plan):
                    windows[index].append(await hammer(base, path, emails, concurrency, seconds / ROUNDS))
            return [_merged(parts) for parts in windows]
        return asyncio.run(run())
    finally:
        server.terminate()
        server.wait(timeout=20)


# --- the table -----------------------------------------------------------------------------------------


def tenant_emails(count: int) -> list[str]:
    return ["contractmanager@haarlem.demo"] + [f"contractmanager@gemeente-{n:03d}.demo" for n in range(2, count + 1)]


def inner_rows(inner: dict, large: bool) -> list[Row]:
    scan_ratio = inner["scan_s"] / inner["sql_s"]
    full_ratio = inner["full_scan_s"] / inner["full_sql_s"]
    return [
        Row(f"scan idle rerun vs its SQL ({inner['scan_statements']} statements)",
            f"{inner['scan_s'] * 1000:,.0f} ms vs {inner['sql_s'] * 1000:,.0f} ms = {scan_ratio:.2f}x", "<= 1.5x",
            scan_ratio <= 1.5),
        Row(f"  full rerun, every contract ({inner['full_scan_statements']} statements)",
            f"{inner['full_scan_s'] * 1000:,.0f} ms vs {inner['full_sql_s'] * 1000:,.0f} ms = {full_ratio:.2f}x",
            "", None),
        Row("scan, first run (writes the signals)", f"{inner['scan_first_s']:.1f} s, {inner['signals']:,} signals",
            "< 60 s at L", inner["scan_first_s"] < 60 if large else None),
        Row("Piccolo vs asyncpg, case list page query",
            f"{inner['piccolo_ms']:.2f} ms vs {inner['asyncpg_ms']:.2f} ms = "
            f"{inner['piccolo_ms'] / inner['asyncpg_ms']:.2f}x", "<= 1.3x",
            inner["piccolo_ms"] / inner["asyncpg_ms"] <= 1.3),
        Row("  the same query built afresh by Piccolo",
            f"{inner['piccolo_fresh_ms']:.2f} ms = {inner['piccolo_fresh_ms'] / inner['asyncpg_ms']:.2f}x", "", None),
        Row(f"keyset page {inner['deep_page']:,} vs page 1", f"{inner['deep_ms']:.1f} ms vs "
            f"{inner['page_1_ms']:.1f} ms = {inner['deep_ms'] / inner['page_1_ms']:.2f}x", "<= 1.5x",
            inner["deep_ms"] / inner["page_1_ms"] <= 1.5),
    ]




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="S")
    parser.add_argument("--postgres", action="store_true", help="required for the SQL, Piccolo and scan lines")
    parser.add_argument("--compare-sqlite", action="store_true", help="also SQLite's copy: dashboard req/s")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tenants", type=int, default=8, help="at L: contract managers measured at once")
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--http-only", action="store_true", help="skip the in-process lines (see benchmarks.scan)")
    parser.add_argument("--dashboard-only", action="store_true", help="HTTP: only the dashboard (and its SQLite "
                        "copy with --compare-sqlite), not hello, Mijn werk or the case list")
    parser.add_argument("--redis", metavar="URL", help="the portal hands its background jobs (the hourly scan among "
                        "them) to Redis, as in production, instead of running them in its own process")
    args = parser.parse_args()
    global REDIS_URL
    REDIS_URL = args.redis
    if not args.postgres:
        raise SystemExit("run with --postgres (the SQLite copy is measured next to it with --compare-sqlite)")

    url = database_url(args.scale, True, args.server)
    os.environ["PORTAL_DATABASE_URL"] = url  # before portal is imported: settings and engine read it once
    os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")
    loads = [ensure_data(url, args.scale, True, args.server)]
    sqlite_url = database_url(args.scale, False)
    if args.compare_sqlite:
        loads.append(ensure_data(sqlite_url, args.scale, False, args.server))

    inner = None if args.http_only else asyncio.run(in_process(url, args.repeats))
    print(f"in-process figures: {inner}", flush=True)  # kept even if the HTTP part fails
    large = args.scale == "L"
    emails = tenant_emails(args.tenants) if large else ["contractmanager@haarlem.demo"]
    plan = [(HELLO, [None]), (DASHBOARD, emails), ("/", ["coordinator@haarlem.demo"]),
            ("/casussen", ["coordinator@haarlem.demo"])]
    if args.dashboard_only:
        plan = [(DASHBOARD, emails)]
    measured = serve_and_measure(url, args.port, plan, args.concurrency, args.seconds)
    hello, dashboard, home, cases = measured if len(measured) == 4 else (None, measured[0], None, None)
    sqlite_dashboard = None
    if args.compare_sqlite:
        [sqlite_dashboard] = serve_and_measure(sqlite_url, args.port + 1, [(DASHBOARD, emails)], args.concurrency,
                                               args.seconds)

    timed_out = f", {dashboard.timeouts} timed out (> {TIMEOUT_S:.0f} s)" if dashboard.timeouts else ""
    if args.dashboard_only:
        rows = [Row("dashboard, req/s", f"{dashboard.per_second:,.1f} req/s, p95 {dashboard.p95:.0f} ms{timed_out}",
                    "", None)]
    else:
        ratio = dashboard.per_second / hello.per_second
        rows = [
            Row(f"{HELLO} (no database)", f"{hello.per_second:,.0f} req/s, p95 {hello.p95:.0f} ms", "", None),
            Row("dashboard vs hello, req/s", f"{dashboard.per_second:,.1f} req/s = {ratio:.2f}x, p95 "
                f"{dashboard.p95:.0f} ms{timed_out}", ">= 0.2x at S", ratio >= 0.2 if args.scale == "S" else None),
        ]
    if large:
        worst = max((p95(samples), user) for user, samples in dashboard.per_user.items())
        rows.append(Row(f"dashboard p95 per tenant ({len(dashboard.per_user)} at once)",
                        f"worst {worst[0]:.0f} ms ({worst[1].split('@')[1]})", "< 300 ms", worst[0] < 300))
    if not args.dashboard_only:
        rows += [
            Row("Mijn werk /, coordinator", f"{home.per_second:,.1f} req/s, p95 {home.p95:.0f} ms", "", None),
            Row("case list /casussen, coordinator", f"{cases.per_second:,.1f} req/s, p95 {cases.p95:.0f} ms", "",
                None),
        ]
    if inner is not None:
        rows += inner_rows(inner, large)
    if sqlite_dashboard is not None:
        versus = sqlite_dashboard.per_second / dashboard.per_second
        rows.append(Row("dashboard SQLite vs PostgreSQL, req/s", f"{sqlite_dashboard.per_second:,.1f} vs "
                        f"{dashboard.per_second:,.1f} = {versus:.2f}x, SQLite p95 {sqlite_dashboard.p95:.0f} ms",
                        ">= 0.5x at S", versus >= 0.5))

    cases_count, events_count, tenants = SCALES[args.scale][:3]
    print(f"\nscale {args.scale}: {cases_count:,} cases, {events_count:,} events, {tenants} tenant(s); "
          f"{args.concurrency} connections, {args.seconds:.0f} s per route (in {ROUNDS} turns), one portal process")
    for line in loads:
        print(re.sub(r"\s+", " ", line))
    width = max(len(row.what) for row in rows)
    figure = max(len(row.figure) for row in rows)
    print(f"\n{'measurement':<{width}}  {'figure':<{figure}}  {'goal':<13} verdict")
    for row in rows:
        verdict = "" if row.met is None else ("met" if row.met else "NOT MET")
        print(f"{row.what:<{width}}  {row.figure:<{figure}}  {row.goal:<13} {verdict}")
    if inner is not None:
        for kind, label in (("scan", "idle rerun"), ("full_scan", "full rerun")):
            rules = ", ".join(f"{name} {millis:.0f} ms" for name, millis in inner[f"{kind}_rules"].items())
            print(f"{'' if kind == 'full_scan' else chr(10)}scan {label} per rule (medians): {rules}")


if __name__ == "__main__":
    main()
