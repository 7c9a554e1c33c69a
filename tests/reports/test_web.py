"""The learning cycle through HTTP: pages per role, drafts and autosave, a failed submit that keeps every
character, lifecycle and versions, diff, comments, consolidation, exports (PDF, XLSX, CSV) and the
object-level authorization of every one of them."""

import io
import re
import zlib

from openpyxl import load_workbook

from portal.accounts.tables import AuditEntry
from portal.reports.tables import Report, ReportVersion
from tests import factories
from tests.reports.conftest import GOOD_VALUES

HTML = {"accept": "text/html"}


def form_values(values: dict | None = None, sections: dict | None = None) -> dict:
    data = {f"waarde-{key}": value for key, value in (values or {}).items()}
    data |= {f"tekst-{key}": value for key, value in (sections or {}).items()}
    return data


async def start(http, world) -> int:
    response = await factories.post_form(http, f"/leercyclus/perioden/{world['period'].id}/rapportage")
    assert response.status_code == 303, response.text[:300]
    return int(response.headers["location"].rsplit("/", 1)[1])


def pdf_text(content: bytes) -> str:
    """The text drawn on the pages of a PDF (fpdf2 core fonts: literal strings in deflated streams)."""
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    chunks = []
    # fpdf2 writes "stream\n<bytes>\nendstream"; the bytes themselves may end in \r or \n, so cut only the
    # one newline before "endstream" and let zlib ignore anything after the end of its data.
    for match in re.finditer(rb"stream\n(.*?)\nendstream", content, re.S):
        try:
            data = zlib.decompressobj().decompress(match.group(1))
        except zlib.error:
            data = match.group(1)
        chunks += [m.group(1).decode("latin-1") for m in re.finditer(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", data)]
    return "\n".join(chunks).replace("\\(", "(").replace("\\)", ")")


async def test_overview_per_role(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as http:
        page = await http.get("/leercyclus", headers=HTML)
        assert page.status_code == 200 and "Kwartaal 1 2026" in page.text and "Rapportage schrijven" in page.text
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        page = await http.get("/leercyclus", headers=HTML)
        assert "Consolideren" in page.text and "0 van 3" in page.text
    async with factories.logged_in(app, world["users"]["manager"]) as http:
        page = await http.get("/leercyclus", headers=HTML)
        assert "Sjabloon beheren" in page.text


async def test_a_failed_submit_keeps_everything_typed_and_saves_the_draft(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as http:
        report_id = await start(http, world)
        page = await http.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert "Berekend door Inzicht" in page.text and "data-autosave" in page.text
        story = "Wat we leerden:\n\n- eerst bellen\n- <b>dan</b> schrijven"
        response = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/indienen", form_values(
            {"inwoners_ondersteund": "heel veel", "nieuwe_hulpvragen": "12"}, {"geleerd": story}))
        assert response.status_code == 422
        assert "Inwoners ondersteund: &#39;heel veel&#39; is geen geheel getal" in response.text
        assert 'value="heel veel"' in response.text and "&lt;b&gt;dan&lt;/b&gt; schrijven" in response.text
        assert "<b>dan</b>" not in response.text
        # and it was saved: a fresh load shows it again
        again = await http.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert 'value="heel veel"' in again.text and "- &lt;b&gt;dan&lt;/b&gt; schrijven" in again.text
    row = await Report.select(Report.status).where(Report.id == report_id).first()
    assert row["status"] == "draft" and await ReportVersion.count() == 0


async def test_autosave_stores_the_draft_and_answers_json(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as http:
        report_id = await start(http, world)
        response = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/autosave",
                                             form_values({"nieuwe_hulpvragen": "4"}, {"goed": "Half af"}))
        assert response.status_code == 201 or response.status_code == 200
        assert response.json()["opgeslagen"] is True and re.fullmatch(r"\d\d:\d\d:\d\d", response.json()["tijd"])
        page = await http.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert "Half af" in page.text
    # an expired session: the autosave gets 401 (the script tells the person), never a lost redirect
    async with factories.http_client(app) as anonymous:
        token = await factories.csrf_token(anonymous)
        refused = await anonymous.post(f"/leercyclus/rapportages/{report_id}/autosave",
                                       data={"_csrf_token": token, "tekst-goed": "x"},
                                       headers={"accept": "application/json"})
        assert refused.status_code == 401


async def test_lifecycle_versions_diff_and_comments_through_http(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as sub:
        report_id = await start(sub, world)
        first = await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen",
                                          form_values(GOOD_VALUES, {"goed": "Eerste versie."}))
        assert first.status_code == 303 and first.headers["location"].endswith("gedaan=ingediend")
    async with factories.logged_in(app, world["users"]["coordinator"]) as coordinator:
        page = await coordinator.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert "Eerste versie." in page.text and "1.234,5" in page.text and "Terugsturen" in page.text
        returned = await factories.post_form(coordinator, f"/leercyclus/rapportages/{report_id}/terugsturen",
                                             {"reason": "Licht de uren toe, graag."})
        assert returned.status_code == 303
        comment = await factories.post_form(coordinator, f"/leercyclus/rapportages/{report_id}/reacties",
                                            {"section": "goed", "body": "Mooi <script>!"})
        assert comment.status_code == 303
    async with factories.logged_in(app, world["users"]["sub_a"]) as sub:
        page = await sub.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert "Licht de uren toe" in page.text and 'value="1.234,5"' in page.text
        assert "Mooi &lt;script&gt;!" in page.text
        second = await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen", form_values(
            {**GOOD_VALUES, "nieuwe_hulpvragen": "61"}, {"goed": "Eerste versie.\nMet uren toegelicht."}))
        assert second.status_code == 303
    async with factories.logged_in(app, world["users"]["manager"]) as manager:
        comment = await factories.post_form(manager, f"/leercyclus/rapportages/{report_id}/reacties",
                                            {"section": "", "body": "Dank voor de toelichting."})
        assert comment.status_code == 303
        forbidden = await factories.post_form(manager, f"/leercyclus/rapportages/{report_id}/accepteren")
        assert forbidden.status_code == 403
    async with factories.logged_in(app, world["users"]["coordinator"]) as coordinator:
        page = await coordinator.get(f"/leercyclus/rapportages/{report_id}?van=1&naar=2", headers=HTML)
        assert "Verschillen tussen versie 1 en 2" in page.text
        assert re.search(r"Nieuwe hulpvragen</th><td class=\"diff-old\">56</td><td class=\"diff-new\">61", page.text)
        assert "<ins>Met uren toegelicht.</ins>" in page.text
        accepted = await factories.post_form(coordinator, f"/leercyclus/rapportages/{report_id}/accepteren")
        assert accepted.status_code == 303
        again = await factories.post_form(coordinator, f"/leercyclus/rapportages/{report_id}/accepteren")
        assert again.status_code == 409
    assert [v["number"] for v in await ReportVersion.select(ReportVersion.number).where(
        ReportVersion.report == report_id).order_by(ReportVersion.number)] == [1, 2]


