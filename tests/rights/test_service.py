"""Rights use cases against the database: objections and re-assessment talks as case events (locking, audit,
authorization), the re-assessment due date on the case, and the figures of the "Rechten" page."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from portal.accounts.tables import AuditEntry
from portal.cases import service as cases
from portal.cases.rules import NOWHERE, TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case, CaseEvent
from portal.lib.errors import Conflict, IllegalTransition, InvalidInput, NotFound, NotPermitted
from portal.lib.formatting import AMSTERDAM
from portal.rights import rules, service
from portal.rights.schemas import ObjectionDecided, ObjectionFiled, ReassessmentTalk, RightsFilter
from portal.savings.service import leading_indicators
from tests import factories

BSN = "111222333"
TODAY = cases.today_nl()


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Rechtdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Recht")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer A")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer B")
    contract = await factories.contract(municipality, main, case_prefix="RCH", start_date=date(2024, 1, 1))
    other = await factories.contract(await factories.organisation("municipality"),
                                     await factories.organisation("main_contractor"), start_date=date(2024, 1, 1))
    await factories.subcontract(contract, sub_a, product_categories="02,07")
    await factories.subcontract(contract, sub_b, product_categories="02")
    actor = factories.actor_for
    return {
        "contract": contract, "other_contract": other, "org_a": sub_a, "org_b": sub_b,
        "coordinator": actor(await factories.user(main, "coordinator"), main),
        "manager": actor(await factories.user(municipality, "contract_manager"), municipality),
        "sub_a": actor(await factories.user(sub_a, "subcontractor"), sub_a),
        "stranger": actor(await factories.user(await factories.organisation("main_contractor"), "coordinator"),
                          await factories.organisation("main_contractor")),
    }


async def step(world, case: dict, action: str, on: date | None = None, who: str = "coordinator", **payload) -> dict:
    result = await cases.act_on_case(world[who], case["id"], CaseCommand(
        action, case["version"], TransitionInput(**payload), occurred_on=on))
    return {**case, **result}


async def rejected(world, on: date, beschikking: bool = True, reason: str = "L1", informed: bool = True) -> dict:
    """A case registered a few days before ``on`` and rejected on ``on``."""
    case = await cases.register_case(world["coordinator"], NewCase(
        contract_id=world["contract"].id, bsn=BSN, neighbourhood="Centrum", domain="wmo", product_category="02",
        melding_date=on - timedelta(days=5)))
    case = await step(world, case, "start_assessment", on - timedelta(days=4))
    return await step(world, case, "reject", on, reason_code=reason, beschikking_issued=beschikking,
                      objection_info_given=informed, referred_to=NOWHERE)


async def in_care(world, started: date) -> dict:
    case = await cases.register_case(world["coordinator"], NewCase(
        contract_id=world["contract"].id, bsn=BSN, neighbourhood="Centrum", domain="wmo", product_category="02",
        melding_date=started - timedelta(days=20)))
    case = await step(world, case, "start_assessment", started - timedelta(days=19))
    case = await step(world, case, "request_allocation", started - timedelta(days=10),
                      subcontractor_id=world["org_a"].id)
    case = await step(world, case, "accept", started - timedelta(days=8), who="sub_a")
    return await step(world, case, "start_care", started, who="sub_a")


async def row(case: dict) -> dict:
    return await Case.select().where(Case.id == case["id"]).first()


# --- objections -------------------------------------------------------------------------------------------


async def test_an_objection_and_its_decision_are_two_events_with_locking_and_audit(world):
    case = await rejected(world, TODAY - timedelta(days=10))
    filed = await service.record_objection(world["coordinator"], case["id"], ObjectionFiled(
        case["version"], TODAY - timedelta(days=3), note="Bezwaarschrift via de gemeente"))
    assert filed["version"] == case["version"] + 1 == (await row(case))["version"]
    event = await CaseEvent.select().where(CaseEvent.id == filed["event_id"]).first()
    assert event["action"] == "objection_filed" and event["from_status"] == event["to_status"] == "rejected"
    assert event["due_date"] == rules.objection_deadline(TODAY - timedelta(days=10))
    assert event["occurred_at"].astimezone(AMSTERDAM).date() == TODAY - timedelta(days=3)
    assert (await row(case))["status"] == "rejected"  # a non-status event keeps the status and its start
    audit = await AuditEntry.select().where(AuditEntry.object_type == "case").order_by(AuditEntry.id,
                                                                                         ascending=False).first()
    assert (audit["action"], audit["object_id"]) == ("change", str(case["id"]))
    assert "objection_filed" in str(audit["new_values"])

    with pytest.raises(Conflict):  # the same page sent twice
        await service.record_objection(world["coordinator"], case["id"], ObjectionFiled(case["version"], TODAY))
    with pytest.raises(IllegalTransition, match="loopt al een bezwaar"):
        await service.record_objection(world["coordinator"], case["id"], ObjectionFiled(filed["version"], TODAY))
    decided = await service.record_objection_decision(world["coordinator"], case["id"], ObjectionDecided(
        filed["version"], "ongegrond", TODAY))
    assert decided["outcome"] == "ongegrond" and decided["version"] == filed["version"] + 1
    with pytest.raises(IllegalTransition, match="geen bezwaar"):
        await service.record_objection_decision(world["coordinator"], case["id"], ObjectionDecided(
            decided["version"], "gegrond", TODAY))
    assert await CaseEvent.count().where(CaseEvent.action.like("objection_%")) == 2


async def test_no_objection_without_a_beschikking_and_a_late_one_is_marked(world):
    without = await rejected(world, TODAY - timedelta(days=10), beschikking=False)
    with pytest.raises(IllegalTransition, match="alleen mogelijk tegen een beschikking"):
        await service.record_objection(world["coordinator"], without["id"], ObjectionFiled(without["version"], TODAY))
    late = await rejected(world, TODAY - timedelta(days=70))
    result = await service.record_objection(world["coordinator"], late["id"], ObjectionFiled(late["version"], TODAY))
    assert result["due_date"] < TODAY  # recorded, and shown as filed after the term
    with pytest.raises(InvalidInput) as raised:
        await service.record_objection(world["coordinator"], late["id"], ObjectionFiled(
            result["version"], TODAY, note="BSN 123456782"))
    assert raised.value.field == "note"
    assert await CaseEvent.count().where(CaseEvent.action == "objection_filed") == 1


async def test_only_the_coordinator_of_the_contract_records(world):
    case = await rejected(world, TODAY - timedelta(days=5))
    data = ObjectionFiled(case["version"], TODAY)
    for who, error in (("manager", NotPermitted), ("sub_a", NotPermitted), ("stranger", NotFound)):
        with pytest.raises(error):
            await service.record_objection(world[who], case["id"], data)
    with pytest.raises(NotFound):
        await service.record_objection(world["coordinator"], 999_999, data)
    assert await CaseEvent.count().where(CaseEvent.action == "objection_filed") == 0


# --- re-assessment ----------------------------------------------------------------------------------------


async def test_care_sets_the_first_reassessment_and_a_talk_the_next(world):
    case = await in_care(world, TODAY - timedelta(days=400))
    assert (await row(case))["reassessment_due"] == rules.add_months(TODAY - timedelta(days=400), 12)
    figures = await service.reassessment_figures(world["contract"].id, today=TODAY)
    assert (figures["overdue"], figures["talks"]) == (1, 0)

    talk = await service.record_reassessment(world["coordinator"], case["id"], ReassessmentTalk(
        case["version"], "afgeschaald", TODAY - timedelta(days=2)))
    assert (await row(case))["reassessment_due"] == rules.add_months(TODAY - timedelta(days=2), 12) == talk["due_date"]
    indefinitely = await service.record_reassessment(world["coordinator"], case["id"], ReassessmentTalk(
        talk["version"], "voortgezet_onbepaalde_tijd", TODAY))
    assert (await row(case))["reassessment_due"] is None and indefinitely["version"] == talk["version"] + 1
    figures = await service.reassessment_figures(world["contract"].id, today=TODAY)
    assert figures["talks"] == 2 and figures["overdue"] == 0 and figures["stopped"] == 0

    ended = await step(world, {**case, "version": indefinitely["version"]}, "end_care", who="sub_a", end_reason="36")
    assert (await row(ended))["reassessment_due"] is None
    with pytest.raises(IllegalTransition):
        await service.record_reassessment(world["coordinator"], case["id"], ReassessmentTalk(
            ended["version"], "gestopt", TODAY))


async def test_a_collective_provision_has_no_reassessment(world):
    # (an allocation makes a provision individual; a collective one in care comes from elsewhere, e.g. an import)
    case = await factories.case(world["contract"], status="in_care", provision_type="collective",
                                subcontractor=world["org_a"].id, version=1)
    with pytest.raises(IllegalTransition, match="algemene voorziening"):
        await service.record_reassessment(world["coordinator"], case.id, ReassessmentTalk(1, "voortgezet", TODAY))


async def test_the_savings_indicator_counts_stopped_talks_by_the_same_rule(world):
    stopped = await in_care(world, TODAY - timedelta(days=200))
    continued = await in_care(world, TODAY - timedelta(days=200))
    await service.record_reassessment(world["coordinator"], stopped["id"], ReassessmentTalk(
        stopped["version"], "gestopt", TODAY - timedelta(days=1)))
    await service.record_reassessment(world["coordinator"], continued["id"], ReassessmentTalk(
        continued["version"], "voortgezet", TODAY - timedelta(days=1), next_due=TODAY + timedelta(days=20)))
    # a talk from before outcomes were recorded, with the provision ended after it: stopped, as it always counted
    legacy = await factories.case(world["contract"], status="ended", provision_type="individual")
    await factories.event(legacy, "in_care", action="reassessment", from_status="in_care",
                          occurred_at=datetime(2026, 6, 1, tzinfo=UTC))
    await factories.event(legacy, "ended", action="end_care", from_status="in_care",
                          occurred_at=datetime(2026, 6, 20, tzinfo=UTC))
    figures = await service.reassessment_figures(world["contract"].id, today=TODAY)
    assert (figures["talks"], figures["stopped"], figures["due_soon"]) == (3, 2, 1)
    assert round(figures["stopped_pct"], 1) == 66.7
    assert (await leading_indicators(world["contract"].id))["reassessment"] == {
        "has_data": True, "reassessed": 3, "stopped": 2, "stopped_pct": figures["stopped_pct"]}
    only_b = await service.reassessment_figures(world["contract"].id, world["org_b"].id, today=TODAY)
    assert only_b["talks"] == 0


# --- the rights page --------------------------------------------------------------------------------------


async def test_the_rights_page_counts_turn_aways_by_path_reason_and_record(world):
    coordinator = world["coordinator"]
    await rejected(world, TODAY - timedelta(days=20), beschikking=True, reason="L1")
    await rejected(world, TODAY - timedelta(days=10), beschikking=False, reason="L1", informed=False)
    old = await rejected(world, TODAY - timedelta(days=100), beschikking=True, reason="4")
    await service.record_objection(coordinator, old["id"], ObjectionFiled(old["version"], TODAY - timedelta(days=40)))
    referred = await cases.register_case(coordinator, NewCase(world["contract"].id, BSN, "Oost", "wmo", "02"))
    referred = await step(world, referred, "start_assessment")
    await step(world, referred, "refer_collective", referred_to="Buurtkamer", objection_info_given=True)
    withdrawn = await cases.register_case(coordinator, NewCase(world["contract"].id, BSN, "Oost", "wmo", "02"))
    await step(world, withdrawn, "withdraw", reason_code="L5", objection_info_given=False)
    # an older withdrawal, recorded before the rule: counted as incomplete
    legacy = await factories.case(world["contract"], status="withdrawn")
    await factories.event(legacy, "withdrawn", action="withdraw", from_status="registered")
    # another contract's turn-away never shows
    elsewhere = await factories.case(world["other_contract"], status="rejected")
    await factories.event(elsewhere, "rejected", action="reject", reason_code="L1", beschikking_issued=False)

    page = await service.rights_overview(world["manager"], world["contract"].id, today=TODAY)
    # not informed: the rejection and the withdrawal that say so, and the old withdrawal that says nothing
    assert page["turn_aways"] == {"total": 6, "without_beschikking": 4, "without_share": 4 * 100 / 6,
                                  "not_informed": 3, "incomplete": 1}
    paths = {path["code"]: path for path in page["paths"]}
    assert [path["code"] for path in page["paths"]] == ["reject", "refer_collective", "withdraw"]
    reject = paths["reject"]
    assert (reject["total"], reject["without_beschikking"], reject["nowhere"]) == (3, 1, 3)
    assert [(r["code"], r["total"], r["with_beschikking"], r["not_informed"]) for r in reject["reasons"]] == [
        ("L1", 2, 1, 1), ("4", 1, 1, 0)]
    assert (paths["refer_collective"]["total"], paths["refer_collective"]["referred"]) == (1, 1)
    assert paths["withdraw"]["incomplete"] == 1 and paths["withdraw"]["without_beschikking"] == 2
    # the objection term of the rejection 20 days ago still runs; the one of 100 days ago does not
    assert [(t["days_left"], t["objection_filed"]) for t in page["terms"]] == [
        ((rules.objection_deadline(TODAY - timedelta(days=20)) - TODAY).days, False)]
    objections = page["objections"]
    assert (objections["total"], objections["late"]) == (1, 1)
    assert [o["case"] for o in objections["pending"]] == [old["id"]]
    assert page["per_subcontractor"][0]["name"].startswith("Hoofdaannemer") and page["view"] == "pseudonymised"

    # the period filter takes the turn-aways (and objections) of those days only
    recent = await service.rights_overview(world["coordinator"], world["contract"].id, RightsFilter(
        since=TODAY - timedelta(days=30)), today=TODAY)
    assert recent["turn_aways"]["total"] == 5 and recent["objections"]["total"] == 0
    around = await service.rights_overview(world["coordinator"], world["contract"].id, RightsFilter(
        since=TODAY - timedelta(days=45), until=TODAY - timedelta(days=35)), today=TODAY)
    assert around["turn_aways"]["total"] == 0 and around["objections"]["total"] == 1  # by the day it was filed
    with pytest.raises(InvalidInput):
        await service.rights_overview(world["coordinator"], world["contract"].id, RightsFilter(
            since=TODAY, until=TODAY - timedelta(days=1)), today=TODAY)


async def test_the_rights_page_per_subcontractor(world):
    case = await cases.register_case(world["coordinator"], NewCase(world["contract"].id, BSN, "Oost", "wmo", "02"))
    case = await step(world, case, "start_assessment")
    case = await step(world, case, "request_allocation", subcontractor_id=world["org_a"].id)
    await step(world, case, "withdraw", reason_code="L2", objection_info_given=True)
    await rejected(world, TODAY - timedelta(days=3))
    only_a = await service.rights_overview(world["coordinator"], world["contract"].id,
                                           RightsFilter(subcontractor_id=world["org_a"].id), today=TODAY)
    assert only_a["turn_aways"]["total"] == 1 and [p["code"] for p in only_a["paths"]] == ["withdraw"]
    assert only_a["selected_subcontractor"] == "Onderaannemer A" and only_a["terms"] == []
    assert {row["name"]: row["total"] for row in only_a["per_subcontractor"]} == {
        "Hoofdaannemer (nog geen onderaannemer)": 1, "Onderaannemer A": 1}
    with pytest.raises(InvalidInput):
        await service.rights_overview(world["coordinator"], world["contract"].id,
                                      RightsFilter(subcontractor_id=world["other_contract"].id), today=TODAY)


async def test_the_rights_page_is_for_the_contract_manager_and_the_coordinator(world):
    with pytest.raises(NotPermitted):
        await service.rights_overview(world["sub_a"], world["contract"].id)
    with pytest.raises(NotPermitted):
        await service.list_contracts(world["sub_a"])
    with pytest.raises(NotFound):
        await service.rights_overview(world["stranger"], world["contract"].id)
    with pytest.raises(NotFound):
        await service.rights_overview(world["manager"], world["other_contract"].id)
    assert [c["id"] for c in await service.list_contracts(world["manager"])] == [world["contract"].id]


def test_moments_of_past_days_are_at_noon():
    assert service._moment(TODAY - timedelta(days=1), TODAY) == datetime.combine(
        TODAY - timedelta(days=1), time(12), tzinfo=AMSTERDAM).astimezone(UTC)
