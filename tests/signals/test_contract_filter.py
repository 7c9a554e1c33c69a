"""The signal inbox's contract filter (/signalen?contract=ID), also in its CSV/XLSX export and the JSON list: one of
the person's own contracts narrows the inbox (and its counts) to it; a contract outside the person's scope is "not
found" and shows nothing of it; a subcontractor still sees only its own signals; confidential content stays hidden;
the dashboard's signal click-throughs carry the contract."""

import re
from html import unescape

import pytest

from portal.signals.service import HIDDEN_TITLE
from portal.signals.tables import Signal
from tests import factories
from tests.cases.test_exports import HTML, download, table_rows

NOT_FOUND = "Dit contract bestaat niet, of u heeft er geen toegang toe."


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality", "Gemeente Signaalstroom")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Signaalstroom")
    other_main = await factories.organisation("main_contractor", "Hoofdaannemer Jeugdstroom")
    sub_s = await factories.organisation("subcontractor", "Onderaannemer Ster")
    sub_t = await factories.organisation("subcontractor", "Onderaannemer Tak")
    wmo = await factories.contract(municipality, main, name="Contract Wmo")
    youth = await factories.contract(municipality, other_main, name="Contract Jeugd")
    elsewhere = await factories.contract(name="Contract Buiten")
    for contract, sub in ((wmo, sub_s), (wmo, sub_t), (youth, sub_s)):
        await factories.subcontract(contract, sub)
    specs = [  # contract, rule, severity, subcontractor, title, confidential
        (wmo, "stalled", "high", sub_s, "Wmo Ster hoog", False),
        (wmo, "stalled", "low", sub_t, "Wmo Tak laag", False),
        (wmo, "raised", "medium", sub_s, "Wmo Ster vertrouwelijk", True),
        (youth, "stalled", "high", sub_s, "Jeugd Ster hoog", False),
        (elsewhere, "stalled", "high", None, "Buiten geheim", False),
    ]
    for n, (contract, rule, severity, sub, title, confidential) in enumerate(specs):
        await Signal(contract=contract.id, rule=rule, severity=severity, status="open", dedup_key=f"cf:{n}",
                     subcontractor=sub.id if sub else None, owner_organisation=sub.id if sub else main.id,
                     raised_by_organisation=sub.id if rule == "raised" else None, title=title,
                     confidential=confidential).save()
    return {
        "app": app, "wmo": wmo, "youth": youth, "elsewhere": elsewhere,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "sub_s": await factories.user(sub_s, "subcontractor"),
        "sub_t": await factories.user(sub_t, "subcontractor"),
    }


def _titles(page: str) -> list[str]:
    """The signal titles of the inbox table (its rows have 8 cells; the count tables 2)."""
    return sorted(row[0].removesuffix(" Vertrouwelijk") for row in table_rows(page) if len(row) == 8)


def _file_titles(rows: list[list[str]]) -> list[str]:
    return sorted(row[0] for row in rows[1:])


WMO = ["Wmo Ster hoog", "Wmo Ster vertrouwelijk", "Wmo Tak laag"]


async def test_the_contract_manager_narrows_the_inbox_to_one_contract(world):
    wmo, youth = world["wmo"].id, world["youth"].id
    async with factories.logged_in(world["app"], world["manager"]) as http:
        everything = await http.get("/signalen", headers=HTML)
        assert _titles(everything.text) == sorted([*WMO, "Jeugd Ster hoog"])  # both contracts mixed
        page = await http.get(f"/signalen?contract={wmo}&regel=stalled", headers=HTML)
        assert page.status_code == 200
        assert _titles(page.text) == ["Wmo Ster hoog", "Wmo Tak laag"]
        assert "2 signalen gevonden" in page.text
        # the counts per rule and severity are of this contract only, and their links keep to it
        rule_link = f'href="/signalen?contract={wmo}&amp;regel=raised&amp;ernst=&amp;status=actief">'
        assert rule_link in page.text
        assert f'href="/signalen?contract={wmo}&amp;ernst=high&amp;regel=stalled' in page.text
        counts = {row[0]: row[1] for row in table_rows(page.text) if len(row) == 2}
        assert counts["Hoog"] == "1" and counts["Laag"] == "1"
        # the filter is on the form (both contracts to choose from) and in the export links
        assert re.search(rf'<option value="{wmo}" selected>Contract Wmo</option>', page.text)
        assert f'<option value="{youth}" >Contract Jeugd</option>' in page.text
        assert "Contract Buiten" not in page.text and "Buiten geheim" not in page.text
        export_link = unescape(re.search(r'href="(/signalen/export\.csv\?[^"]+)"', page.text).group(1))
        assert f"contract={wmo}" in export_link
        rows, _ = await download(http, export_link)
        assert _file_titles(rows) == ["Wmo Ster hoog", "Wmo Tak laag"]
        rows, _ = await download(http, f"/signalen/export.xlsx?contract={youth}")
        assert _file_titles(rows) == ["Jeugd Ster hoog"]
        listed = (await http.get(f"/api/v1/signals?contract={youth}")).json()
        assert [row["title"] for row in listed["signals"]] == ["Jeugd Ster hoog"] and listed["total"] == 1


