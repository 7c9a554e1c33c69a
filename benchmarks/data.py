"""Benchmark data: S, M and L (DESIGN section 4), loaded in bulk.

    python -m benchmarks.data --scale S --postgres     # database inzicht_bench_s on 127.0.0.1:5432
    python -m benchmarks.data --scale S                # SQLite file var/bench/bench_s.sqlite3

| scale | tenants (municipality + contract) | cases | events |
| --- | --- | --- | --- |
| XS | 1 (Haarlem) | 3.000 | 60.000 |
| S | 1 (Haarlem) | 15.000 | 300.000 |
| M | 1 (Haarlem, a large city) | 60.000 | 1.200.000 |
| L | 342 (Haarlem and 341 others, 12 subcontractors each) | 2.000.000 | 40.000.000 |

Per tenant the demo generator's own helpers write the organisations, people (the demo password), the contract
with its years, savings targets, quarterly spend and investments, a status norm, the report calendar, the
subcontracts and learning-cycle reports. Tenant 1 is always Haarlem, so the demo logins work at every scale
(contractmanager@haarlem.demo, coordinator@haarlem.demo, onderaannemer1@haarlem.demo); tenant n > 1 has
contractmanager@gemeente-NNN.demo and so on.

Cases: each tenant simulates case histories with the demo's ``CaseSimulator`` (every step through the real
lifecycle, ``decide_transition``) from the melding up to their natural end; a case registered on day d takes
one such history shifted to d and cut at today, so its row (status, status_since, subcontractor, key dates,
end reason) is exactly the state after its last step before today. At S and M every case has its own history;
at L each tenant simulates 600 and reuses them (shifted) for its ~5.850 cases. The event log is topped up to
20 events per case with progress notes (``progress_note``, from_status = to_status = the case's status at that
moment), spread over each case's life. Cases and events go in with COPY (asyncpg ``copy_records_to_table``)
with the tables' secondary indexes dropped and rebuilt afterwards; SQLite gets ``executemany``.
"""

import argparse
import asyncio
import bisect
import dataclasses
import hashlib
import hmac
import os
import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
# cases, events, tenants, subcontractors per tenant, simulated histories per tenant (None: one per case)
SCALES = {
    "XS": (3_000, 60_000, 1, 50, None),
    "S": (15_000, 300_000, 1, 50, None),
    "M": (60_000, 1_200_000, 1, 50, None),
    "L": (2_000_000, 40_000_000, 342, 12, 600),
}
FAR_FUTURE = date(2100, 1, 1)
COPY_BATCH = 200_000
CASE_COLUMNS = ("id", "contract", "case_number", "pseudonym", "neighbourhood", "domain", "product_category",
                "provision_type", "urgency", "status", "status_since", "status_before_hold", "subcontractor",
                "version", "melding_date", "aanvraag_date", "decision_date", "beschikking_issued", "end_reason",
                "created_at")
EVENT_COLUMNS = ("id", "case", "contract", "occurred_at", "recorded_at", "actor_organisation", "action",
                 "from_status", "to_status", "subcontractor", "reason_code", "end_reason", "beschikking_issued",
                 "objection_info_given", "referred_to", "note")
NOTES = ("Telefonisch contact met inwoner", "Huisbezoek afgelegd", "Overleg met wijkteam",
         "Ondersteuningsplan bijgewerkt", "Mantelzorger gesproken", "Evaluatiegesprek gepland")


def database_url(scale: str, postgres: bool, server: str = SERVER) -> str:
    if postgres:
        return f"{server}/inzicht_bench_{scale.lower()}"
    return f"sqlite:///{REPO / 'var' / 'bench' / f'bench_{scale.lower()}.sqlite3'}"


@dataclass
class LoadSummary:
    scale: str
    tenants: int = 0
    cases: int = 0
    events: int = 0
    tenant_s: float = 0.0  # organisations, people, contracts, money, reports (ORM)
    simulate_s: float = 0.0  # histories and rows in Python
    copy_s: float = 0.0  # COPY / executemany of cases and events
    index_s: float = 0.0  # rebuilding the indexes, ANALYZE
    total_s: float = 0.0

    def describe(self) -> str:
        return (f"scale {self.scale}: {self.tenants} tenants, {self.cases:,} cases, {self.events:,} events in "
                f"{self.total_s:.0f} s (tenants {self.tenant_s:.0f} s, generating rows {self.simulate_s:.0f} s, "
                f"COPY {self.copy_s:.0f} s, indexes and ANALYZE {self.index_s:.0f} s)")


