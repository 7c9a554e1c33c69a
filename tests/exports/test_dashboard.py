"""The dashboard's exports through HTTP, against the prepared world of tests/dashboard/test_web.py: the XLSX and
CSV hold exactly the figures of the page (markers included), the quarterly PDF is made for a complete quarter
with its end as "today", a subcontractor gets only its own view, formulas are escaped, everyone else gets
403/404 and every export is audited."""

import csv
import io
import re
from html import unescape

from openpyxl import load_workbook

from portal.exports import rules
from portal.lib.formatting import format_date, format_money, format_number, format_percentage, today_nl
from tests import factories
from tests.cases.test_exports import export_audits
from tests.dashboard.test_web import PEERS, _addresses, _row, _table, _world
from tests.reports.test_web import pdf_text

HTML = {"accept": "text/html"}
CONTRACT_SHEETS = ["Overzicht", "Casussen per status", "Doorlooptijd", "Besparing", "Signalen", "Per onderaannemer",
                   "Wie heeft de bal", "Trend per kwartaal", "Per wijk"]


def _section_rows(html: str, heading_id: str) -> list[list[str]]:
    """The rows of the table in the section with this heading (the status table has no id of its own)."""
    match = re.search(rf'aria-labelledby="{heading_id}">.*?</table>', html, re.S)
    assert match, heading_id
    rows = re.findall(r"<tr>(.*?)</tr>", match.group(0), re.S)
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def _workbook(content: bytes) -> dict[str, list[list]]:
    book = load_workbook(io.BytesIO(content))
    return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}


DISPLAY = {"#,##0": format_number, "0.0": lambda v: format_number(v, 1),
           '0.0"%"': lambda v: format_percentage(v, 1), '0"%"': lambda v: format_percentage(v, 0),
           '"EUR "#,##0.00': lambda v: format_money(round(v * 100))}


def _displayed(content: bytes) -> dict[str, list[list[str]]]:
    """Every sheet as a spreadsheet shows it: each number in its cell's number format (Dutch notation)."""
    book = load_workbook(io.BytesIO(content))
    return {ws.title: [["" if cell.value is None else DISPLAY[cell.number_format](cell.value)
                        if isinstance(cell.value, int | float) else str(cell.value) for cell in row]
                       for row in ws.iter_rows()] for ws in book.worksheets}


def _csv_blocks(content: bytes) -> dict[str, list[list[str]]]:
    """The stacked CSV back as blocks: a title line, then the column names and the rows, an empty line between."""
    assert content.startswith("\ufeff".encode())
    blocks: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"):
        if not row:
            current = None
        elif current is None:
            current = blocks.setdefault(row[0], [])
        else:
            current.append(row)
    return blocks


def _same(csv_cell: str, value) -> bool:
    """A CSV cell holds the XLSX value: the same text, or the same number in Dutch notation (25,0)."""
    if isinstance(value, int | float):
        return re.fullmatch(r"-?\d+(,\d+)?", csv_cell) is not None and float(csv_cell.replace(",", ".")) == value
    return csv_cell == ("" if value is None else value)


def _marked(rate: str, mark: str) -> str:
    arrows = {"afwijkend hoog": " ▲ afwijkend hoog", "afwijkend laag": " ▼ afwijkend laag"}
    return rate + arrows.get(mark, "")


async def _get(http, url: str):
    response = await http.get(url)
    assert response.status_code == 200, response.text[:300]
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    return response