@pytest.mark.parametrize("who", ["manager", "coordinator", "sub_s"])
async def test_a_contract_outside_the_scope_is_not_found(world, who):
    async with factories.logged_in(world["app"], world[who]) as http:
        other = world["elsewhere"].id
        for url in (f"/signalen?contract={other}", f"/signalen/export.csv?contract={other}",
                    f"/signalen/export.xlsx?contract={other}&status=alle", f"/api/v1/signals?contract={other}",
                    "/signalen?contract=999999"):
            response = await http.get(url, headers={} if "/api/" in url else HTML)
            assert response.status_code == 404, (url, response.status_code)
            assert NOT_FOUND in response.text
            assert "Buiten geheim" not in response.text and "Contract Buiten" not in response.text
        bad = await http.get("/signalen?contract=abc", headers=HTML)
        assert bad.status_code == 422 and "Kies een contract" in bad.text


async def test_the_subcontractor_and_coordinator_keep_to_their_own_signals_within_a_contract(world):
    wmo, youth = world["wmo"].id, world["youth"].id
    async with factories.logged_in(world["app"], world["sub_s"]) as http:
        page = await http.get(f"/signalen?contract={wmo}", headers=HTML)
        assert _titles(page.text) == ["Wmo Ster hoog", "Wmo Ster vertrouwelijk"]  # its own, its own raised one
        assert f'<option value="{youth}" >Contract Jeugd</option>' in page.text  # party to both contracts
        rows, _ = await download(http, f"/signalen/export.csv?contract={youth}")
        assert _file_titles(rows) == ["Jeugd Ster hoog"]
    async with factories.logged_in(world["app"], world["sub_t"]) as http:
        page = await http.get(f"/signalen?contract={wmo}", headers=HTML)
        assert _titles(page.text) == ["Wmo Tak laag"]
        assert 'id="contract"' in page.text  # a filter is active: the select shows it
        # one contract and no filter: no select
        assert 'id="contract"' not in (await http.get("/signalen", headers=HTML)).text
        # the youth contract is not its own: not found, though the contract manager's is the same municipality
        assert (await http.get(f"/signalen?contract={youth}", headers=HTML)).status_code == 404
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        page = await http.get(f"/signalen?contract={wmo}", headers=HTML)
        # the confidential signal is there, without its content
        assert _titles(page.text) == sorted([HIDDEN_TITLE, "Wmo Ster hoog", "Wmo Tak laag"])
        assert "Wmo Ster vertrouwelijk" not in page.text
        rows, _ = await download(http, f"/signalen/export.csv?contract={wmo}")
        assert _file_titles(rows) == sorted([HIDDEN_TITLE, "Wmo Ster hoog", "Wmo Tak laag"])
        # the youth contract has another main contractor: not this coordinator's
        assert (await http.get(f"/signalen?contract={youth}", headers=HTML)).status_code == 404


async def test_the_dashboard_signal_click_throughs_keep_to_the_contract(world):
    wmo = world["wmo"].id
    async with factories.logged_in(world["app"], world["manager"]) as http:
        page = await http.get(f"/dashboard/{wmo}", headers=HTML)
        assert page.status_code == 200
        links = [unescape(link) for link in re.findall(r'href="(/signalen\?[^"]+)"', page.text)]
        assert links and all(link.startswith(f"/signalen?contract={wmo}&") for link in links)
        stalled = next(link for link in links if link.endswith("regel=stalled"))
        assert _titles((await http.get(stalled, headers=HTML)).text) == ["Wmo Ster hoog", "Wmo Tak laag"]