@dataclass
class Tenant:
    index: int
    contract_id: int
    prefix: str
    neighbourhoods: tuple[str, ...]
    start: date
    simulator: object  # portal.demo.generator.CaseSimulator
    coordinator_org: int
    municipality_org: int
    weights: dict[str, int]


def _spec(index: int, subcontractors: int):
    from portal.demo.scenarios import SCENARIOS

    haarlem = SCENARIOS["haarlem"]
    if index == 1:
        return dataclasses.replace(haarlem, subcontractor_count=subcontractors)
    return dataclasses.replace(
        haarlem, key=f"gemeente-{index:03d}", municipality=f"Gemeente {index:03d}",
        main_contractor=f"Hoofdaannemer {index:03d}", contract_name=f"Wijkcontract {index:03d}",
        mail_domain=f"gemeente-{index:03d}", case_prefix=f"G{index:03d}", subcontractor_count=subcontractors,
        subcontractor_names=tuple(f"Onderaannemer {index:03d}-{n:02d}" for n in range(1, subcontractors + 1)),
    )


async def _tenant(index: int, subcontractors: int, rng: random.Random, today: date, password_hash: str,
                  platform_id: int) -> Tenant:
    """One municipality with its contract, as the demo loader writes it, without cases."""
    from portal.accounts.tables import User
    from portal.contracts.tables import Contract, StatusNorm
    from portal.db import write_transaction
    from portal.demo import generator as demo

    spec = _spec(index, subcontractors)
    async with write_transaction():
        municipality = await demo._org(spec.municipality, "municipality")
        main = await demo._org(spec.main_contractor, "main_contractor")
        subs = [await demo._org(name, "subcontractor") for name in demo._subcontractor_names(spec)]
        domain = spec.mail_domain
        people = [
            (municipality, "contract_manager", f"contractmanager@{domain}.demo", "Carla de Vries", True),
            (municipality, "contract_manager", f"beleid@{domain}.demo", "Ruben Jansen", False),
            (main, "coordinator", f"coordinator@{domain}.demo", "Kees Bakker", False),
            (main, "coordinator", f"intake@{domain}.demo", "Fatima El Amrani", False),
        ] + [(sub, "subcontractor", f"onderaannemer{n}@{domain}.demo", f"Medewerker {sub['name']}", False)
             for n, sub in enumerate(subs, start=1)]
        if index == 1:
            people.insert(0, ({"id": platform_id}, "admin", f"beheer@{domain}.demo", "Bea Beheer", False))
        users = await User.insert(*[
            User(email=email, display_name=name, organisation=org["id"], role=role, password_hash=password_hash,
                 is_privacy_officer=privacy) for org, role, email, name, privacy in people]).returning(User.id)
        user_ids = [row["id"] for row in users]
        if index == 1:
            user_ids = user_ids[1:]
        contract = Contract(municipality=municipality["id"], main_contractor=main["id"], name=spec.contract_name,
                            case_prefix=spec.case_prefix, covers_wmo=True, covers_jeugd=spec.covers_jeugd,
                            start_date=spec.start, end_date=spec.end, missed_target_terms=spec.missed_target_terms)
        await contract.save()
        await demo._money(spec, contract.id, today, rng)
        await StatusNorm(contract=contract.id, status="assessment", max_working_days=25).save()
        await demo._report_calendar(contract.id, spec, today)
        providers, decline_rate = await demo._subcontracts(contract, subs, rng)
        await demo._demo_reports(contract.id, subs, user_ids[4:], user_ids[2], main["id"], rng, today)
    simulator = _RecordingSimulator(rng, FAR_FUTURE, main["id"], providers, decline_rate,
                                    waiting_lists=spec.waiting_lists, care_days=spec.care_days)
    return Tenant(index, contract.id, spec.case_prefix, spec.neighbourhoods, spec.cases_from or spec.start,
                  simulator, main["id"], municipality["id"], dict(spec.category_weights) or demo.CATEGORY_WEIGHTS)


_SIMULATOR_CLASS = None


