"""The savings pages and forms through HTTP: chart and table agree, Dutch amounts, 422/403/404."""

import re
import xml.etree.ElementTree as ET
from datetime import date
from html import unescape
from itertools import count

from portal.contracts.tables import ContractYear
from portal.savings.tables import Investment, SavingsActual, SavingsTarget
from tests import factories

HTML = {"accept": "text/html"}
_addresses = (f"198.51.100.{n}" for n in count(10))


async def _setup():
    municipality = await factories.organisation("municipality", "Gemeente Noord")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Noord")
    sub = await factories.organisation("subcontractor", "Onderaannemer Noord")
    contract = await factories.contract(municipality, main, name="Samen Noord", start_date=date(2025, 1, 1),
                                        end_date=date(2028, 12, 31), missed_target_terms="Samen een verbeterplan.")
    await factories.subcontract(contract, sub)
    for year in (2025, 2026, 2027, 2028):
        await ContractYear(contract=contract.id, year=year, baseline_cents=400_000_000, lump_sum_cents=390_000_000,
                           indexation_cents=12_000_000).save()
        await SavingsTarget(contract=contract.id, year=year, amount_cents=10_000_000).save()
    await Investment(contract=contract.id, invested_on=date(2025, 2, 1), amount_cents=5_000_000,
                     description="Opbouw wijkteams").save()
    quarters = [(date(2025, 1, 1), date(2025, 3, 31)), (date(2025, 4, 1), date(2025, 6, 30)),
                (date(2025, 7, 1), date(2025, 9, 30)), (date(2025, 10, 1), date(2025, 12, 31)),
                (date(2026, 1, 1), date(2026, 3, 31))]
    for index, (start, end) in enumerate(quarters):
        await SavingsActual(contract=contract.id, period_start=start, period_end=end, source="ledger",
                            spend_cents=100_000_000 - 300_000 * index, note="Grootboek").save()
    other_municipality = await factories.organisation("municipality", "Gemeente Zuid")
    other = await factories.contract(other_municipality, name="Samen Zuid")
    return {
        "contract": contract, "other": other,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "subcontractor": await factories.user(sub, "subcontractor"),
        "stranger": await factories.user(other_municipality, "contract_manager"),
    }


def _svg(html: str, chart_id: str) -> ET.Element:
    match = re.search(rf'<svg [^>]*id="{chart_id}".*?</svg>', html, re.S)
    assert match, f"no chart {chart_id}"
    return ET.fromstring(match.group(0))  # noqa: S314 - our own page


async def test_the_page_shows_verdict_chart_and_a_table_with_the_same_figures(app):
    w = await _setup()
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        index = await http.get("/besparingen", headers=HTML)
        assert index.status_code == 200 and f'href="/besparingen/{w["contract"].id}"' in index.text
        assert "Samen Zuid" not in index.text
        response = await http.get(f"/besparingen/{w['contract'].id}", headers=HTML)
        api = (await http.get(f"/api/v1/contracts/{w['contract'].id}/savings")).json()
    assert response.status_code == 200
    html = response.text
    assert ">Besparingen</a>" in html  # in the navigation
    assert api["verdicts"][0]["sentence"] in unescape(html)
    assert "Waarop dit is gebaseerd" in html and "tolerantie uit het contract: 5%" in unescape(html)
    assert "Samen een verbeterplan." in html and "Hoe de prognose werkt" in html
    chart = _svg(html, "traject")
    ns = "{http://www.w3.org/2000/svg}"
    assert chart.get("role") == "img" and chart.find(f"{ns}title").text.startswith("Besparingstraject Samen Noord")
    assert chart.find(f"{ns}desc").text
    # every marker of the chart matches the data table below it
    table = re.search(r'<table id="traject-tabel".*?</table>', html, re.S).group(0)
    rows = {label: [cell for cell in re.findall(r'data-value="(-?\d*)"', row)]
            for label, row in re.findall(r'<tr data-label="([^"]+)">(.*?)</tr>', table, re.S)}
    by_series = {}
    for group in chart.iter(f"{ns}g"):
        if group.get("data-series"):
            by_series[group.get("data-series")] = [(m.get("data-label"), m.get("data-value")) for m in group
                                                   if m.get("data-value") is not None]
    column = {"Doel": 0, "Werkelijk": 1, "Prognose": 2}
    assert set(by_series) == set(column)
    for series, points in by_series.items():
        assert points, series
        for label, value in points:
            assert rows[label][column[series]] == value, (series, label)
    assert api["figures"]["savings_to_date_cents"] == sum(p["savings_cents"] for p in api["periods"])
    assert api["figures"]["net_to_date_cents"] == api["figures"]["savings_to_date_cents"] - 5_000_000
    _svg(html, "perjaar")  # the per-year bars parse too


