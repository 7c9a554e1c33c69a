"""Case list and waiting list exports through HTTP: each export holds exactly what the page shows for that
person and filter (CSV read back with csv, XLSX with openpyxl), pseudonymised for the contract manager,
never another subcontractor's case, formulas escaped, and every export audited."""

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from portal.accounts.tables import AuditEntry
from tests import factories

HTML = {"accept": "text/html"}


# --- reading pages and files back (shared with the signal and job tests) ------------------------------


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def table_rows(page: str) -> list[list[str]]:
    """The body rows of every table on a page, each cell as the text a reader sees."""
    rows = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", page, flags=re.S):
        for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
            rows.append([_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)])
    return rows


def _unescape_formula(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode()), "a byte-order mark for Dutch Excel"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d-%m-%Y")
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return str(value)


def xlsx_rows(content: bytes) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [[_shown(value) for value in row] for row in sheet.iter_rows(values_only=True)]


def as_page(rows: list[list[str]]) -> list[list[str]]:
    """File cells as the page shows them: the formula guard's apostrophe removed, spaces collapsed."""
    return [[" ".join(_unescape_formula(cell).split()) for cell in row] for row in rows]


async def all_list_rows(http, url: str) -> list[list[str]]:
    """Every row of a keyset-paged list page, following 'Volgende pagina'."""
    rows: list[list[str]] = []
    while url:
        page = await http.get(url, headers=HTML)
        assert page.status_code == 200, page.text[:500]
        rows += [row for row in table_rows(page.text) if len(row) > 1]
        match = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = html.unescape(match.group(1)) if match else None
    return rows


async def download(http, url: str) -> tuple[list[list[str]], bytes]:
    response = await http.get(url)
    assert response.status_code == 200, response.text[:500]
    assert "attachment" in response.headers["content-disposition"]
    if response.content.startswith("\ufeff".encode()):
        assert response.headers["content-type"].startswith("text/csv")
        return csv_rows(response.content), response.content
    assert response.content.startswith(b"PK") and "spreadsheetml" in response.headers["content-type"]
    return xlsx_rows(response.content), response.content


async def export_audits() -> list[dict]:
    rows = await AuditEntry.select().where(AuditEntry.action == "export").order_by(AuditEntry.id)
    for row in rows:
        value = row["new_values"]
        row["new"] = json.loads(value) if isinstance(value, str) else value
    return rows


# --- the world ------------------------------------------------------------------------------------------


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality", "Gemeente Exportdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Export")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer Alfa")
    sub_b = await factories.organisation("subcontractor", "=Onderaannemer Beta")  # a name that is a formula
    contract = await factories.contract(municipality, main, name="Contract Export")
    other = await factories.contract(name="Contract Elders")  # another municipality: never in these exports
    await factories.subcontract(contract, sub_a)
    await factories.subcontract(contract, sub_b)
    base = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    cases = []
    for n, (status, sub, category, hood) in enumerate([
        ("in_care", sub_a, "02", "Centrum"), ("in_care", sub_b, "02", "=HYPERLINK(\"http://x\")"),
        ("accepted", sub_a, "07", "Noord"), ("allocation_requested", sub_b, "02", "+31 Zuid"),
        ("registered", None, "02", "Oost"), ("waiting_list", None, "02", "West"),
        ("waiting_list", None, "07", "@Wijk"), ("waiting_list", None, "02", "Centrum"),
    ]):
        row = await factories.case(contract, status=status, subcontractor=sub.id if sub else None,
                                   product_category=category, neighbourhood=hood,
                                   status_since=base + timedelta(days=n), melding_date=date(2026, 9, 1 + n),
                                   urgency="high" if n == 7 else "normal")
        if sub:
            await factories.event(row, "allocation_requested", sub)
        cases.append(row)
    elsewhere = await factories.case(other, status="in_care")
    return {
        "app": app, "contract": contract, "cases": cases, "elsewhere": elsewhere, "sub_a_org": sub_a,
        "sub_b_org": sub_b,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "sub_a": await factories.user(sub_a, "subcontractor"),
        "sub_b": await factories.user(sub_b, "subcontractor"),
    }


QUERIES = ["", "?status=in_care", "?categorie=02&volgorde=nummer", "?te_laat=1", "?zoek=T-"]