def _RecordingSimulator(*args, **kwargs):  # noqa: N802 - builds the class on first use (imports portal late)
    """The demo's simulator, also keeping the case state after every step (to cut a history anywhere)."""
    global _SIMULATOR_CLASS
    if _SIMULATOR_CLASS is None:
        from portal.demo.generator import CaseSimulator

        class RecordingSimulator(CaseSimulator):
            def simulate(self, melding, category):
                self._states = [None]  # after the registration: the state is "registered", no subcontractor
                case = super().simulate(melding, category)
                case.states = self._states
                return case

            def _move(self, case, after_days, action, org, role="coordinator", **payload):
                super()._move(case, after_days, action, org, role, **payload)
                self._states.append(case.state)

        _SIMULATOR_CLASS = RecordingSimulator
    return _SIMULATOR_CLASS(*args, **kwargs)


def _at(on: date, index: int) -> datetime:
    from portal.demo.generator import _at as demo_at

    return demo_at(on, index)


class Rows:
    """Builds case and event rows with consecutive ids."""

    def __init__(self, rng: random.Random, today: date, events_per_case: float, key: bytes) -> None:
        self.rng = rng
        self.today = today
        self.events_per_case = events_per_case
        self.key = key
        self.case_id = 0
        self.event_id = 0
        self.pseudonyms = 0

    def pseudonym(self) -> str:
        self.pseudonyms += 1
        return hmac.new(self.key, f"bench-{self.pseudonyms}".encode(), hashlib.sha256).hexdigest()

    def case(self, tenant: Tenant, number: int, melding: date, template, pseudonym: str,
             cases: list, events: list) -> bool:
        """Append the rows of one case: ``template``'s history shifted to ``melding`` and cut at today.
        Returns whether the case is closed (a candidate for a re-report)."""
        rng, today = self.rng, self.today
        shift = melding - template.melding
        kept = [event for event in template.events if event.on + shift <= today]
        last_index = len(kept) - 1
        state = template.states[last_index] if last_index > 0 else None
        status = state.status.value if state else "registered"
        last = kept[-1]
        self.case_id += 1
        case_id = self.case_id
        aanvraag = template.aanvraag + shift if template.aanvraag and template.aanvraag + shift <= today else None
        decision = template.decision + shift if template.decision and template.decision + shift <= today else None
        end_reason = next((event.end_reason for event in kept if event.end_reason), None)
        cases.append((
            case_id, tenant.contract_id, f"{tenant.prefix}-{melding.year}-{number:07d}", pseudonym,
            rng.choice(tenant.neighbourhoods), "wmo" if rng.random() < 0.7 else "jeugd", template.category,
            template.provision_type, rng.choices(("normal", "high", "crisis"), (90, 8, 2))[0], status,
            _at(last.on + shift, last_index), state.status_before_hold.value if state and state.status_before_hold
            else None, state.subcontractor_id if state else None, len(kept), melding, aanvraag, decision,
            template.beschikking if decision else None, end_reason, _at(melding, 0),
        ))
        moments = []
        for index, event in enumerate(kept):
            self.event_id += 1
            at = _at(event.on + shift, index)
            moments.append(at)
            events.append((
                self.event_id, case_id, tenant.contract_id, at, at, event.actor_org, event.action,
                event.from_status and event.from_status.value, event.to_status.value, event.subcontractor_id,
                event.reason_code, event.end_reason, event.beschikking_issued, event.objection_info_given,
                event.referred_to, event.note,
            ))
        # progress notes over the case's life: up to today, or up to the day it reached a final status
        notes = self._note_count(len(kept))
        if notes:
            start = moments[0]
            end = moments[-1] if status in ("closed", "withdrawn") else datetime.combine(
                today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
            span = max((end - start).total_seconds(), 3600.0)
            organisation = (state.subcontractor_id if state else None) or tenant.coordinator_org
            for _ in range(notes):
                at = start + timedelta(seconds=int(rng.random() * span))
                position = bisect.bisect_right(moments, at) - 1
                at_status = kept[max(position, 0)].to_status.value
                self.event_id += 1
                events.append((self.event_id, case_id, tenant.contract_id, at, at, organisation, "progress_note",
                               at_status, at_status, None, None, None, None, None, None, rng.choice(NOTES)))
        return status == "closed"

    def _note_count(self, lifecycle_events: int) -> int:
        wanted = self.events_per_case - lifecycle_events
        if wanted <= 0:
            return 0
        whole = int(wanted)
        return whole + (1 if self.rng.random() < wanted - whole else 0)


async def _drop_indexes(connection) -> list[str]:
    """Drop the secondary indexes of the case tables (not primary keys or unique constraints); return
    their definitions so they can be built again after the load. The definitions are kept in a table of
    their own until then, so a load that dies halfway leaves them for the next one to rebuild."""
    await connection.execute("CREATE TABLE IF NOT EXISTS bench_dropped_index (definition text PRIMARY KEY)")
    rows = await connection.fetch("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename IN ('portal_case', 'case_event')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")
    await connection.executemany("INSERT INTO bench_dropped_index VALUES ($1) ON CONFLICT DO NOTHING",
                                 [(row["indexdef"],) for row in rows])
    for row in rows:
        await connection.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["definition"] for row in await connection.fetch("SELECT definition FROM bench_dropped_index")]


