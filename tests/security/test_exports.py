"""Large exports by a job: the same file as a direct export, progress while it runs, only the person who
asked sees the job or downloads its file (404 for anyone else), files removed after 24 hours."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from portal.exports import jobs, service
from portal.exports.tables import ExportJob
from tests import factories
from tests.cases.test_exports import HTML, all_list_rows, as_page, download, export_audits

REFRESH = 'data-poll="/exports/'  # the progress page updates itself while the job runs (no meta refresh)


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality", "Gemeente Grootdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Groot")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer Alfa")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer Beta")
    contract = await factories.contract(municipality, main, name="Contract Groot")
    await factories.subcontract(contract, sub_a)
    await factories.subcontract(contract, sub_b)
    base = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    cases = []
    for n in range(7):
        sub = sub_a if n % 2 == 0 else sub_b
        row = await factories.case(contract, status="in_care", subcontractor=sub.id, neighbourhood=f"Wijk {n}",
                                   status_since=base + timedelta(hours=n))
        await factories.event(row, "allocation_requested", sub)
        cases.append(row)
    return {
        "app": app, "cases": cases, "sub_a_org": sub_a,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "other_coordinator": await factories.user(main, "coordinator"),
        "sub_a": await factories.user(sub_a, "subcontractor"),
        "sub_b": await factories.user(sub_b, "subcontractor"),
    }


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(service, "DIRECT_LIMIT", 2)
    monkeypatch.setattr(service, "BATCH_SIZE", 2)


def _export_id(location: str) -> int:
    match = re.fullmatch(r"/exports/(\d+)", location)
    assert match, location
    return int(match.group(1))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_large_export_runs_as_a_job_and_yields_the_same_file(world, monkeypatch, fmt):
    query = "?status=in_care&volgorde=nummer"
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        direct, _ = await download(http, f"/casussen/export.{fmt}{query}")
        assert len(direct) == 8
        monkeypatch.setattr(service, "DIRECT_LIMIT", 2)
        monkeypatch.setattr(service, "BATCH_SIZE", 3)
        response = await http.get(f"/casussen/export.{fmt}{query}", headers=HTML)
        assert response.status_code == 303
        export_id = _export_id(response.headers["location"])
        page = await http.get(f"/exports/{export_id}", headers=HTML)
        assert page.status_code == 200 and "7 van 7 regels" in page.text and REFRESH not in page.text
        assert f'href="/exports/{export_id}/bestand"' in page.text
        from_job, _ = await download(http, f"/exports/{export_id}/bestand")
        assert from_job == direct
        assert [row[:9] for row in as_page(from_job[1:])] == await all_list_rows(http, f"/casussen{query}")
    job = await ExportJob.select().where(ExportJob.id == export_id).first()
    assert job["status"] == "done" and job["user"] == world["coordinator"].id and job["rows_done"] == 7
    assert re.fullmatch(r"[0-9a-f]{32}\.(csv|xlsx)", job["file_name"])
    audits = await export_audits()  # the direct export, the job's, and the download of its file
    assert [entry["new"]["regels"] for entry in audits] == [7, 7, 7]
    assert [entry["object_id"] for entry in audits] == [None, str(export_id), str(export_id)]


async def test_the_progress_page_refreshes_and_counts_while_the_job_runs(world, monkeypatch, small_limits):
    queued: list[tuple] = []

    async def hold(settings, function, *args, job_id=None):
        queued.append((function, *args))
        assert job_id == f"export:{args[0]}"  # a stable id: queueing it again (the catch-up) queues it once

    monkeypatch.setattr("portal.lib.queue.enqueue", hold)
    app = world["app"]
    async with factories.logged_in(app, world["coordinator"]) as http:
        response = await http.get("/casussen/export.csv", headers=HTML)
        export_id = _export_id(response.headers["location"])
        assert queued == [(jobs.run_export, export_id)]  # the job carries the export's id only
        waiting = (await http.get(f"/exports/{export_id}", headers=HTML)).text
        assert REFRESH in waiting and "In de wachtrij" in waiting and "0 van 7 regels" in waiting
        quiet = (await http.get(f"/exports/{export_id}?stil=1", headers=HTML)).text
        assert REFRESH not in quiet and "0 van 7 regels" in quiet
        assert (await http.get(f"/exports/{export_id}/bestand")).status_code == 404  # not ready yet

        seen: list[str] = []
        original = service.KINDS["cases"]

        async def watched(actor, params):
            async for batch in original.batches(actor, params):
                yield batch
                seen.append((await http.get(f"/exports/{export_id}", headers=HTML)).text)

        monkeypatch.setitem(service.KINDS, "cases", service.ExportKind(
            "cases", original.title, original.headers, original.count, watched))
        assert await jobs.run_export({}, export_id) == "done"
        # after each batch the page shows how far the job is, and refreshes until the file is there
        assert [re.search(r"(\d+) van 7 regels", text).group(1) for text in seen] == ["2", "4", "6", "7"]
        assert all(REFRESH in text and "Bezig" in text for text in seen)
        done = (await http.get(f"/exports/{export_id}", headers=HTML)).text
        assert "7 van 7 regels" in done and REFRESH not in done and "Klaar" in done
        assert await jobs.run_export({}, export_id) == "done"  # twice changes nothing (at-least-once delivery)
        assert await ExportJob.count() == 1


@pytest.mark.parametrize("who", ["other_coordinator", "manager", "sub_a"])
async def test_only_the_person_who_asked_sees_the_job_and_its_file(world, small_limits, who):
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        export_id = _export_id((await http.get("/casussen/export.xlsx", headers=HTML)).headers["location"])
        assert (await http.get(f"/exports/{export_id}/bestand")).status_code == 200
    async with factories.logged_in(world["app"], world[who]) as http:
        for url in (f"/exports/{export_id}", f"/exports/{export_id}/bestand", f"/exports/{export_id}?stil=1"):
            response = await http.get(url, headers=HTML)
            assert response.status_code == 404
            assert world["cases"][0].case_number not in response.text
    async with factories.http_client(world["app"]) as anonymous:
        response = await anonymous.get(f"/exports/{export_id}/bestand")
        assert response.status_code == 303 and response.headers["location"].startswith("/inloggen")


async def test_a_subcontractors_large_export_holds_only_its_own_cases(world, small_limits):
    own = {case.case_number for case in world["cases"] if case.subcontractor == world["sub_a_org"].id}
    async with factories.logged_in(world["app"], world["sub_a"]) as http:
        response = await http.get("/casussen/export.csv", headers=HTML)
        export_id = _export_id(response.headers["location"])
        rows, content = await download(http, f"/exports/{export_id}/bestand")
    assert {row[0] for row in rows[1:]} == own and len(own) == 4
    assert not any(case.case_number.encode() in content for case in world["cases"] if case.case_number not in own)


async def test_the_managers_large_export_is_pseudonymised(world, small_limits):
    async with factories.logged_in(world["app"], world["manager"]) as http:
        export_id = _export_id((await http.get("/casussen/export.xlsx", headers=HTML)).headers["location"])
        rows, content = await download(http, f"/exports/{export_id}/bestand")
    assert "Pseudoniem" not in rows[0] and len(rows) == 8
    assert not any(case.pseudonym in cell for case in world["cases"] for row in rows for cell in row)


async def test_export_files_are_removed_after_24_hours(world, small_limits):
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        export_id = _export_id((await http.get("/casussen/export.csv", headers=HTML)).headers["location"])
        job = await ExportJob.select().where(ExportJob.id == export_id).first()
        path = service.export_dir() / job["file_name"]
        assert path.is_file()
        assert await service.purge_expired(now=job["finished_at"] + timedelta(hours=23)) == 0
        assert path.is_file()
        assert await service.purge_expired(now=job["finished_at"] + timedelta(hours=25)) == 1
        assert not path.exists()
        assert await service.purge_expired(now=job["finished_at"] + timedelta(hours=26)) == 0  # idempotent
        page = (await http.get(f"/exports/{export_id}", headers=HTML)).text
        assert "Verlopen" in page and "/bestand" not in page
        assert (await http.get(f"/exports/{export_id}/bestand")).status_code == 404
    assert await jobs.purge_exports({}) == {"expired": 0}


async def test_a_large_signal_and_waiting_list_export_also_run_as_jobs(world, small_limits):
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        for url in ("/wachtlijst/export.csv", "/signalen/export.xlsx?status=alle"):
            response = await http.get(url, headers=HTML)
            # small lists stay direct downloads, whatever the threshold
            assert response.status_code == 200