@pytest.mark.parametrize("who", ["coordinator", "manager", "sub_a", "sub_b"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_the_case_export_holds_exactly_what_the_list_shows(world, who, fmt):
    async with factories.logged_in(world["app"], world[who]) as http:
        for query in QUERIES:
            shown = await all_list_rows(http, f"/casussen{query}")
            rows, content = await download(http, f"/casussen/export.{fmt}{query}")
            header, body = rows[0], as_page(rows[1:])
            assert header[:9] == ["Casus", "Status", "Sinds", "Categorie", "Urgentie", "Onderaannemer", "Wijk",
                                  "Melding", "Contract"]
            assert [row[:9] for row in body] == shown, f"{who} {query}"
            if not query:
                assert len(body) == {"coordinator": 8, "manager": 8, "sub_a": 2, "sub_b": 2}[who]
            # the page's columns and no more: no pseudonym for anyone (data minimisation)
            assert len(header) == 9
            assert all(case.pseudonym.encode() not in content for case in world["cases"])
            assert world["elsewhere"].case_number.encode() not in content


async def test_a_subcontractor_never_exports_another_subcontractors_case(world):
    own = {case.case_number for case in world["cases"] if case.subcontractor == world["sub_a_org"].id}
    others = {case.case_number for case in world["cases"]} - own
    async with factories.logged_in(world["app"], world["sub_a"]) as http:
        # even when it asks for the other subcontractor's cases by filter
        for query in ("", f"?onderaannemer={world['sub_b_org'].id}", "?zoek=T-", "?status=allocation_requested"):
            for fmt in ("csv", "xlsx"):
                rows, content = await download(http, f"/casussen/export.{fmt}{query}")
                numbers = {row[0] for row in rows[1:]}
                assert numbers <= own
                assert not any(number.encode() in content for number in others)
        assert {row[0] for row in (await download(http, "/casussen/export.csv"))[0][1:]} == own
        # the waiting list is not a subcontractor's page, nor its export
        assert (await http.get("/wachtlijst/export.csv", headers=HTML)).status_code == 403


async def test_formulas_in_names_and_texts_are_escaped(world):
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        text = (await http.get("/casussen/export.csv")).content.decode("utf-8-sig")
        assert "'=HYPERLINK" in text and "'+31 Zuid" in text and "'=Onderaannemer Beta" in text
        assert not re.search(r'(^|;|")(=|\+|@)', text, flags=re.M)
        workbook = load_workbook(io.BytesIO((await http.get("/casussen/export.xlsx")).content))
        values = [cell.value for row in workbook.worksheets[0].iter_rows() for cell in row]
        assert "'=HYPERLINK(\"http://x\")" in values and "'=Onderaannemer Beta" in values
        assert all(cell.data_type != "f" for row in workbook.worksheets[0].iter_rows() for cell in row)
        waiting = (await http.get("/wachtlijst/export.csv")).content.decode("utf-8-sig")
        assert "'@Wijk" in waiting


async def test_every_export_is_audited_with_purpose_and_row_count(world):
    async with factories.logged_in(world["app"], world["manager"]) as http:
        rows, _ = await download(http, "/casussen/export.xlsx?status=in_care")
    audits = await export_audits()
    assert len(audits) == 1
    entry = audits[0]
    assert entry["user"] == world["manager"].id and entry["object_type"] == "cases"
    assert entry["purpose"] == "toezicht op het contract"
    assert entry["new"]["regels"] == len(rows) - 1 == 2
    assert entry["new"]["formaat"] == "xlsx" and entry["new"]["filters"]["status"] == "in_care"


@pytest.mark.parametrize("who", ["coordinator", "manager"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_the_waiting_list_export_holds_exactly_what_the_page_shows(world, who, fmt):
    async with factories.logged_in(world["app"], world[who]) as http:
        for query in ("", "?categorie=02", f"?contract={world['contract'].id}&categorie=07"):
            page = await http.get(f"/wachtlijst{query}", headers=HTML)
            shown = table_rows(page.text)
            rows, content = await download(http, f"/wachtlijst/export.{fmt}{query}")
            assert rows[0] == ["Contract", "Productcategorie", "Plaats", "Casus", "Urgentie", "Op de lijst sinds",
                               "Wachttijd (dagen)", "Wijk"]
            body = as_page(rows[1:])
            assert [[row[2], row[3], row[4], row[5], f"{row[6]} {'dag' if row[6] == '1' else 'dagen'}", row[7]]
                    for row in body] == shown
            assert all(row[0] == "Contract Export" for row in body)
            assert world["elsewhere"].case_number.encode() not in content
        assert len(shown) == 1  # the last query: one case of category 07


async def test_the_list_pages_link_to_their_exports_with_the_current_filters(world):
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        page = (await http.get("/casussen?status=in_care&wijk=Centrum", headers=HTML)).text
        assert "Exporteren (" in page
        link = html.unescape(re.search(r'href="(/casussen/export\.csv\?[^"]+)"', page).group(1))
        assert "status=in_care" in link and "wijk=Centrum" in link
        rows, _ = await download(http, link)
        assert [row[0] for row in rows[1:]] == [world["cases"][0].case_number]
        assert 'href="/casussen/export.xlsx?' in page
        waiting = (await http.get("/wachtlijst?categorie=07", headers=HTML)).text
        assert "/wachtlijst/export.csv?contract=&amp;categorie=07" in waiting
        assert "/wachtlijst/export.xlsx?contract=&amp;categorie=07" in waiting
