"""Benchmark of the signal scan on PostgreSQL against the same SQL run directly (not a test).

    python -m benchmarks.scan --scale S     # 15k cases, 300k events, database inzicht_bench_scan_s
    python -m benchmarks.scan --scale M     # 60k cases, 1.2M events, database inzicht_bench_scan_m

The database (on postgresql://postgres@127.0.0.1:5432, or --server) is created and migrated when missing and
filled once per scale; a later run reuses it (--regenerate starts over). Cases come from the demo generator
(scenario haarlem, ~5.5 status events per case). The event log is then topped up to the scale's event count
with in-care progress events, loaded with asyncpg COPY: action ``progress_note``, from_status = to_status = the
case's current status, occurred_at spread over the case's life (melding date up to today, or up to the day a
closed case reached its final status). These are NON-STATUS events: they change no case row and no clock, but
they are in the event log the legal-term step reads, as on a real system, where most events are progress.

What is timed:
- ``run_scan()`` end to end (portal.signals.service): the first run (writes every signal) and reruns
  (idempotent: nothing changes), the steady state of an hourly scan;
- per step, the stalled and the legal-term step as the scan reports them (Piccolo queries, the rules in
  Python, the upsert and the auto-close, one transaction each);
- the same steps' SELECT statements run directly with asyncpg: the statements are captured while a scan runs
  (same SQL text, same arguments: the contract's norms and cut-offs of today), then each is executed on one
  connection and timed (median of several repeats).

The goal is scan <= 1.5x the raw SQL. Figures depend on the machine; nothing here asserts a time.
"""

import argparse
import asyncio
import contextvars
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

SCALES = {"S": (15_000, 300_000), "M": (60_000, 1_200_000)}
SERVER = "postgresql://postgres@127.0.0.1:5432"
COPY_BATCH = 100_000
_step: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_step", default=None)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="S")
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server URL without a database name")
    parser.add_argument("--repeats", type=int, default=5, help="reruns of the scan and of the raw SQL")
    parser.add_argument("--regenerate", action="store_true", help="drop the data and generate it again")
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args()