async def test_the_managers_xlsx_and_csv_hold_exactly_the_figures_of_the_page(app):
    w = await _world()
    cid = w["contract"].id
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        html = (await http.get(f"/dashboard/{cid}", headers=HTML)).text
        xlsx = await _get(http, f"/dashboard/{cid}/export.xlsx")
        csv_file = await _get(http, f"/dashboard/{cid}/export.csv")
    # the page offers both files and the quarterly PDF (a real form; the last complete quarter first)
    last = rules.last_complete_quarter(today_nl())
    assert f'href="/dashboard/{cid}/export.xlsx"' in html and f'href="/dashboard/{cid}/export.csv"' in html
    assert f'action="/dashboard/{cid}/kwartaalrapportage.pdf"' in html
    period = f"{format_date(last.start)} t/m {format_date(last.end)}"
    assert f'<option value="{last.code}" selected title="{period}">{last.label}</option>' in html
    assert "Kwartaalrapportage downloaden (PDF)" in html and '<label for="kwartaal">Kwartaal</label>' in html

    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="dashboard-contract-{cid}-{today_nl().isoformat()}.xlsx"' in xlsx.headers["content-disposition"]
    sheets = _workbook(xlsx.content)
    assert list(sheets) == CONTRACT_SHEETS

    # block by block: the sheet shows what the page shows
    shown = _displayed(xlsx.content)
    assert shown["Casussen per status"][0] == ["Status", "Aantal"]
    assert shown["Casussen per status"][1:] == _section_rows(html, "h-status")[1:]
    assert shown["Signalen"][1:] == _table(html, "signalen")[1:]
    assert shown["Wie heeft de bal"][1:] == _table(html, "bal")[1:]
    assert shown["Trend per kwartaal"][1:] == _table(html, "trend")[1:]
    assert shown["Per wijk"][1:] == _table(html, "wijken")[1:]
    assert _row(sheets["Per wijk"], "Zuid")[1:] == ["< 5", "< 5"]  # small numbers stay suppressed
    export_subs = []
    for name, volume, decline, decline_mark, reject, reject_mark, wait, signals, pct, done, due, load in \
            shown["Per onderaannemer"][1:]:
        compliance = "–" if pct == "–" else f"{pct} ({done} van {due})"
        export_subs.append([name, volume, _marked(decline, decline_mark), _marked(reject, reject_mark), wait,
                            signals, compliance, load])
    assert export_subs == _table(html, "onderaannemers")[1:]
    alfa = _row(sheets["Per onderaannemer"], "Thuiszorg Alfa")
    assert alfa[1:4] == [20, 25.0, "afwijkend hoog"]  # numbers stay numbers in the workbook
    assert _row(sheets["Per onderaannemer"], "Klein Epsilon")[2] == "te weinig"
    flow = {row[0]: row[1] for row in sheets["Doorlooptijd"][1:]}
    assert flow["Mediaan (p50)"] == 40 and flow["90e percentiel (p90)"] == 70 and flow["Gestarte leveringen"] == 3
    assert flow["Langer dan de wettelijke termijnen"] == 1
    assert sheets["Besparing"] == [["Doelstelling", "Oordeel", "Besparing tot nu toe", "Doel tot nu toe"]]
    assert ["Stand op", format_date(today_nl())] in sheets["Overzicht"]
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book["Per onderaannemer"]["C2"].number_format == '0.0"%"' and book["Per onderaannemer"].freeze_panes == "A2"

    # the CSV: the same blocks one under the other, numbers in Dutch notation
    blocks = _csv_blocks(csv_file.content)
    assert list(blocks) == CONTRACT_SHEETS
    for title, rows in sheets.items():
        assert [len(row) for row in blocks[title]] == [len(row) for row in rows], title
        for csv_row, row in zip(blocks[title], rows, strict=True):
            assert all(_same(cell, value) for cell, value in zip(csv_row, row, strict=True)), (csv_row, row)
    assert _row(blocks["Per onderaannemer"], "Thuiszorg Alfa")[2] == "25,0"

    audits = [entry for entry in await export_audits() if entry["object_type"] == "dashboard"]
    assert [entry["new"]["formaat"] for entry in audits] == ["xlsx", "csv"]
    assert all(entry["object_id"] == str(cid) and entry["contract_id"] == cid and entry["user"] == w["manager"].id
               and entry["new"]["weergave"] == "contract" for entry in audits)


async def test_a_subcontractor_exports_only_itself_next_to_the_anonymous_average(app):
    w = await _world()
    cid = w["contract"].id
    beta = await factories.organisation("subcontractor", "Tweede Elders")
    elsewhere = await factories.contract(name="Ander Contract")
    await factories.subcontract(elsewhere, w["alfa"])  # Alfa on another contract too: still its own view there
    await factories.subcontract(elsewhere, beta)
    async with factories.logged_in(app, w["alfa_user"], address=next(_addresses)) as http:
        html = (await http.get(f"/dashboard/{cid}", headers=HTML)).text
        # a subcontractor filter in the URL changes nothing: there is none
        xlsx = await _get(http, f"/dashboard/{cid}/export.xlsx?onderaannemer={w['alfa'].id + 1}")
        csv_file = await _get(http, f"/dashboard/{cid}/export.csv")
        pdf = await _get(http, f"/dashboard/{cid}/kwartaalrapportage.pdf")
    assert f'href="/dashboard/{cid}/export.csv"' in html and "kwartaalrapportage.pdf" in html
    assert f'href="/casussen?contract={cid}&amp;status=' in html
    sheets = _workbook(xlsx.content)
    assert list(sheets) == ["Overzicht", "Uw casussen per status", "Vergelijking"]
    comparison = [[label, *values] for label, _unit, *values in _displayed(xlsx.content)["Vergelijking"][1:]]
    assert comparison == _table(html, "vergelijking")[1:]
    assert _row(sheets["Vergelijking"], "Weigerpercentage")[2:] == [25.0, 10.0]
    assert ["Onderaannemer", "Thuiszorg Alfa"] in sheets["Overzicht"]
    text = pdf_text(pdf.content)
    everything = [str(value) for rows in sheets.values() for row in rows for value in row]
    everything += [cell for rows in _csv_blocks(csv_file.content).values() for row in rows for cell in row]
    for name in (*PEERS, "Tweede Elders", "Ander Contract"):
        assert not any(name in value for value in everything), name
        assert name not in text, name
    assert "Thuiszorg Alfa" in text and "Gemiddelde anderen" in text


