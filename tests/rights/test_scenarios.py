"""Acceptance: the "Rechten" page over the seed scenarios (DESIGN appendix B) agrees with the event log. Stichtse
Vecht's 340 talks (12% stopped) are checked in tests/demo/test_scenarios.py, on the load that test already makes."""

from collections import Counter
from datetime import date

from portal.accounts.rules import Actor, OrganisationKind, Role
from portal.accounts.tables import User
from portal.cases.tables import CaseEvent
from portal.contracts.tables import Contract
from portal.demo.generator import load_demo
from portal.lib.formatting import AMSTERDAM
from portal.rights import rules, service

TODAY = date(2026, 11, 25)


async def _manager(domain: str) -> Actor:
    user = await User.select().where(User.email == f"contractmanager@{domain}.demo").first()
    return Actor(user_id=user["id"], organisation_id=user["organisation"],
                 organisation_kind=OrganisationKind.MUNICIPALITY, role=Role.CONTRACT_MANAGER,
                 display_name=user["display_name"], email=user["email"])


async def test_haarlem_turn_aways_objections_and_terms_agree_with_the_event_log(db):
    await load_demo("haarlem", cases=800, seed=2026, today=TODAY)
    contract = await Contract.select().first()
    page = await service.rights_overview(await _manager("haarlem"), contract["id"], today=TODAY)
    turn_aways = await CaseEvent.select().where(CaseEvent.action.is_in(list(rules.TURN_AWAY_ACTIONS)))
    without = [event for event in turn_aways if not event["beschikking_issued"]]
    assert page["turn_aways"]["total"] == len(turn_aways) > 100
    assert page["turn_aways"]["without_beschikking"] == len(without)
    assert page["turn_aways"]["incomplete"] == 0  # the demo records every path in full
    per_path = Counter(event["action"] for event in turn_aways)
    assert {path["code"]: path["total"] for path in page["paths"]} == dict(per_path)
    rejected_without = sum(1 for event in without if event["action"] == "reject")
    assert 0 < rejected_without < per_path["reject"]  # some rejections without a beschikking, most with one

    filed = await CaseEvent.select().where(CaseEvent.action == "objection_filed")
    decided = await CaseEvent.select().where(CaseEvent.action == "objection_decided")
    objections = page["objections"]
    assert objections["total"] == len(filed) > 0
    assert sum(row["count"] for row in objections["by_outcome"] if row["code"] != rules.PENDING) == len(decided)
    assert objections["late"] == sum(1 for event in filed
                                     if event["occurred_at"].astimezone(AMSTERDAM).date() > event["due_date"])
    # every objection is against a rejection with a beschikking
    with_beschikking = {event["case"] for event in turn_aways if event["action"] == "reject"
                        and event["beschikking_issued"]}
    assert {event["case"] for event in filed} <= with_beschikking

    # running objection terms, recomputed from every rejection with a beschikking
    expected = set()
    for event in turn_aways:
        if event["action"] == "reject" and event["beschikking_issued"]:
            decided_on = event["occurred_at"].astimezone(AMSTERDAM).date()
            if rules.objection_deadline(decided_on) >= TODAY:
                expected.add(event["case"])
    assert {term["case"] for term in page["terms"]} == expected and expected
    assert all(0 <= term["days_left"] <= 45 for term in page["terms"])