async def _ensure_database(server: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(f"{server}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _top_up_events(url: str, target: int, rng: random.Random) -> int:
    """Add non-status progress events until the event log holds ``target`` rows. Returns how many."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        existing = await connection.fetchval("SELECT count(*) FROM case_event")
        missing = target - existing
        if missing <= 0:
            return 0
        cases = await connection.fetch(
            'SELECT c.id, c.contract, c.status, c.status_since, c.melding_date, c.subcontractor, '
            'k.main_contractor, k.municipality FROM portal_case c JOIN contract k ON k.id = c.contract ORDER BY c.id')
        now = datetime.now(UTC)
        final = {"closed", "withdrawn", "rejected", "referred_collective", "ended"}
        lives = []
        for case in cases:
            start = datetime.combine(case["melding_date"], datetime.min.time(), tzinfo=UTC)
            end = case["status_since"] if case["status"] in final else now
            lives.append((start, max(end, start + timedelta(hours=1))))
        weights = [(end - start).total_seconds() for start, end in lives]
        total = sum(weights)
        counts = [int(missing * weight / total) for weight in weights]
        for index in rng.choices(range(len(cases)), weights=weights, k=missing - sum(counts)):
            counts[index] += 1
        columns = ["case", "contract", "occurred_at", "recorded_at", "actor_organisation", "action",
                   "from_status", "to_status", "subcontractor"]
        batch: list[tuple] = []
        for case, (start, end), count in zip(cases, lives, counts, strict=True):
            span = (end - start).total_seconds()
            organisation = case["subcontractor"] or case["main_contractor"] or case["municipality"]
            for _ in range(count):
                moment = start + timedelta(seconds=rng.random() * span)
                batch.append((case["id"], case["contract"], moment, moment, organisation, "progress_note",
                              case["status"], case["status"], case["subcontractor"]))
                if len(batch) >= COPY_BATCH:
                    await connection.copy_records_to_table("case_event", records=batch, columns=columns)
                    batch = []
        if batch:
            await connection.copy_records_to_table("case_event", records=batch, columns=columns)
        await connection.execute("ANALYZE")
        return missing
    finally:
        await connection.close()


async def prepare(url: str, cases: int, events: int, regenerate: bool, seed: int) -> dict:
    from portal.cases.tables import Case, CaseEvent
    from portal.demo.generator import load_demo
    from portal.migrate import migrate

    await migrate()
    have_cases, have_events = await Case.count(), await CaseEvent.count()
    if not regenerate and have_cases == cases and have_events >= events:
        return {"cases": have_cases, "events": have_events, "demo_s": 0.0, "copy_s": 0.0, "copied": 0}
    started = time.perf_counter()
    await load_demo("haarlem", cases=cases, seed=seed, reset=True)
    demo_s = time.perf_counter() - started
    started = time.perf_counter()
    copied = await _top_up_events(url, events, random.Random(seed))
    copy_s = time.perf_counter() - started
    return {"cases": await Case.count(), "events": await CaseEvent.count(), "demo_s": demo_s, "copy_s": copy_s,
            "copied": copied}


def _capture(captured: dict[str, list[tuple[str, tuple]]]):
    """Record every SELECT the scan's stalled and legal-term steps send to PostgreSQL (SQL text and args)."""
    from piccolo.engine.postgres import PostgresEngine

    from portal.signals import service

    original = PostgresEngine.run_querystring

    async def recording(self, querystring, in_pool: bool = True):
        step = _step.get()
        if step is not None:
            sql, args = querystring.compile_string(engine_type=self.engine_type)
            if sql.lstrip().upper().startswith("SELECT"):
                captured.setdefault(step, []).append((sql, tuple(args)))
        return await original(self, querystring, in_pool)

    def wrap(name: str, step_function):
        async def wrapped(today, parties):
            token = _step.set(name)
            try:
                return await step_function(today, parties)
            finally:
                _step.reset(token)
        return wrapped

    originals = {"_scan_stalled": service._scan_stalled, "_scan_legal_terms": service._scan_legal_terms}
    PostgresEngine.run_querystring = recording
    service._scan_stalled = wrap("stalled", originals["_scan_stalled"])
    service._scan_legal_terms = wrap("legal_term_exceeded", originals["_scan_legal_terms"])

    def undo() -> None:
        PostgresEngine.run_querystring = original
        service._scan_stalled = originals["_scan_stalled"]
        service._scan_legal_terms = originals["_scan_legal_terms"]

    return undo


async def _raw(url: str, statements: list[tuple[str, tuple]], repeats: int) -> tuple[float, int]:
    """Median seconds to run the statements one after another on one asyncpg connection, and rows fetched."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        times, rows = [], 0
        for _ in range(repeats + 1):  # the first round warms the cache and the prepared statements
            started = time.perf_counter()
            rows = 0
            async with connection.transaction(readonly=True):
                for sql, args in statements:
                    rows += len(await connection.fetch(sql, *args))
            times.append(time.perf_counter() - started)
        return statistics.median(times[1:]), rows
    finally:
        await connection.close()


async def bench(url: str, scale: str, repeats: int, regenerate: bool, seed: int) -> None:
    from portal.db import close_pool, start_pool
    from portal.settings import get_settings
    from portal.signals import service
    from portal.signals.tables import Signal

    cases, events = SCALES[scale]
    await start_pool(get_settings())
    try:
        data = await prepare(url, cases, events, regenerate, seed)
        await Signal.delete(force=True)  # a first run from nothing, every time
        started = time.perf_counter()
        first = await service.run_scan()
        first_s = time.perf_counter() - started

        captured: dict[str, list[tuple[str, tuple]]] = {}
        undo = _capture(captured)
        try:
            await service.run_scan()  # the statements of a rerun, as the hourly job sends them
        finally:
            undo()
        reruns, step_ms = [], {"stalled": [], "legal_term_exceeded": []}
        for _ in range(repeats):
            started = time.perf_counter()
            summary = await service.run_scan()
            reruns.append(time.perf_counter() - started)
            for rule in step_ms:
                step_ms[rule].append(summary.rules[rule].millis / 1000)
    finally:
        await close_pool()

    raw = {rule: await _raw(url, statements, repeats) for rule, statements in captured.items()}
    rerun_s = statistics.median(reruns)
    raw_total = sum(seconds for seconds, _ in raw.values())
    today = first.today
    signals = sum(rule.signals for rule in first.rules.values())

    print(f"\nSignal scan benchmark, scale {scale}, PostgreSQL database {url.rsplit('/', 1)[1]}, today {today}")
    print(f"data: {data['cases']:,} cases, {data['events']:,} events"
          + (f" (generated: demo {data['demo_s']:.1f} s, {data['copied']:,} progress events by COPY "
             f"{data['copy_s']:.1f} s)" if data["demo_s"] else " (reused)"))
    print(f"first scan (writes {signals:,} signals): {first_s:.2f} s; medians of {repeats} reruns below\n")
    header = f"{'what':<44} {'scan (s)':>10} {'raw SQL (s)':>12} {'ratio':>7} {'stmts':>6} {'rows':>8}"
    print(header)
    print("-" * len(header))
    for rule in ("stalled", "legal_term_exceeded"):
        scan_s = statistics.median(step_ms[rule])
        raw_s, rows = raw.get(rule, (0.0, 0))
        ratio = scan_s / raw_s if raw_s else float("nan")
        print(f"{'step ' + rule:<44} {scan_s:>10.3f} {raw_s:>12.3f} {ratio:>6.2f}x "
              f"{len(captured.get(rule, [])):>6} {rows:>8,}")
    ratio = rerun_s / raw_total if raw_total else float("nan")
    print(f"{'run_scan() end to end vs both steps raw':<44} {rerun_s:>10.3f} {raw_total:>12.3f} {ratio:>6.2f}x")
    print(f"\ngoal: scan <= 1.5x the raw SQL; per step: {'met' if all(statistics.median(step_ms[r]) <= 1.5 * raw[r][0] for r in raw) else 'NOT met'}; "  # noqa: E501
          f"end to end: {'met' if ratio <= 1.5 else 'NOT met'}")
    rules_line = ", ".join(f"{name} {rule.millis:.0f} ms" for name, rule in first.rules.items())
    print(f"first scan per rule: {rules_line}")


def main() -> None:
    args = _parse()
    name = f"inzicht_bench_scan_{args.scale.lower()}"
    url = f"{args.server}/{name}"
    asyncio.run(_ensure_database(args.server, name))
    # before anything of portal is imported: the settings and the Piccolo engine read it once
    os.environ["PORTAL_DATABASE_URL"] = url
    os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")
    if "portal" in sys.modules:
        raise SystemExit("benchmarks.scan must set PORTAL_DATABASE_URL before portal is imported")
    asyncio.run(bench(url, args.scale, args.repeats, args.regenerate, args.seed))


if __name__ == "__main__":
    main()