async def test_consolidation_page_and_contract_report(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as sub:
        report_id = await start(sub, world)
        await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen", form_values(GOOD_VALUES))
    async with factories.logged_in(app, world["users"]["coordinator"]) as coordinator:
        page = await coordinator.get(f"/leercyclus/perioden/{world['period'].id}", headers=HTML)
        assert page.status_code == 200
        assert "Ontbreekt</strong>: Onderaannemer Brug" in page.text
        assert "Ontbreekt</strong>: Onderaannemer Cirkel" in page.text and "berekend door Inzicht" in page.text
        contract_report = await start(coordinator, world)
        page = await coordinator.get(f"/leercyclus/rapportages/{contract_report}", headers=HTML)
        assert "Consolidatie: 1 van 3" in page.text
        done = await factories.post_form(coordinator, f"/leercyclus/rapportages/{contract_report}/indienen",
                                         form_values(sections={"goed": "Samen verder."}))
        assert done.status_code == 303
    async with factories.logged_in(app, world["users"]["manager"]) as manager:
        page = await manager.get(f"/leercyclus/rapportages/{contract_report}", headers=HTML)
        assert "Samen verder." in page.text and "Onderaannemer Brug, Onderaannemer Cirkel" in page.text
        accepted = await factories.post_form(manager, f"/leercyclus/rapportages/{contract_report}/accepteren")
        assert accepted.status_code == 303
        underlying = await manager.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert underlying.status_code == 200 and "1.234" in underlying.text


async def test_exports_hold_the_right_figures_and_are_audited(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as sub:
        report_id = await start(sub, world)
        await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen", form_values(
            GOOD_VALUES, {"goed": "Zorg voor één loket.\n\n- buurtkamer open\n- wachtlijst korter"}))
    await Report.update({Report.organisation: world["org_a"].id}).where(Report.id == report_id)
    async with factories.logged_in(app, world["users"]["coordinator"]) as coordinator:
        pdf = await coordinator.get(f"/leercyclus/rapportages/{report_id}/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = pdf_text(pdf.content)
        assert "Rapportage Onderaannemer Anker" in text and "1.234" in text and "1.234,5" in text
        assert "87,5%" in text and "buurtkamer open" in text and "Kwartaal 1 2026" in text
        assert "Berekend door Inzicht" in text and "één loket" in text
        xlsx = await coordinator.get(f"/leercyclus/perioden/{world['period'].id}/indicatoren.xlsx")
        assert xlsx.status_code == 200
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        header = rows[0]
        anker = next(row for row in rows[1:] if row[0] == "Onderaannemer Anker")
        assert anker[header.index("Inwoners ondersteund (stuks)")] == 1234
        assert anker[header.index("Uren collectieve ondersteuning (uur)")] == 1234.5
        assert anker[header.index("Toewijzingsverzoeken ontvangen (berekend door Inzicht)")] == 3
        csv = await coordinator.get(f"/leercyclus/perioden/{world['period'].id}/indicatoren.csv")
        assert csv.content.startswith("\ufeff".encode()) and ";1234;56;1234,5;" in csv.content.decode()
    exports = await AuditEntry.select(AuditEntry.object_type).where(AuditEntry.action == "export")
    assert sorted(e["object_type"] for e in exports) == ["report", "report_period", "report_period"]


async def test_formula_injection_is_escaped_in_exports(app, world):
    from portal.accounts.tables import Organisation

    await Organisation.update({Organisation.name: "=HYPERLINK(\"http://kwaad\")"}).where(
        Organisation.id == world["org_a"].id)
    async with factories.logged_in(app, world["users"]["sub_a"]) as sub:
        report_id = await start(sub, world)
        await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen", form_values(GOOD_VALUES))
        csv = await sub.get(f"/leercyclus/perioden/{world['period'].id}/indicatoren.csv")
        assert "\"'=HYPERLINK(\"\"http://kwaad\"\")\"" in csv.content.decode()
        xlsx = await sub.get(f"/leercyclus/perioden/{world['period'].id}/indicatoren.xlsx")
        cell = load_workbook(io.BytesIO(xlsx.content)).active["A2"]
        assert cell.value.startswith("'=") and cell.data_type == "s"


async def test_a_subcontractor_never_sees_another_subcontractors_report_list_or_export(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as sub:
        report_id = await start(sub, world)
        await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen",
                                  form_values(GOOD_VALUES, {"goed": "Alleen voor ons"}))
    async with factories.logged_in(app, world["users"]["sub_b"]) as other:
        for url in (f"/leercyclus/rapportages/{report_id}", f"/leercyclus/rapportages/{report_id}/pdf"):
            assert (await other.get(url, headers=HTML)).status_code == 404
        assert (await factories.post_form(other, f"/leercyclus/rapportages/{report_id}/reacties",
                                          {"body": "hallo"})).status_code == 404
        assert (await factories.post_form(other, f"/leercyclus/rapportages/{report_id}/autosave",
                                          form_values(sections={"goed": "overschreven"}))).status_code == 404
        listed = (await other.get("/api/v1/reports")).json()
        assert listed["reports"] == []
        overview = await other.get("/leercyclus", headers=HTML)
        assert "Alleen voor ons" not in overview.text and f"/leercyclus/rapportages/{report_id}" not in overview.text
        csv = await other.get(f"/leercyclus/perioden/{world['period'].id}/indicatoren.csv")
        assert csv.status_code == 200 and "Anker" not in csv.content.decode()
        assert (await other.get(f"/leercyclus/perioden/{world['period'].id}", headers=HTML)).status_code == 403
    async with factories.logged_in(app, world["users"]["coordinator"]) as coordinator:
        listed = (await coordinator.get("/api/v1/reports")).json()
        assert [row["id"] for row in listed["reports"]] == [report_id]


async def test_template_editor_creates_a_new_version(app, world):
    async with factories.logged_in(app, world["users"]["manager"]) as manager:
        page = await manager.get(f"/leercyclus/contracten/{world['contract'].id}/sjabloon", headers=HTML)
        assert page.status_code == 200 and 'value="Inwoners ondersteund"' in page.text
        bad = await factories.post_form(manager, f"/leercyclus/contracten/{world['contract'].id}/sjabloon", {
            "period_kind": "quarter", "deadline_days": "30", "i1-name": "Wachtenden", "i1-type": "integer",
            "i1-min": "10", "i1-max": "5", "s1-title": "Lessen"})
        assert bad.status_code == 422 and "ondergrens is hoger" in bad.text and 'value="Wachtenden"' in bad.text
        good = await factories.post_form(manager, f"/leercyclus/contracten/{world['contract'].id}/sjabloon", {
            "period_kind": "quarter", "deadline_days": "21", "i1-name": "Wachtenden", "i1-type": "integer",
            "i1-unit": "82", "i1-required": "1", "i1-min": "0", "i1-max": "1.000", "s1-title": "Lessen"})
        assert good.status_code == 303 and good.headers["location"].endswith("versie=2")
    async with factories.logged_in(app, world["users"]["coordinator"]) as coordinator:
        assert (await coordinator.get(f"/leercyclus/contracten/{world['contract'].id}/sjabloon",
                                      headers=HTML)).status_code == 403