async def generate(url: str, scale: str, seed: int = 2026, today: date | None = None) -> LoadSummary:
    """Empty the database (migrated first) and load ``scale``. Only call with PORTAL_DATABASE_URL = url."""
    from portal.accounts.passwords import hash_password
    from portal.db import close_pool, empty_all_tables, start_pool
    from portal.demo.generator import DEMO_PASSWORD, melding_dates
    from portal.lib.formatting import today_nl
    from portal.migrate import migrate
    from portal.settings import get_settings

    total_cases, total_events, tenant_count, subcontractors, histories = SCALES[scale]
    summary = LoadSummary(scale)
    rng = random.Random(seed)
    today = today or today_nl()
    started = time.perf_counter()
    await start_pool(get_settings())
    try:
        await migrate()
        await empty_all_tables()
        from portal.accounts.tables import Organisation

        platform = Organisation(name="Inzicht platformbeheer", kind="platform")
        await platform.save()
        password_hash = hash_password(DEMO_PASSWORD)
        tenants = [await _tenant(index, subcontractors, rng, today, password_hash, platform.id)
                   for index in range(1, tenant_count + 1)]
    finally:
        await close_pool()
    summary.tenants = len(tenants)
    summary.tenant_s = time.perf_counter() - started

    postgres = url.startswith("postgresql")
    rows = Rows(rng, today, total_events / total_cases, get_settings().pseudonym_key_bytes)
    writer = await _PostgresWriter.open(url) if postgres else _SqliteWriter(url)
    try:
        index_definitions = await writer.begin()
        per_tenant = [total_cases // tenant_count + (1 if i < total_cases % tenant_count else 0)
                      for i in range(tenant_count)]
        case_rows: list[tuple] = []
        event_rows: list[tuple] = []
        for tenant, count in zip(tenants, per_tenant, strict=True):
            clock = time.perf_counter()
            simulator = tenant.simulator
            weights = tenant.weights
            pool = None
            if histories is not None:
                base = tenant.start
                pool = [simulator.simulate(base, rng.choices(list(weights), list(weights.values()))[0])
                        for _ in range(histories)]
            closed: list[str] = []
            for number, melding in enumerate(sorted(melding_dates(rng, tenant.start, today, count)), start=1):
                if pool is None:
                    template = simulator.simulate(melding, rng.choices(list(weights), list(weights.values()))[0])
                else:
                    template = rng.choice(pool)
                # a few residents come back after their case was closed: the re-report material
                pseudonym = closed.pop(rng.randrange(len(closed))) if closed and rng.random() < 0.05 \
                    else rows.pseudonym()
                if rows.case(tenant, number, melding, template, pseudonym, case_rows, event_rows):
                    closed.append(pseudonym)
                    del closed[:-200]
            summary.simulate_s += time.perf_counter() - clock
            if len(event_rows) >= COPY_BATCH or tenant is tenants[-1]:
                clock = time.perf_counter()
                await writer.cases(case_rows)
                await writer.events(event_rows)
                summary.cases += len(case_rows)
                summary.events += len(event_rows)
                case_rows, event_rows = [], []
                summary.copy_s += time.perf_counter() - clock
        clock = time.perf_counter()
        await writer.finish(index_definitions, rows.case_id, rows.event_id)
        summary.index_s = time.perf_counter() - clock
    finally:
        await writer.close()
    summary.total_s = time.perf_counter() - started
    return summary


