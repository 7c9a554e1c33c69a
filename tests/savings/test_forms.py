"""The contract manager's forms for investments and targets per product category, through HTTP: Dutch
notation, shown apart and in the net result, 422 with the typed values kept, 403/404, audited."""

from datetime import date
from html import unescape
from itertools import count

from portal.accounts.tables import AuditEntry
from portal.lib.codelists import ProductCategory
from portal.savings import service
from portal.savings.schemas import CategoryTargetInput
from portal.savings.tables import Investment, SavingsTarget
from tests import factories
from tests.savings.test_web import _setup

HTML = {"accept": "text/html"}
_addresses = (f"198.51.100.{n}" for n in count(150))


async def test_the_contract_manager_records_an_investment_shown_apart_and_in_the_net_result(app):
    w = await _setup()
    cid = w["contract"].id
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        before = (await http.get(f"/api/v1/contracts/{cid}/savings")).json()["figures"]
        response = await factories.post_form(http, f"/besparingen/{cid}/investeringen", {
            "datum": "15-03-2026", "bedrag": "1.700.000,00",
            "omschrijving": "Transformatie: wijkteams  en buurtkamers"})
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/besparingen/{cid}?vastgelegd=investering#investering-")
        page = await http.get(response.headers["location"].split("#")[0], headers=HTML)
        after = (await http.get(f"/api/v1/contracts/{cid}/savings")).json()["figures"]
    stored = await Investment.select().where(Investment.contract == cid, Investment.amount_cents == 170_000_000).first()
    assert stored["invested_on"] == date(2026, 3, 15)
    assert stored["description"] == "Transformatie: wijkteams en buurtkamers"
    html = unescape(page.text)
    assert f'<tr id="investering-{stored["id"]}"><td>15-03-2026</td>' in html and "EUR 1.700.000,00" in html
    assert "De investering is vastgelegd" in html
    # apart: the savings figure does not change; the net result does
    assert after["savings_to_date_cents"] == before["savings_to_date_cents"]
    assert after["investments_total_cents"] == before["investments_total_cents"] + 170_000_000
    assert after["net_to_date_cents"] == after["savings_to_date_cents"] - after["investments_to_date_cents"]
    audited = await AuditEntry.select(AuditEntry.object_id, AuditEntry.new_values, AuditEntry.contract_id).where(
        AuditEntry.object_type == "investment")
    assert [a["object_id"] for a in audited] == [str(stored["id"])] and audited[0]["contract_id"] == cid
    assert '"amount_cents": 170000000' in audited[0]["new_values"]


async def test_a_bad_investment_is_422_with_the_typed_values_kept(app):
    w = await _setup()
    cid = w["contract"].id
    cases = [
        ({"datum": "15-03-2026", "bedrag": "1,7 miljoen", "omschrijving": "Wijkteams"}, "inv-bedrag",
         "Vul het bedrag in euro's in zoals 1.234.567,89"),
        ({"datum": "31-02-2026", "bedrag": "1.000,00", "omschrijving": "Wijkteams"}, "inv-datum",
         "Vul de datum in als dd-mm-jjjj"),
        ({"datum": "01-01-2020", "bedrag": "1.000,00", "omschrijving": "Wijkteams"}, "inv-datum",
         "De datum van de investering ligt tussen 01-01-2023"),
        ({"datum": "15-03-2026", "bedrag": "1.000,00", "omschrijving": "   "}, "inv-omschrijving",
         "Beschrijf waarin is geïnvesteerd"),
        ({"datum": "15-03-2026", "bedrag": "-1.000,00", "omschrijving": "Terugbetaling"}, "inv-bedrag",
         "niet negatief"),
    ]
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        for form, field, message in cases:
            response = await factories.post_form(http, f"/besparingen/{cid}/investeringen", form)
            assert response.status_code == 422, form
            html = unescape(response.text)
            assert message in html, (form, html[:2000])
            assert f'id="{field}"' in html and f'aria-describedby="{field}-fout"' in html
            assert f'value="{form["datum"]}"' in html and f'value="{form["bedrag"]}"' in html
            if form["omschrijving"].strip():
                assert f'value="{form["omschrijving"]}"' in html
    assert await Investment.count().where(Investment.contract == cid) == 1  # only the one from the set-up


