"""Path traversal: no route that serves a file (export downloads, static files, report and dashboard files)
ever serves one from outside its own folder, whatever the id, the encoding or a tampered database row holds;
and a file name in a Content-Disposition header never carries what people typed unescaped."""

from datetime import UTC, datetime

import pytest

from portal.exports import service
from portal.exports.tables import ExportJob
from portal.settings import get_settings
from tests import factories

HTML = {"accept": "text/html"}
SECRET = "GEHEIM-buiten-de-exportmap"


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality", "Gemeente Padstad")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Pad")
    contract = await factories.contract(municipality, main, name="Contract Pad")
    coordinator = await factories.user(main, "coordinator")
    folder = service.export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "geheim.txt").write_text(SECRET)  # next to the export folder, in the var dir
    own = f"{'a' * 32}.csv"
    (folder / own).write_text("Casus;Status\r\nT-1;Open\r\n")
    job = ExportJob(user=coordinator.id, kind="cases", format="csv", params="{}", status="done", rows_total=1,
                    rows_done=1, file_name=own, finished_at=datetime.now(UTC))
    await job.save()
    return {"app": app, "coordinator": coordinator, "job": job, "contract": contract, "folder": folder}


TRAVERSALS = [
    "/exports/..%2Fgeheim.txt/bestand", "/exports/%2e%2e%2fgeheim.txt/bestand", "/exports/../geheim.txt",
    "/exports/{id}/bestand/../../geheim.txt", "/exports/{id}/..%2F..%2Fgeheim.txt", "/exports/{id}%2F..%2Fgeheim.txt",
    "/exports/{id}/bestand%2F..%2F..%2Fgeheim.txt", "/exports/%252e%252e%252fgeheim.txt/bestand",
    "/exports/-1/bestand", "/exports/0x1/bestand", "/exports/{id}.0/bestand",
    "/static/../../var/geheim.txt", "/static/%2e%2e/%2e%2e/pyproject.toml", "/static/..%2f..%2fsettings.py",
    "/static/css/../../app.py", "/static/css/..%2f..%2fapp.py", "/static//etc/passwd", "/static/%2Fetc%2Fpasswd",
    "/static/..\\..\\app.py", "/static/css/%c0%ae%c0%ae/%c0%ae%c0%ae/app.py", "/static/%00../app.py",
    "/leercyclus/perioden/..%2F1/indicatoren.csv", "/leercyclus/rapportages/1%2F..%2F2/pdf",
    "/casussen/import/voorbeeld.csv/../../../pyproject.toml", "/dashboard/1%2F..%2F2/export.csv",
]


async def test_traversal_in_any_file_route_never_serves_a_file_from_outside_its_folder(world):
    job_id = world["job"].id
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        own = await http.get(f"/exports/{job_id}/bestand")
        assert own.status_code == 200 and own.content.startswith(b"Casus;Status")
        for template in TRAVERSALS:
            url = template.format(id=job_id)
            response = await http.get(url, headers=HTML)
            assert response.status_code in (303, 400, 403, 404, 405, 422), (url, response.status_code)
            body = response.content
            assert SECRET.encode() not in body and b"[build-system]" not in body and b"root:x:0" not in body, url
            assert b"def create_app" not in body and b"class Settings" not in body, url
        # the real static files are served, and only from the static folder
        css = await http.get("/static/css/portal.css")
        assert css.status_code == 200 and b"{" in css.content


@pytest.mark.parametrize("tampered", ["../geheim.txt", "../../var/geheim.txt", "/etc/passwd", "..", ".",
                                      "geheim.txt/../../geheim.txt", "..\\geheim.txt", "%2e%2e/geheim.txt"])
async def test_a_tampered_file_name_in_the_database_stays_inside_the_export_folder(world, tampered):
    await ExportJob.update({ExportJob.file_name: tampered}).where(ExportJob.id == world["job"].id)
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        response = await http.get(f"/exports/{world['job'].id}/bestand", headers=HTML)
    assert response.status_code == 404, response.status_code
    assert SECRET.encode() not in response.content and b"root:x:0" not in response.content
    assert "niet meer beschikbaar" in response.text or "niet beschikbaar" in response.text
    # the purge never deletes anything outside the export folder either
    await ExportJob.update({ExportJob.finished_at: datetime(2020, 1, 1, tzinfo=UTC)}).where(
        ExportJob.id == world["job"].id)
    await service.purge_expired()
    assert (get_settings().var_dir / "geheim.txt").read_text() == SECRET


async def test_download_names_carry_no_typed_text_into_the_header(app):
    """A contract or organisation name with quotes, line breaks or characters outside Latin-1 never breaks or
    injects the Content-Disposition header of an export."""
    from portal.demo.generator import DEFAULT_REPORT_TEMPLATE
    from portal.reports.tables import ReportPeriod, ReportTemplate

    municipality = await factories.organisation("municipality", "Gemeente Őrség 中")
    main = await factories.organisation("main_contractor", 'Hoofd"aannemer\r\nX-Kwaad: ja')
    contract = await factories.contract(municipality, main, name='Wijk "ő" 中文\r\nSet-Cookie: kwaad=1; ../../x')
    template = ReportTemplate(contract=contract.id, version=1, period_kind="quarter", deadline_days=30,
                              definition=DEFAULT_REPORT_TEMPLATE)
    await template.save()
    period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=datetime(2026, 1, 1).date(),
                          ends_on=datetime(2026, 3, 31).date(), deadline=datetime(2026, 4, 30).date())
    await period.save()
    coordinator = await factories.user(main, "coordinator")
    manager = await factories.user(municipality, "contract_manager")
    async with factories.logged_in(app, coordinator) as http:
        for url in (f"/leercyclus/perioden/{period.id}/indicatoren.csv",
                    f"/leercyclus/perioden/{period.id}/indicatoren.xlsx", "/casussen/export.csv",
                    "/casussen/export.xlsx", "/signalen/export.csv"):
            response = await http.get(url)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
            disposition = response.headers["content-disposition"]
            assert disposition.startswith('attachment; filename="') and disposition.count('"') == 2, disposition
            name = disposition.split('"')[1]
            assert "/" not in name and "\\" not in name and ".." not in name and "\r" not in name, name
            assert "set-cookie" not in {key.lower() for key in response.headers if key.lower() != "set-cookie"}
            assert "kwaad" not in response.headers.get("set-cookie", "")
    async with factories.logged_in(app, manager) as http:
        for url in (f"/dashboard/{contract.id}/export.csv", f"/dashboard/{contract.id}/kwartaalrapportage.pdf"):
            response = await http.get(url)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
            assert response.headers["content-disposition"].count('"') == 2