class _PostgresWriter:
    @classmethod
    async def open(cls, url: str) -> "_PostgresWriter":
        import asyncpg

        self = cls()
        self.connection = await asyncpg.connect(url)
        return self

    async def begin(self) -> list[str]:
        # the rows are consistent by construction: skip the per-row foreign-key triggers during the load
        await self.connection.execute("SET session_replication_role = replica")
        return await _drop_indexes(self.connection)

    async def cases(self, rows: list[tuple]) -> None:
        if rows:
            await self.connection.copy_records_to_table("portal_case", records=rows, columns=CASE_COLUMNS)

    async def events(self, rows: list[tuple]) -> None:
        for start in range(0, len(rows), COPY_BATCH):
            await self.connection.copy_records_to_table("case_event", records=rows[start:start + COPY_BATCH],
                                                        columns=EVENT_COLUMNS)

    async def finish(self, index_definitions: list[str], last_case: int, last_event: int) -> None:
        await self.connection.execute("SET session_replication_role = origin")
        await self.connection.execute("SET maintenance_work_mem = '512MB'")
        for definition in index_definitions:
            await self.connection.execute(definition)
        await self.connection.execute("DROP TABLE bench_dropped_index")
        await self.connection.execute(f"SELECT setval('portal_case_id_seq', {max(last_case, 1)})")
        await self.connection.execute(f"SELECT setval('case_event_id_seq', {max(last_event, 1)})")
        await self.connection.execute("VACUUM ANALYZE")

    async def close(self) -> None:
        await self.connection.close()


class _SqliteWriter:
    def __init__(self, url: str) -> None:
        self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))

    async def begin(self) -> list[str]:
        self.connection.execute("PRAGMA synchronous = OFF")
        return []

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        names = ", ".join(f'"{column}"' for column in columns)
        marks = ", ".join("?" for _ in columns)
        # as Piccolo's SQLite adapters store them: str() of a UTC datetime, ISO dates
        converted = [tuple(str(value) if isinstance(value, datetime | date) else value for value in row)
                     for row in rows]
        self.connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', converted)  # noqa: S608
        self.connection.commit()

    async def cases(self, rows: list[tuple]) -> None:
        self._insert("portal_case", CASE_COLUMNS, rows)

    async def events(self, rows: list[tuple]) -> None:
        self._insert("case_event", EVENT_COLUMNS, rows)

    async def finish(self, index_definitions: list[str], last_case: int, last_event: int) -> None:
        self.connection.execute("ANALYZE")
        self.connection.execute("PRAGMA optimize")
        self.connection.commit()

    async def close(self) -> None:
        self.connection.close()


async def ensure_database(url: str) -> None:
    """Create the benchmark's own PostgreSQL database (never touches another) or SQLite folder."""
    if url.startswith("postgresql"):
        import asyncpg

        server, name = url.rsplit("/", 1)
        admin = await asyncpg.connect(f"{server}/postgres")
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    else:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


async def loaded_scale(url: str) -> tuple[int, int]:
    """(cases, events) in the database, (0, 0) when it has no schema yet."""
    if url.startswith("postgresql"):
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            if not await connection.fetchval("SELECT to_regclass('case_event') IS NOT NULL"):
                return 0, 0
            return (await connection.fetchval("SELECT count(*) FROM portal_case"),
                    await connection.fetchval("SELECT count(*) FROM case_event"))
        finally:
            await connection.close()
    path = url.removeprefix("sqlite:///")
    if not Path(path).exists():  # noqa: ASYNC240 - a quick local check
        return 0, 0
    connection = sqlite3.connect(path)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'case_event'").fetchone():
            return 0, 0
        return (connection.execute("SELECT count(*) FROM portal_case").fetchone()[0],
                connection.execute("SELECT count(*) FROM case_event").fetchone()[0])
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="S")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    url = database_url(args.scale, args.postgres, args.server)
    asyncio.run(ensure_database(url))
    os.environ["PORTAL_DATABASE_URL"] = url
    os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")
    summary = asyncio.run(generate(url, args.scale, args.seed))
    print(summary.describe())


if __name__ == "__main__":
    main()
