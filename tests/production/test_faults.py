"""Faults on the private production shape: Redis down, the database restarting under a request, a worker
killed halfway a scan, and a backup restored with pg_dump. Each test leaves every process running again."""

import asyncio
import contextlib
import time

import httpx

from tests.production import jobs
from tests.production.cluster import run_cli

COORDINATOR = "coordinator@haarlem.demo"
UNAVAILABLE = "kan de database op dit moment niet bereiken"


# --- Redis down ---------------------------------------------------------------------------------------


async def test_without_redis_the_portal_serves_and_an_export_asked_for_meanwhile_runs_once_redis_is_back(
        shape, browser):
    first, second = shape.portals
    await browser.login(first.base_url, COORDINATOR)
    shape.redis.stop()
    try:
        for portal in (first, second):
            for page in ("/", "/casussen", "/signalen"):
                response = await browser.get(portal.base_url, page)
                assert response.status_code == 200, (page, response.status_code)
            health = await browser.get(portal.base_url, "/health", accept="application/json")
            assert health.status_code == 503
            checks = {check["name"]: check for check in health.json()["checks"]}
            assert checks["database"]["ok"] is True
            assert checks["redis"]["ok"] is False and checks["redis"]["detail"]  # says what failed
            assert (await browser.get(portal.base_url, "/health/live")).status_code == 200

        # a large export (a job) asked for while Redis is down: accepted, recorded, waiting
        asked = await browser.get(second.base_url, "/casussen/export.csv")
        assert asked.status_code == 303, asked.text[:300]
        progress_url = asked.headers["location"]
        export_id = int(progress_url.rsplit("/", 1)[1])
        progress = await browser.get(first.base_url, progress_url)
        assert progress.status_code == 200 and "In de wachtrij" in progress.text
        assert await shape.fetchval("SELECT status FROM export_job WHERE id = $1", export_id) == "queued"
        await asyncio.sleep(1)
        assert all(worker.running for worker in shape.workers)  # the workers wait for Redis, they do not exit
    finally:
        shape.redis.start()  # a new, empty Redis: whatever was queued before is gone (the worst case)

    started = time.monotonic()
    deadline = started + 45  # the catch-up runs every 10 seconds
    while (status := await shape.fetchval("SELECT status FROM export_job WHERE id = $1", export_id)) != "done":
        assert status in ("queued", "running") and time.monotonic() < deadline, status
        await asyncio.sleep(0.2)
    waited = time.monotonic() - started
    download = await browser.get(first.base_url, f"/exports/{export_id}/bestand")
    assert download.status_code == 200
    lines = download.text.strip().splitlines()
    expected = await shape.fetchval("SELECT count(*) FROM portal_case")  # the coordinator's contract: all
    assert len(lines) == expected + 1  # header + every case, once
    assert (await browser.get(first.base_url, "/health", accept="application/json")).status_code == 200
    print(f"\nexport asked for without Redis: done {waited:.1f} s after Redis came back ({expected} rows)")


# --- the database restarts under a request ---------------------------------------------------------


async def test_a_database_restart_under_a_melding_gives_a_clear_error_half_writes_nothing_and_a_retry_works(shape):
    first, second = shape.portals
    contract_id = await shape.fetchval("SELECT id FROM contract ORDER BY id LIMIT 1")
    marker = f"Herstartwijk {time.time_ns()}"
    headers = {"authorization": f"Bearer {shape.api_key}", "idempotency-key": marker}
    body = {"contract_id": contract_id, "bsn": "111222333", "neighbourhood": marker, "domain": "wmo",
            "product_category": "02"}
    before = await shape.fetchval("SELECT count(*) FROM portal_case")

    # Let the melding write its case row, then hold it at the insert of its event; restart the database there.
    blocker = await shape.connect()
    await blocker.execute("BEGIN; LOCK TABLE case_event IN SHARE MODE")
    async with httpx.AsyncClient(timeout=60) as http:
        request = asyncio.create_task(http.post(first.base_url + "/api/v1/cases", json=body, headers=headers))
        queries = await jobs.waiting_on_lock(shape)
        assert any("case_event" in query and query.lstrip().upper().startswith("INSERT") for query in queries)
        holds_case_row = await shape.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.wait_event_type = "
            "'Lock' AND l.relation = 'portal_case'::regclass AND l.mode = 'RowExclusiveLock'")
        assert holds_case_row == 1  # the case row is written (uncommitted): we are between the two inserts
        await asyncio.to_thread(shape.postgres.restart)
        response = await request
    with contextlib.suppress(Exception):  # its connection died with the restart
        await blocker.close()

    assert response.status_code == 503, response.text
    assert UNAVAILABLE in response.json()["detail"] and response.headers["retry-after"]
    assert await shape.fetchval("SELECT count(*) FROM portal_case") == before  # no case without its event
    assert await shape.fetchval("SELECT count(*) FROM portal_case c WHERE NOT EXISTS (SELECT 1 FROM case_event e "
                                "WHERE e.\"case\" = c.id)") == 0
    assert await shape.fetchval("SELECT count(*) FROM idempotency_record WHERE scoped_key LIKE $1",
                                f"%{marker}%") == 0

    # the very next request on either process works: the pools replaced their dead connections
    async with httpx.AsyncClient(timeout=30) as http:
        for portal in (first, second, first, second):
            listed = await http.get(portal.base_url + "/api/v1/cases",
                                    headers={"authorization": headers["authorization"]})
            assert listed.status_code == 200, listed.text[:300]
        retry = await http.post(second.base_url + "/api/v1/cases", json=body, headers=headers)
        again = await http.post(first.base_url + "/api/v1/cases", json=body, headers=headers)
    assert retry.status_code == 201 and again.status_code == 201 and again.json()["id"] == retry.json()["id"]
    created = await shape.fetch("SELECT c.id, count(e.id) AS events FROM portal_case c JOIN case_event e "
                                "ON e.\"case\" = c.id WHERE c.neighbourhood = $1 GROUP BY c.id", marker)
    assert [(row["id"], row["events"]) for row in created] == [(retry.json()["id"], 1)]