async def test_adding_an_actual_in_dutch_notation_and_correcting_it(app):
    w = await _setup()
    cid = w["contract"].id
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        response = await factories.post_form(http, f"/besparingen/{cid}/werkelijk", {
            "van": "01-04-2026", "tot": "30-06-2026", "bedrag": "98.765.432,10", "bron": "estimate",
            "toelichting": "Schatting tot het grootboek sluit"})
        assert response.status_code == 303 and response.headers["location"].startswith(f"/besparingen/{cid}?")
        added = await SavingsActual.select().where(SavingsActual.spend_cents == 9_876_543_210).first()
        assert added["source"] == "estimate" and added["entered_by"] == w["manager"].id
        form = await http.get(f"/besparingen/{cid}?corrigeer={added['id']}", headers=HTML)
        assert 'value="01-04-2026"' in form.text and f'<option value="{added["id"]}" selected' in form.text
        response = await factories.post_form(http, f"/besparingen/{cid}/werkelijk", {
            "corrigeert": str(added["id"]), "van": "01-04-2026", "tot": "30-06-2026", "bedrag": "98.000.000,00",
            "bron": "ledger", "toelichting": "Grootboek gesloten"})
        assert response.status_code == 303
        page = (await http.get(f"/besparingen/{cid}", headers=HTML)).text
    correction = await SavingsActual.select().where(SavingsActual.corrects == added["id"]).first()
    assert correction["spend_cents"] == 9_800_000_000
    row = re.search(rf'<tr id="bedrag-{added["id"]}".*?</tr>', page, re.S).group(0)
    assert "<del>" in row and f'href="#bedrag-{correction["id"]}"' in row  # struck through, linked to its correction


async def test_a_bad_amount_keeps_the_typed_input_with_a_dutch_message(app):
    w = await _setup()
    async with factories.logged_in(app, w["coordinator"], address=next(_addresses)) as http:
        response = await factories.post_form(http, f"/besparingen/{w['contract'].id}/werkelijk", {
            "van": "01-04-2026", "tot": "30-06-2026", "bedrag": "1,234,567.89", "bron": "contractor_statement"})
    assert response.status_code == 422
    html = unescape(response.text)
    assert "Vul het bedrag in euro's in zoals 1.234.567,89" in html
    assert 'value="1,234,567.89"' in html and 'value="01-04-2026"' in html
    assert 'id="nieuw-bedrag"' in html and 'aria-invalid="true"' in html
    assert await SavingsActual.count().where(SavingsActual.period_start == date(2026, 4, 1)) == 0


async def test_the_contract_manager_sets_a_target_the_coordinator_may_not(app):
    w = await _setup()
    cid = w["contract"].id
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        response = await factories.post_form(http, f"/besparingen/{cid}/doelstellingen",
                                             {"jaar": "2027", "niveau": "contract", "doel": "150.000"})
        assert response.status_code == 303
        bad = await factories.post_form(http, f"/besparingen/{cid}/afspraken", {"afspraken": "x", "tolerantie": "80"})
        assert bad.status_code == 422 and "tussen 0 en 50" in bad.text
    target = await SavingsTarget.select().where(SavingsTarget.year == 2027).first()
    assert target["amount_cents"] == 15_000_000
    async with factories.logged_in(app, w["coordinator"], address=next(_addresses)) as http:
        page = (await http.get(f"/besparingen/{cid}", headers=HTML)).text
        assert "/doelstellingen" not in page and "Werkelijk bedrag toevoegen" in page
        assert '<option value="ledger"' not in page.split('id="nieuw"')[1].split("</form>")[0]
        response = await factories.post_form(http, f"/besparingen/{cid}/doelstellingen",
                                             {"jaar": "2027", "niveau": "contract", "doel": "1"})
        assert response.status_code == 403


async def test_a_subcontractor_gets_403_and_another_municipality_404(app):
    w = await _setup()
    cid = w["contract"].id
    async with factories.logged_in(app, w["subcontractor"], address=next(_addresses)) as http:
        for url in ("/besparingen", f"/besparingen/{cid}", f"/api/v1/contracts/{cid}/savings"):
            assert (await http.get(url, headers=HTML)).status_code == 403
        assert "Besparingen" not in (await http.get("/", headers=HTML)).text
    async with factories.logged_in(app, w["stranger"], address=next(_addresses)) as http:
        response = await http.get(f"/besparingen/{cid}", headers=HTML)
        assert response.status_code == 404 and "Samen Noord" not in response.text
        assert (await http.get(f"/api/v1/contracts/{cid}/savings")).status_code == 404
        posted = await factories.post_form(http, f"/besparingen/{cid}/werkelijk",
                                           {"van": "01-04-2026", "tot": "30-06-2026", "bedrag": "1", "bron": "ledger"})
        assert posted.status_code == 404
        bad = await factories.post_form(http, f"/besparingen/{cid}/werkelijk", {"bedrag": "nonsens"})
        assert bad.status_code == 404  # bad input never tells a stranger the contract exists
