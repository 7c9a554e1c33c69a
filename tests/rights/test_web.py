"""The rights pages and the case page's rights forms over HTTP."""

from datetime import date, timedelta

import pytest

from portal.cases import service as cases
from portal.cases.rules import NOWHERE, TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case, CaseEvent
from portal.lib.formatting import format_date
from tests import factories

TODAY = cases.today_nl()


@pytest.fixture
async def world(db):
    w = await factories.world("Webrecht", name="Contract Recht", case_prefix="WR", start_date=date(2024, 1, 1))
    actor = w.actor(w.coordinator)
    case = await cases.register_case(actor, NewCase(w.contract.id, "111222333", "Oost", "wmo", "02",
                                                    melding_date=TODAY - timedelta(days=15)))
    for action, payload in (("start_assessment", {}), ("reject", {
            "reason_code": "L1", "beschikking_issued": True, "objection_info_given": True, "referred_to": NOWHERE})):
        case = {**case, **await cases.act_on_case(actor, case["id"], CaseCommand(
            action, case["version"], TransitionInput(**payload), occurred_on=TODAY - timedelta(days=10)))}
    return {"contract": w.contract, "case": case, "coordinator": w.coordinator, "manager": w.manager,
            "sub": w.sub_user}


async def test_the_rights_page_for_the_contract_manager(app, world):
    async with factories.logged_in(app, world["manager"]) as http:
        index = await http.get("/rechten", headers={"accept": "text/html"})
        assert index.status_code == 303 and index.headers["location"] == f"/rechten/{world['contract'].id}"
        page = await http.get(index.headers["location"], headers={"accept": "text/html"})
        assert page.status_code == 200
        text = page.text
        assert "Rechten: Contract Recht" in text and 'aria-current="page">Rechten' in text
        assert world["case"]["case_number"] in text  # its objection term still runs, linked to the case
        assert f'href="/casussen/{world["case"]["id"]}"' in text
        assert format_date(TODAY - timedelta(days=10)) in text
        bad = await http.get(f"/rechten/{world['contract'].id}?van=gisteren", headers={"accept": "text/html"})
        assert bad.status_code == 422 and "dd-mm-jjjj" in bad.text
        case_page = await http.get(f"/casussen/{world['case']['id']}", headers={"accept": "text/html"})
        assert "Rechtspositie" in case_page.text and "bezwaar kan tot en met" in case_page.text
        assert "Bezwaar vastleggen" not in case_page.text  # read-only


async def test_a_subcontractor_has_no_rights_page(app, world):
    async with factories.logged_in(app, world["sub"]) as http:
        assert (await http.get("/rechten", headers={"accept": "text/html"})).status_code == 403
        page = await http.get(f"/rechten/{world['contract'].id}", headers={"accept": "text/html"})
        assert page.status_code == 403 and "Rechten" not in page.text.split("<main", 1)[0].split("Hoofdnavigatie")[1]


