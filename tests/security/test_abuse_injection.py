"""HTML, script and formula injection: what people type (case notes and neighbourhoods, signal titles, details
and comments, report narratives, organisation names) is escaped on every page that shows it, neutralised in
every CSV and XLSX export (no cell is a formula, no text cell starts with = + - @), and drawn literally in PDFs.
"""

import csv
import io
import re

import pytest
from markupsafe import escape
from openpyxl import load_workbook

from portal.accounts.tables import Organisation
from portal.cases.tables import Case
from portal.lib.exports import FORMULA_STARTS
from portal.signals.tables import Signal
from tests import factories
from tests.reports.conftest import GOOD_VALUES
from tests.reports.conftest import world as learning_world
from tests.reports.test_web import pdf_text

world = learning_world  # the learning-cycle world (a contract, a period, people of every role), reused

HTML = {"accept": "text/html"}
ORG = '=HYPERLINK("http://kwaad.example","klik") <script>alert("org")</script>'
NEIGHBOURHOOD = '"><img src=x onerror=alert(1)>'
NOTE = '<script>alert("note")</script> -1+1'
TITLE = "@SUM(1+1)*cmd|' /C calc'!A0 <b>vet</b>"
DETAIL = '<script>alert("detail")</script>'
COMMENT = "+cmd <iframe src=javascript:alert(1)></iframe>"
NARRATIVE = '<script>alert("verhaal")</script> =HYPERLINK("http://kwaad.example")'
RAW_FRAGMENTS = ('<script>alert("', "<img src=x", "<iframe src=javascript", "<b>vet</b>", "onerror=alert(1)>")
NUMBER = re.compile(r"^-\d+(,\d+)?$")


def _assert_no_raw_markup(url: str, html: str) -> None:
    for fragment in RAW_FRAGMENTS:
        assert fragment not in html, (url, fragment)


def _assert_escaped(url: str, html: str, *texts: str) -> None:
    for text in texts:
        assert str(escape(text)) in html, (url, text, str(escape(text)))


def _assert_safe_cell(where: str, value: object) -> None:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        assert value.startswith("-") and NUMBER.match(value), (where, value)


def _csv_cells(content: bytes) -> list[str]:
    text = content.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]


def _xlsx_cells(content: bytes) -> list:
    workbook = load_workbook(io.BytesIO(content))
    cells = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                cells.append(cell.value)
    return cells


@pytest.fixture
async def typed(app, world):
    """Everything typed through the real forms (the organisation name is set as an admin would)."""
    await Organisation.update({Organisation.name: ORG}).where(Organisation.id == world["org_a"].id)
    users = world["users"]
    async with factories.logged_in(app, users["coordinator"]) as http:
        response = await factories.post_form(http, "/casussen/nieuw", {
            "contract_id": str(world["contract"].id), "bsn": "111222333", "neighbourhood": NEIGHBOURHOOD,
            "domain": "wmo", "product_category": "02", "urgency": "normal", "provision_type": "individual",
            "melding_date": "02-03-2026", "note": NOTE})
        assert response.status_code == 303, response.text[:500]
        case_id = int(response.headers["location"].split("/")[2].split("?")[0])
    async with factories.logged_in(app, users["sub_a"]) as http:
        response = await factories.post_form(http, "/signalen/nieuw", {
            "contract_id": str(world["contract"].id), "title": TITLE, "detail": DETAIL})
        assert response.status_code == 303, response.text[:500]
        signal_id = int(response.headers["location"].split("/")[2].split("?")[0])
        comment = await factories.post_form(http, f"/signalen/{signal_id}/reacties", {"body": COMMENT})
        assert comment.status_code == 303, comment.text[:500]
        response = await factories.post_form(http, f"/leercyclus/perioden/{world['period'].id}/rapportage")
        report_id = int(response.headers["location"].rsplit("/", 1)[1])
        submit = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/indienen", {
            **{f"waarde-{key}": value for key, value in GOOD_VALUES.items()}, "tekst-goed": NARRATIVE})
        assert submit.status_code == 303, submit.text[:500]
    stored = await Case.select(Case.neighbourhood).where(Case.id == case_id).first()
    assert stored["neighbourhood"] == NEIGHBOURHOOD  # stored as typed: escaping is the output's job
    assert (await Signal.select(Signal.title).where(Signal.id == signal_id).first())["title"] == TITLE
    return {"case_id": case_id, "signal_id": signal_id, "report_id": report_id}