async def test_names_that_look_like_formulas_are_escaped(app):
    w = await _world()
    cid = w["contract"].id
    for name in ('=HYPERLINK("http://x.example","klik")', "@SUM(1+1)", "+31 Zorg", "-2+3 Hulp"):
        await factories.subcontract(w["contract"], await factories.organisation("subcontractor", name))
    await factories.case(w["contract"], "registered", neighbourhood="=1+1")
    async with factories.logged_in(app, w["coordinator"], address=next(_addresses)) as http:
        xlsx = await _get(http, f"/dashboard/{cid}/export.xlsx")
        csv_file = await _get(http, f"/dashboard/{cid}/export.csv")
    book = load_workbook(io.BytesIO(xlsx.content))
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
    names = [row[0] for row in _workbook(xlsx.content)["Per onderaannemer"][1:]]
    assert "'=HYPERLINK(\"http://x.example\",\"klik\")" in names and "'@SUM(1+1)" in names
    assert "'+31 Zorg" in names and "'-2+3 Hulp" in names
    assert ["'=1+1", "< 5", "< 5"] in _workbook(xlsx.content)["Per wijk"]
    cells = [cell for rows in _csv_blocks(csv_file.content).values() for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) or re.match(r"-\D", cell) for cell in cells)
    assert "'@SUM(1+1)" in cells and "'=1+1" in cells


async def test_the_quarterly_pdf_is_made_for_a_complete_quarter_as_of_its_end(app):
    w = await _world()
    cid = w["contract"].id
    last = rules.last_complete_quarter(today_nl())
    current = rules.quarter_of(today_nl())
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        default = await _get(http, f"/dashboard/{cid}/kwartaalrapportage.pdf")
        older = await _get(http, f"/dashboard/{cid}/kwartaalrapportage.pdf?kwartaal={last.previous().code}")
        refusals = {code: await http.get(f"/dashboard/{cid}/kwartaalrapportage.pdf?kwartaal={code}", headers=HTML)
                    for code in (current.code, "2019-K4", "K9", "'; DROP TABLE contract")}
    assert default.headers["content-type"] == "application/pdf"
    assert f'filename="kwartaalrapportage-dashboard-contract-{cid}-{last.code}.pdf"' in \
        default.headers["content-disposition"]
    assert default.content.startswith(b"%PDF-")
    text = pdf_text(default.content)
    assert f"Kwartaalrapportage dashboard {last.label}" in text and "Dash Contract" in text
    assert "Gemeente Dash" in text and "Hoofdaannemer Dash" in text
    assert format_date(last.end) in text  # the peildatum
    for block in ("Casussen per status", "Doorlooptijd", "Besparing", "Signalen", "Per onderaannemer",
                  "Wie heeft de bal", "Trend per kwartaal", "Per wijk"):
        assert block in text, block
    assert "Thuiszorg Alfa" in text and "25,0%" in text and "afwijkend hoog" in text and "te weinig" in text
    assert "< 5" in text  # Zuid: fewer than 5 residents
    # the trend ends with the chosen quarter: this quarter's 5 rejections are not in it
    assert f"K{last.number} {last.year}" in text and f"K{current.number} {current.year}" not in text
    assert f"Kwartaalrapportage dashboard {last.previous().label}" in pdf_text(older.content)
    assert refusals[current.code].status_code == 422 and "nog niet voorbij" in refusals[current.code].text
    assert refusals["2019-K4"].status_code == 422 and "begon op 01-01-2020" in refusals["2019-K4"].text
    assert refusals["K9"].status_code == 422 and refusals["'; DROP TABLE contract"].status_code == 422
    audits = [entry for entry in await export_audits() if entry["object_type"] == "dashboard"]
    assert [(entry["new"]["formaat"], entry["new"]["kwartaal"], entry["new"]["stand"]) for entry in audits] == [
        ("pdf", last.code, last.end.isoformat()), ("pdf", last.previous().code, last.previous().end.isoformat())]


async def test_nobody_else_exports_the_dashboard(app):
    w = await _world()
    cid = w["contract"].id
    other_main = await factories.organisation("main_contractor", "Hoofdaannemer Anders")
    await factories.contract(name="Contract Anders", main_contractor=other_main)
    strange_sub = await factories.organisation("subcontractor", "Onderaannemer Buiten")
    people = {"stranger": (w["stranger"], 404), "admin": (w["admin"], 403),
              "other coordinator": (await factories.user(other_main, "coordinator"), 404),
              "subcontractor of another contract": (await factories.user(strange_sub, "subcontractor"), 404)}
    for who, (person, status) in people.items():
        async with factories.logged_in(app, person, address=next(_addresses)) as http:
            for suffix in ("export.csv", "export.xlsx", "kwartaalrapportage.pdf", "kwartaalrapportage.pdf?kwartaal=x"):
                response = await http.get(f"/dashboard/{cid}/{suffix}", headers=HTML)
                assert response.status_code == status, (who, suffix, response.status_code)
                assert "Thuiszorg Alfa" not in response.text and "Dash Contract" not in response.text
    async with factories.http_client(app, next(_addresses)) as anonymous:
        response = await anonymous.get(f"/dashboard/{cid}/export.xlsx")
        assert response.status_code == 303 and response.headers["location"].startswith("/inloggen")
    assert not [entry for entry in await export_audits() if entry["object_type"] == "dashboard"]