async def test_only_the_contract_manager_records_investments_and_category_targets(app):
    w = await _setup()
    cid = w["contract"].id
    investment = {"datum": "15-03-2026", "bedrag": "1.000,00", "omschrijving": "Wijkteams"}
    target = {"jaar": "2026", "niveau": "contract", "categorie": "02", "doel": "1.000,00"}
    async with factories.logged_in(app, w["coordinator"], address=next(_addresses)) as http:
        page = (await http.get(f"/besparingen/{cid}", headers=HTML)).text
        assert "/investeringen" not in page and "/categoriedoelen" not in page
        assert (await factories.post_form(http, f"/besparingen/{cid}/investeringen", investment)).status_code == 403
        assert (await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", target)).status_code == 403
    async with factories.logged_in(app, w["subcontractor"], address=next(_addresses)) as http:
        assert (await factories.post_form(http, f"/besparingen/{cid}/investeringen", investment)).status_code == 403
        assert (await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", target)).status_code == 403
    async with factories.logged_in(app, w["stranger"], address=next(_addresses)) as http:
        assert (await factories.post_form(http, f"/besparingen/{cid}/investeringen", investment)).status_code == 404
        assert (await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", target)).status_code == 404
        bad = await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", {**target, "doel": "x"})
        assert bad.status_code == 404 and "Samen Noord" not in bad.text
    assert await Investment.count().where(Investment.contract == cid) == 1
    assert await SavingsTarget.count().where(SavingsTarget.product_category.is_not_null()) == 0


async def test_targets_per_category_are_shown_and_the_year_target_follows_the_rules(app):
    w = await _setup()
    cid = w["contract"].id  # every year has a general target of EUR 100.000,00
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        for category, amount in (("02", "60.000,00"), ("7", "40.000")):  # "7": the code 07, leading zero dropped
            response = await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", {
                "jaar": "2027", "niveau": "contract", "categorie": category, "doel": amount})
            assert response.status_code == 303
            assert response.headers["location"] == f"/besparingen/{cid}?vastgelegd=categorie#per-categorie"
        page = unescape((await http.get(f"/besparingen/{cid}", headers=HTML)).text)
        api = (await http.get(f"/api/v1/contracts/{cid}/savings")).json()
        section = page.split('id="per-categorie"')[1].split("</section>")[0]
        assert "02 Begeleiding" in section and "07 Dagbesteding" in section and "EUR 60.000,00" in section
        assert "Som van de categorieën</th><td class=\"num\">EUR 100.000,00" in section and "Let op" not in section
        [group] = api["category_targets"]
        assert (group["year"], group["categories_cents"], group["counts_cents"]) == (2027, 10_000_000, 10_000_000)
        # changing one category: an update, not a second row; the general target still counts
        response = await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", {
            "jaar": "2027", "niveau": "contract", "categorie": "07", "doel": "50.000,00"})
        assert response.status_code == 303
        page = unescape((await http.get(f"/besparingen/{cid}", headers=HTML)).text)
        api = (await http.get(f"/api/v1/contracts/{cid}/savings")).json()
    assert "tellen op tot EUR 110.000,00, het jaardoel is EUR 100.000,00" in page
    year = next(y for y in api["years"] if y["year"] == 2027)
    assert year["targets"]["contract"] == 10_000_000
    rows = await SavingsTarget.select().where(SavingsTarget.year == 2027, SavingsTarget.product_category == "07")
    assert len(rows) == 1 and rows[0]["amount_cents"] == 5_000_000
    audited = await AuditEntry.select(AuditEntry.action).where(AuditEntry.object_type == "savings_target").order_by(
        AuditEntry.id)
    assert [a["action"] for a in audited] == ["create", "create", "change"]


async def test_a_bad_category_target_is_422_with_the_typed_values_kept(app):
    w = await _setup()
    cid = w["contract"].id
    cases = [
        ({"jaar": "2026", "niveau": "contract", "categorie": "99", "doel": "1.000,00"}, "cat-categorie",
         "Onbekende productcategorie: '99'"),
        ({"jaar": "2026", "niveau": "contract", "categorie": "", "doel": "1.000,00"}, "cat-categorie",
         "Kies een productcategorie"),
        ({"jaar": "2026", "niveau": "contract", "categorie": "02", "doel": "veel"}, "cat-doel",
         "Vul het bedrag in euro's in"),
        ({"jaar": "2040", "niveau": "contract", "categorie": "02", "doel": "1.000,00"}, "cat-jaar",
         "Kies een jaar binnen de looptijd (2025 tot en met 2028)"),
    ]
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        for form, field, message in cases:
            response = await factories.post_form(http, f"/besparingen/{cid}/categoriedoelen", form)
            assert response.status_code == 422, form
            html = unescape(response.text)
            assert message in html, form
            assert f'aria-describedby="{field}-fout"' in html
            assert f'placeholder="50.000,00" value="{form["doel"]}"' in html
            assert f'id="cat-jaar" name="jaar" inputmode="numeric" size="6" value="{form["jaar"]}"' in html
    assert await SavingsTarget.count().where(SavingsTarget.product_category.is_not_null()) == 0


async def test_without_a_general_target_the_year_is_the_sum_of_its_categories(db):
    from tests.savings.test_service import world

    w = await world()
    await SavingsTarget.delete().where(SavingsTarget.contract == w.contract.id)
    for category, cents in ((ProductCategory.GUIDANCE, 3_000_000), (ProductCategory.DAY_ACTIVITIES, 2_000_000)):
        await service.set_category_target(w.manager, w.contract.id,
                                          CategoryTargetInput(2026, "contract", category, cents))
    overview = await service.savings_overview(w.manager, w.contract.id, today=date(2026, 11, 25))
    [group] = overview["category_targets"]
    assert group["general_cents"] is None and group["counts_cents"] == 5_000_000
    assert next(y for y in overview["years"] if y["year"] == 2026)["targets"]["contract"] == 5_000_000
