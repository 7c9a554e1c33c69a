"""Two `portal serve` and two `portal worker` processes on one PostgreSQL and one Redis (the compose.yaml
shape, private instances): sessions work across processes, scans on both workers at once do not duplicate
signals, and 100 concurrent writers lose nothing and double nothing."""

import asyncio
import itertools
import time

import httpx

from tests.production import jobs
from tests.production.conftest import Browser


async def test_a_login_on_one_process_works_on_the_other_and_a_logout_there_ends_it_on_both(shape, browser):
    first, second = shape.portals
    await browser.login(first.base_url, "coordinator@haarlem.demo")
    for portal in (second, first):
        page = await browser.get(portal.base_url, "/casussen")
        assert page.status_code == 200 and "Kees Bakker" in page.text
    held = dict(browser.cookies)  # what a second tab, or a thief of the cookie, would still hold

    logout = await browser.post(second.base_url, "/uitloggen")
    assert logout.status_code == 303
    assert "inzicht_sessie" not in browser.cookies
    other_tab = Browser()
    other_tab.cookies = held
    try:
        for portal in (first, second):
            page = await other_tab.get(portal.base_url, "/casussen")
            assert page.status_code == 303 and page.headers["location"].startswith("/inloggen")
    finally:
        await other_tab.close()


async def test_scans_on_both_workers_at_once_write_what_one_scan_writes(shape):
    reference = await jobs.one_clean_scan(shape)
    await jobs.reset_signals(shape)

    # Hold every scan at its first query until each worker has one, then let them all go at once.
    blocker = await shape.connect()
    await blocker.execute("BEGIN; LOCK TABLE portal_case IN ACCESS EXCLUSIVE MODE")
    try:
        first = await jobs.enqueue(shape, "scan_signals")
        busy = await jobs.held(shape, first)
        other = next(worker for worker in shape.workers if worker is not busy)
        with busy.paused():  # so that the other worker takes the next scan
            second = await jobs.enqueue(shape, "scan_signals")
            assert await jobs.held(shape, second) is other
            await jobs.waiting_on_lock(shape, count=2)
        scans = [first, second, await jobs.enqueue(shape, "scan_signals"), await jobs.enqueue(shape, "scan_signals")]
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
    results = [await jobs.result(shape, job.job_id) for job in scans]

    assert all(info.success for info in results), [info.result for info in results if not info.success]
    rows = await jobs.signal_rows(shape)
    assert rows == reference  # the same signals with the same state, each once (dedup_key is unique)
    # (each scan's summary counts as "created" what was absent when it looked, so under concurrency the
    # summaries add up to more than the table holds; the table is what counts)
    print(f"\n{len(scans)} scans at once on 2 workers: {len(rows)} signals, as one scan alone")


# --- 100 concurrent writers -------------------------------------------------------------------------


def _bsns():
    """Valid (elfproef) BSNs, all different."""
    for number in itertools.count(100000000):
        digits = [int(d) for d in str(number)]
        total = sum(d * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
        if total and total % 11 == 0:
            yield str(number)


async def test_100_concurrent_meldingen_and_case_steps_on_two_processes_lose_nothing_and_double_nothing(shape):
    contract_id = await shape.fetchval("SELECT id FROM contract ORDER BY id LIMIT 1")
    marker = f"Lastwijk {time.time_ns()}"
    headers = {"authorization": f"Bearer {shape.api_key}"}
    bsn = _bsns()
    async with httpx.AsyncClient(timeout=30) as http:  # 10 fresh meldingen to act on
        for _ in range(10):
            response = await http.post(shape.portals[0].base_url + "/api/v1/cases", headers=headers, json={
                "contract_id": contract_id, "bsn": next(bsn), "neighbourhood": "Doelwijk", "domain": "wmo",
                "product_category": "02"})
            assert response.status_code == 201, response.text
    targets = await shape.fetch("SELECT id, version FROM portal_case WHERE status = 'registered' "
                                "AND neighbourhood = 'Doelwijk' ORDER BY id DESC LIMIT 10")
    before = {name: await shape.fetchval(f"SELECT count(*) FROM {name}")  # noqa: S608 - fixed names
              for name in ("portal_case", "case_event", "idempotency_record")}
    requests = []
    # 40 new meldingen, each sent twice at once with the same Idempotency-Key (a client retrying)
    for n in range(40):
        body = {"contract_id": contract_id, "bsn": next(bsn), "neighbourhood": marker, "domain": "wmo",
                "product_category": "02"}
        for _ in range(2):
            requests.append(("melding", n, "/api/v1/cases", body, {"idempotency-key": f"{marker}-{n}"}))
    # 10 cases, each with 2 people starting the assessment at once on the same version
    for case in targets:
        body = {"action": "start_assessment", "version": case["version"]}
        for _ in range(2):
            requests.append(("step", case["id"], f"/api/v1/cases/{case['id']}/events", body, {}))
    assert len(requests) == 100

    async with httpx.AsyncClient(timeout=60) as http:
        async def send(index, request):
            kind, key, path, body, extra = request
            portal = shape.portals[index % 2]  # a load balancer without sticky sessions
            response = await http.post(portal.base_url + path, json=body, headers=headers | extra)
            return kind, key, response
        started = time.perf_counter()
        answers = await asyncio.gather(*(send(i, r) for i, r in enumerate(requests)))
        elapsed = time.perf_counter() - started

    statuses = [response.status_code for _, _, response in answers]
    assert not [s for s in statuses if s >= 500], statuses
    meldingen: dict[int, set[int]] = {}
    for kind, key, response in answers:
        if kind == "melding":
            assert response.status_code == 201, response.text
            meldingen.setdefault(key, set()).add(response.json()["id"])
    assert all(len(ids) == 1 for ids in meldingen.values())  # a retry answers with the first case
    steps: dict[int, list[int]] = {}
    for kind, key, response in answers:
        if kind == "step":
            steps.setdefault(key, []).append(response.status_code)
            assert response.status_code in (201, 409), response.text
            if response.status_code == 409:
                assert response.json()["code"] in ("stale_version", "illegal_transition")
    assert all(sorted(codes) == [201, 409] for codes in steps.values()), steps  # one wins, one is told

    created = await shape.fetch("SELECT c.id, c.version, count(e.id) AS events FROM portal_case c "
                                "JOIN case_event e ON e.\"case\" = c.id WHERE c.neighbourhood = $1 "
                                "GROUP BY c.id", marker)
    assert sorted(row["id"] for row in created) == sorted(ids.pop() for ids in meldingen.values())
    assert all(row["events"] == 1 and row["version"] == 1 for row in created)
    acted = await shape.fetch(
        "SELECT c.id, c.version, c.status, (SELECT count(*) FROM case_event e WHERE e.\"case\" = c.id "
        "AND e.action = 'start_assessment') AS steps FROM portal_case c WHERE c.id = ANY($1::int[])",
        [case["id"] for case in targets])
    versions = {case["id"]: case["version"] for case in targets}
    for row in acted:
        assert row["status"] == "assessment" and row["steps"] == 1 and row["version"] == versions[row["id"]] + 1
    after = {name: await shape.fetchval(f"SELECT count(*) FROM {name}")  # noqa: S608 - fixed names
             for name in before}
    assert after["portal_case"] - before["portal_case"] == 40
    assert after["case_event"] - before["case_event"] == 40 + 10
    assert after["idempotency_record"] - before["idempotency_record"] == 40
    print(f"\n100 concurrent writes on 2 processes in {elapsed:.2f} s: 40 meldingen (each sent twice), "
          f"10 steps won and 10 refused")
