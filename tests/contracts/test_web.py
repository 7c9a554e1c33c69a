"""The contract manager sets the norms per status that the stalled scan uses."""

from portal.accounts.tables import AuditEntry
from portal.contracts.tables import StatusNorm
from tests import factories


async def _world():
    municipality = await factories.organisation("municipality", "Gemeente Normdam")
    main = await factories.organisation("main_contractor")
    contract = await factories.contract(municipality, main, name="Contract Normdam")
    manager = await factories.user(municipality, "contract_manager")
    return contract, manager, main


async def test_norms_are_saved_only_where_they_differ_from_the_default_and_audited(app, db):
    contract, manager, _ = await _world()
    async with factories.logged_in(app, manager) as http:
        page = await http.get(f"/beheer/normen/{contract.id}", headers={"accept": "text/html"})
        assert "Contract Normdam" in page.text and 'name="norm-assessment" value="30"' in page.text
        saved = await factories.post_form(http, f"/beheer/normen/{contract.id}",
                                          {"norm-assessment": "20", "norm-waiting_list": "40", "norm-registered": ""})
        assert saved.status_code == 303
        again = await http.get(f"/beheer/normen/{contract.id}", headers={"accept": "text/html"})
        assert 'name="norm-assessment" value="20"' in again.text
    rows = await StatusNorm.select(StatusNorm.status, StatusNorm.max_working_days)
    assert rows == [{"status": "assessment", "max_working_days": 20}]  # 40 is the default for the waiting list
    entry = await AuditEntry.select().where(AuditEntry.object_type == "contract_norms").first()
    assert entry["action"] == "change" and '"assessment": 20' in entry["new_values"]


async def test_a_bad_norm_keeps_what_was_typed_and_saves_nothing(app, db):
    contract, manager, _ = await _world()
    async with factories.logged_in(app, manager) as http:
        for typed, message in (("vijf", "heel aantal werkdagen"), ("0", "van 1 tot en met 1000"),
                               ("5000", "van 1 tot en met 1000")):
            response = await factories.post_form(http, f"/beheer/normen/{contract.id}",
                                                 {"norm-assessment": typed, "norm-accepted": "12"})
            assert response.status_code == 422 and message in response.text
            assert f'value="{typed}"' in response.text and 'value="12"' in response.text
            assert 'href="#norm-assessment"' in response.text
    assert await StatusNorm.count() == 0


async def test_only_the_contracts_own_manager_sets_its_norms(app, db):
    contract, manager, main = await _world()
    other = await factories.user(await factories.organisation("municipality"), "contract_manager")
    coordinator = await factories.user(main, "coordinator")
    async with factories.logged_in(app, other) as http:
        assert (await factories.post_form(http, f"/beheer/normen/{contract.id}", {"norm-assessment": "9"})
                ).status_code == 404
    async with factories.logged_in(app, coordinator) as http:
        assert (await http.get(f"/beheer/normen/{contract.id}", headers={"accept": "text/html"})).status_code == 403
    assert await StatusNorm.count() == 0