async def test_typed_markup_is_escaped_on_every_page_that_shows_it(app, world, typed):
    contract_id, users = world["contract"].id, world["users"]
    pages = {
        "coordinator": {
            "/casussen": (NEIGHBOURHOOD,),
            f"/casussen/{typed['case_id']}": (NEIGHBOURHOOD, NOTE),
            "/signalen": (TITLE,),
            f"/signalen/{typed['signal_id']}": (TITLE, DETAIL, COMMENT),
            f"/leercyclus/rapportages/{typed['report_id']}": (NARRATIVE,),
            f"/toewijzen?contract={contract_id}": (),
            f"/wachtlijst?contract={contract_id}": (),
            f"/leercyclus/perioden/{world['period'].id}": (),
            "/": (),
            "/dashboard": (),
        },
        "manager": {
            f"/dashboard/{contract_id}": (ORG,),
            "/signalen": (TITLE,),
            f"/signalen/{typed['signal_id']}": (TITLE, DETAIL, COMMENT),
            f"/casussen/{typed['case_id']}": (NEIGHBOURHOOD,),
            f"/leercyclus/rapportages/{typed['report_id']}": (NARRATIVE,),
            "/leercyclus": (),
            f"/besparingen/{contract_id}": (),
        },
        "sub_a": {
            f"/signalen/{typed['signal_id']}": (TITLE, DETAIL, COMMENT),
            f"/leercyclus/rapportages/{typed['report_id']}": (NARRATIVE, ORG),
            "/leercyclus": (),
            "/": (),
            "/inbox": (),
        },
    }
    for who, urls in pages.items():
        async with factories.logged_in(app, users[who]) as http:
            for url, expected in urls.items():
                response = await http.get(url, headers=HTML)
                assert response.status_code == 200, (who, url, response.status_code)
                _assert_no_raw_markup(url, response.text)
                _assert_escaped(url, response.text, *expected)


async def test_exports_neutralise_formulas_in_every_text_cell(app, world, typed):
    contract_id, period_id, users = world["contract"].id, world["period"].id, world["users"]
    downloads = {
        "coordinator": ["/casussen/export.csv", "/casussen/export.xlsx", "/signalen/export.csv",
                        "/signalen/export.xlsx", f"/leercyclus/perioden/{period_id}/indicatoren.csv",
                        f"/leercyclus/perioden/{period_id}/indicatoren.xlsx",
                        f"/wachtlijst/export.csv?contract={contract_id}"],
        "manager": [f"/dashboard/{contract_id}/export.csv", f"/dashboard/{contract_id}/export.xlsx",
                    "/signalen/export.csv"],
    }
    seen: list[str] = []
    for who, urls in downloads.items():
        async with factories.logged_in(app, users[who]) as http:
            for url in urls:
                response = await http.get(url)
                assert response.status_code == 200, (who, url, response.status_code, response.text[:300])
                cells = _xlsx_cells(response.content) if ".xlsx" in url else _csv_cells(response.content)
                for value in cells:
                    _assert_safe_cell(url, value)
                seen += [value for value in cells if isinstance(value, str)]
    # the typed texts are in the files, each behind an apostrophe that keeps it text
    assert "'" + ORG in seen and "'" + TITLE in seen
    assert NEIGHBOURHOOD in seen  # starts with a quote, not a formula sign: left as typed


async def test_pdfs_draw_typed_markup_literally(app, world, typed):
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        response = await http.get(f"/leercyclus/rapportages/{typed['report_id']}/pdf")
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        text = pdf_text(response.content)
        assert NARRATIVE in text and "<script>alert(\"org\")</script>" in text
    async with factories.logged_in(app, world["users"]["manager"]) as http:
        response = await http.get(f"/dashboard/{world['contract'].id}/kwartaalrapportage.pdf")
        assert response.status_code == 200 and response.content.startswith(b"%PDF-")
