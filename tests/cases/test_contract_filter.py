"""The case list's contract filter (/casussen?contract=ID), also in its CSV/XLSX export and the JSON list: one of
the person's own contracts narrows the list to it; a contract outside the person's scope is "not found" and
shows nothing of it; the dashboard's click-throughs carry the contract."""

import re
from html import unescape

import pytest

from tests import factories
from tests.cases.test_exports import HTML, all_list_rows, download


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality", "Gemeente Tweestroom")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Tweestroom")
    sub = await factories.organisation("subcontractor", "Onderaannemer Tweestroom")
    other_main = await factories.organisation("main_contractor", "Hoofdaannemer Elders")
    wmo = await factories.contract(municipality, main, name="Contract Wmo")
    youth = await factories.contract(municipality, other_main, name="Contract Jeugd")
    elsewhere = await factories.contract(name="Contract Buiten")
    await factories.subcontract(wmo, sub)
    await factories.subcontract(youth, sub)
    cases = {"wmo": [], "youth": [], "elsewhere": []}
    for key, contract, n in (("wmo", wmo, 3), ("youth", youth, 2), ("elsewhere", elsewhere, 1)):
        for i in range(n):
            row = await factories.case(contract, "in_care", subcontractor=sub.id if i == 0 and key != "elsewhere"
                                       else None, neighbourhood="Centrum")
            if row.subcontractor:
                await factories.event(row, "in_care", sub)
            cases[key].append(row.case_number)
    return {
        "app": app, "wmo": wmo, "youth": youth, "elsewhere": elsewhere, "cases": cases,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "sub": await factories.user(sub, "subcontractor"),
    }


def _numbers(rows: list[list[str]]) -> set[str]:
    return {row[0] for row in rows}


async def test_the_contract_manager_narrows_the_list_to_one_contract(world):
    cases = world["cases"]
    async with factories.logged_in(world["app"], world["manager"]) as http:
        everything = _numbers(await all_list_rows(http, "/casussen"))
        assert everything == {*cases["wmo"], *cases["youth"]}  # both of the municipality's contracts mixed
        url = f"/casussen?contract={world['wmo'].id}"
        page = await http.get(url, headers=HTML)
        assert _numbers(await all_list_rows(http, url)) == set(cases["wmo"])
        assert "3 casussen gevonden" in page.text
        # the filter is on the form (both contracts to choose from) and in the export links
        assert re.search(rf'<option value="{world["wmo"].id}" selected>Contract Wmo</option>', page.text)
        assert f'<option value="{world["youth"].id}" >Contract Jeugd</option>' in page.text
        assert "Contract Buiten" not in page.text
        export_link = unescape(re.search(r'href="(/casussen/export\.csv\?[^"]+)"', page.text).group(1))
        assert f"contract={world['wmo'].id}" in export_link
        rows, _ = await download(http, export_link)
        assert _numbers(rows[1:]) == set(cases["wmo"])
        rows, _ = await download(http, f"/casussen/export.xlsx?contract={world['youth'].id}&status=in_care")
        assert _numbers(rows[1:]) == set(cases["youth"])
        listed = (await http.get(f"/api/v1/cases?contract={world['youth'].id}")).json()
        assert {row["case_number"] for row in listed["cases"]} == set(cases["youth"]) and listed["total"] == 2


@pytest.mark.parametrize("who", ["manager", "coordinator", "sub"])
async def test_a_contract_outside_the_scope_is_not_found(world, who):
    async with factories.logged_in(world["app"], world[who]) as http:
        other = world["elsewhere"].id
        for url in (f"/casussen?contract={other}", f"/casussen/export.csv?contract={other}",
                    f"/api/v1/cases?contract={other}", "/casussen?contract=999999"):
            response = await http.get(url, headers={} if "/api/" in url else HTML)
            assert response.status_code == 404, (url, response.status_code)
            assert "Dit contract bestaat niet, of u heeft er geen toegang toe." in response.text
            assert world["cases"]["elsewhere"][0] not in response.text and "Contract Buiten" not in response.text
        for bad_id in ("abc", "²", "1234567890123"):  # "²".isdigit() is True, but it is no id
            bad = await http.get("/casussen", params={"contract": bad_id}, headers=HTML)
            assert bad.status_code == 422 and "Kies een contract" in bad.text, bad_id


async def test_the_coordinator_and_subcontractor_keep_to_their_own_cases_within_a_contract(world):
    cases = world["cases"]
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        assert _numbers(await all_list_rows(http, f"/casussen?contract={world['wmo'].id}")) == set(cases["wmo"])
        # the youth contract has another main contractor: not this coordinator's
        assert (await http.get(f"/casussen?contract={world['youth'].id}", headers=HTML)).status_code == 404
    async with factories.logged_in(world["app"], world["sub"]) as http:
        # party to both contracts, but sees only the cases allocated to it
        assert _numbers(await all_list_rows(http, f"/casussen?contract={world['youth'].id}")) == {cases["youth"][0]}
        rows, _ = await download(http, f"/casussen/export.csv?contract={world['wmo'].id}")
        assert _numbers(rows[1:]) == {cases["wmo"][0]}


async def test_the_dashboard_click_throughs_keep_to_the_contract(world):
    async with factories.logged_in(world["app"], world["manager"]) as http:
        page = await http.get(f"/dashboard/{world['wmo'].id}", headers=HTML)
        links = [unescape(link) for link in re.findall(r'href="(/casussen\?[^"]+)"', page.text)]
        assert links and all(f"contract={world['wmo'].id}&" in link for link in links)
        in_care = next(link for link in links if "status=in_care" in link)
        assert _numbers(await all_list_rows(http, in_care)) == set(world["cases"]["wmo"])