async def test_the_coordinator_records_an_objection_and_its_decision_on_the_case_page(app, world):
    case_id = world["case"]["id"]
    async with factories.logged_in(app, world["coordinator"]) as http:
        page = await http.get(f"/casussen/{case_id}", headers={"accept": "text/html"})
        assert "Bezwaar vastleggen" in page.text and "Beslissing op bezwaar vastleggen" not in page.text
        version = factories.hidden_value(page.text, "version")
        wrong = await factories.post_form(http, f"/casussen/{case_id}/bezwaar", {"version": version,
                                                                                "filed_on": "31-02-2026"})
        assert wrong.status_code == 422 and 'href="#objection_filed-filed_on"' in wrong.text
        assert 'id="objection_filed-filed_on" name="filed_on" value="31-02-2026"' in wrong.text
        done = await factories.post_form(http, f"/casussen/{case_id}/bezwaar", {
            "version": version, "filed_on": format_date(TODAY - timedelta(days=2))})
        assert done.status_code == 303 and done.headers["location"] == (
            f"/casussen/{case_id}?gedaan=objection_filed#rechten")
        page = await http.get(done.headers["location"].split("#")[0], headers={"accept": "text/html"})
        assert "Gelukt: &#39;Bezwaar ingediend&#39; is vastgelegd." in page.text
        assert "Beslissing op bezwaar vastleggen" in page.text and "In behandeling" in page.text
        stale = await factories.post_form(http, f"/casussen/{case_id}/bezwaar/besluit", {
            "version": version, "outcome": "gegrond", "decided_on": format_date(TODAY)})
        assert stale.status_code == 409 and "gewijzigd door iemand anders" in stale.text
        decided = await factories.post_form(http, f"/casussen/{case_id}/bezwaar/besluit", {
            "version": factories.hidden_value(page.text, "version"), "outcome": "gegrond",
            "decided_on": format_date(TODAY)})
        assert decided.status_code == 303
        page = await http.get(f"/casussen/{case_id}", headers={"accept": "text/html"})
        assert "Uitkomst: Gegrond" in page.text and "Bezwaartermijn tot en met" in page.text
    assert [e["action"] for e in await CaseEvent.select(CaseEvent.action).where(
        CaseEvent.action.like("objection_%")).order_by(CaseEvent.id)] == ["objection_filed", "objection_decided"]


async def test_the_coordinator_records_a_reassessment_talk(app, world):
    case = await factories.case(world["contract"], status="in_care", provision_type="individual", version=4,
                                reassessment_due=TODAY - timedelta(days=5))
    await factories.event(case, "in_care", action="start_care", from_status="accepted")
    async with factories.logged_in(app, world["coordinator"]) as http:
        page = await http.get(f"/casussen/{case.id}", headers={"accept": "text/html"})
        assert "Herindicatiegesprek vastleggen" in page.text and "te laat" in page.text
        wrong = await factories.post_form(http, f"/casussen/{case.id}/herindicatie", {
            "version": "4", "outcome": "gestopt", "talk_on": format_date(TODAY),
            "next_due": format_date(TODAY + timedelta(days=90))})
        assert wrong.status_code == 422 and "hoort geen volgende herindicatiedatum" in wrong.text
        done = await factories.post_form(http, f"/casussen/{case.id}/herindicatie", {
            "version": "4", "outcome": "voortgezet", "talk_on": format_date(TODAY),
            "next_due": format_date(TODAY + timedelta(days=90))})
        assert done.status_code == 303
    row = await Case.select(Case.reassessment_due, Case.version, Case.status).where(Case.id == case.id).first()
    assert row == {"reassessment_due": TODAY + timedelta(days=90), "version": 5, "status": "in_care"}


async def test_the_withdraw_and_referral_forms_ask_what_the_rule_requires(app, world):
    async with factories.logged_in(app, world["coordinator"]) as http:
        created = await factories.post_form(http, "/casussen/nieuw", {
            "contract_id": str(world["contract"].id), "bsn": "123456782", "neighbourhood": "Oost", "domain": "wmo",
            "product_category": "02", "urgency": "normal", "provision_type": "individual", "melding_date": "",
            "aanvraag_date": "", "note": ""})
        case_id = int(created.headers["location"].split("/")[2].split("?")[0])
        page = await http.get(f"/casussen/{case_id}", headers={"accept": "text/html"})
        assert 'id="withdraw-reason_code"' in page.text and 'id="withdraw-objection_info_given"' in page.text
        missing = await factories.post_form(http, f"/casussen/{case_id}/acties/withdraw", {
            "version": "1", "reason_code": "L2"})
        assert missing.status_code == 422 and 'href="#withdraw-objection_info_given"' in missing.text
        done = await factories.post_form(http, f"/casussen/{case_id}/acties/withdraw", {
            "version": "1", "reason_code": "L2", "objection_info_given": "nee"})
        assert done.status_code == 303