async def test_pages_while_the_database_is_down_answer_503_in_dutch_and_work_again_after(shape, browser):
    first, second = shape.portals
    await browser.login(first.base_url, COORDINATOR)
    shape.postgres.stop()
    try:
        for portal in (first, second):
            page = await browser.get(portal.base_url, "/casussen")
            assert page.status_code == 503 and UNAVAILABLE in page.text
            assert "<html" in page.text.lower() and "Traceback" not in page.text
            api = await browser.get(portal.base_url, "/api/v1/cases", accept="application/json")
            assert api.status_code == 503 and UNAVAILABLE in api.json()["detail"]
            health = await browser.get(portal.base_url, "/health", accept="application/json")
            assert health.status_code == 503
            assert {c["name"]: c["ok"] for c in health.json()["checks"]}["database"] is False
            assert (await browser.get(portal.base_url, "/health/live")).status_code == 200
    finally:
        shape.postgres.start()
    for portal in (second, first):
        page = await browser.get(portal.base_url, "/casussen")
        assert page.status_code == 200 and "Kees Bakker" in page.text  # the session survived


# --- a worker killed halfway a scan -----------------------------------------------------------------


async def test_a_worker_killed_halfway_a_scan_has_its_job_rerun_on_the_other_to_the_same_signals(shape):
    reference = await jobs.one_clean_scan(shape)
    await jobs.reset_signals(shape)

    # The first rule commits, then the scan waits at the end of the second, where it stores what that rule ran
    # on (the rows of every rule but the first are locked): kill it there, its signals written, not committed.
    blocker = await shape.connect()
    await blocker.execute("BEGIN; SELECT * FROM signal_scan_state WHERE rule <> 'stalled' FOR UPDATE")
    try:
        job = await jobs.enqueue(shape, "scan_signals")
        victim = await jobs.held(shape, job)
        survivor = next(worker for worker in shape.workers if worker is not victim)
        partial = {row[1] for row in await jobs.signal_rows(shape)}
        assert partial == {"stalled"}  # halfway: the first rule is in, the later ones not
        victim.kill()
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
    killed_at = time.monotonic()

    info = await jobs.result(shape, job.job_id, wait=60)
    assert info.success and info.job_try == 2, (info.success, info.job_try, info.result)
    assert jobs.worker_running(shape, job.job_id) is survivor or f"→ {job.job_id}:" in survivor.log()
    assert await jobs.signal_rows(shape) == reference  # complete, and nothing twice
    runs = await shape.fetch("SELECT outcome FROM job_run WHERE job = 'scan_signals' ORDER BY id DESC LIMIT 2")
    assert {row["outcome"] for row in runs} == {"ok", "running"}  # the killed run never finished
    print(f"\nscan rerun {time.monotonic() - killed_at:.1f} s after its worker was killed (try {info.job_try})")


# --- backup and restore -------------------------------------------------------------------------------


async def test_a_pg_dump_restored_into_a_new_database_keeps_an_intact_audit_chain(shape, browser):
    # audit entries appended by both processes at once (every case page read is audited)
    await browser.login(shape.portals[0].base_url, COORDINATOR)
    case_ids = [row["id"] for row in await shape.fetch("SELECT id FROM portal_case ORDER BY id LIMIT 30")]
    pages = await asyncio.gather(*(browser.get(shape.portals[n % 2].base_url, f"/casussen/{case_id}")
                                   for n, case_id in enumerate(case_ids)))
    assert [page.status_code for page in pages] == [200] * len(case_ids)

    dump = shape.root / "inzicht.dump"
    postgres = shape.postgres
    await asyncio.to_thread(postgres.dump, dump)
    await asyncio.to_thread(postgres.restore, dump, "inzicht_restored")

    restored_env = shape.env | {"PORTAL_DATABASE_URL": postgres.url("inzicht_restored")}
    for env in (shape.env, restored_env):
        verified = run_cli(env, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    entries = int(postgres.psql("SELECT count(*) FROM audit_entry"))
    assert entries >= len(case_ids)
    assert int(postgres.psql("SELECT count(*) FROM audit_entry", "inzicht_restored")) == entries
    for table in ("portal_case", "case_event", "signal", "portal_user", "session_record"):
        assert postgres.psql(f"SELECT count(*) FROM {table}") == postgres.psql(  # noqa: S608 - fixed names
            f"SELECT count(*) FROM {table}", "inzicht_restored")  # noqa: S608

    # the check is real: one changed entry in the restored copy breaks the chain
    postgres.psql("UPDATE audit_entry SET purpose = coalesce(purpose, '') || ' (gewijzigd)' "
                  "WHERE id = (SELECT id FROM audit_entry ORDER BY id OFFSET 5 LIMIT 1)", "inzicht_restored")
    broken = run_cli(restored_env, "audit", "verify")
    assert broken.returncode == 1, broken.stdout
    postgres.psql("DROP DATABASE inzicht_restored", database="postgres")
    print(f"\nbackup of {dump.stat().st_size // 1024} KiB restored: {entries} audit entries, chain intact")
