"""Case use cases against the database: register, act, optimistic locking, authorization per object."""

import asyncio
import re
from datetime import date

import pytest

from portal.accounts.tables import AuditEntry
from portal.cases import service
from portal.cases.rules import NOWHERE, TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case, CaseEvent
from portal.lib.errors import Conflict, IllegalTransition, InvalidInput, NotFound, NotPermitted
from tests import factories

VALID_BSN = "111222333"


actor_for = factories.actor_for


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Testdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Test")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer A")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer B")
    contract = await factories.contract(municipality, main, case_prefix="TST", start_date=date(2025, 1, 1))
    await factories.subcontract(contract, sub_a, product_categories="02,07")
    await factories.subcontract(contract, sub_b, product_categories="02")
    people = {
        "coordinator": actor_for(await factories.user(main, "coordinator"), main, "coordinator"),
        "sub_a": actor_for(await factories.user(sub_a, "subcontractor"), sub_a, "subcontractor"),
        "sub_b": actor_for(await factories.user(sub_b, "subcontractor"), sub_b, "subcontractor"),
        "manager": actor_for(await factories.user(municipality, "contract_manager"), municipality, "contract_manager"),
    }
    return {"contract": contract, "org_a": sub_a, "org_b": sub_b, **people}


def new_case(world, **overrides) -> NewCase:
    fields = {"contract_id": world["contract"].id, "bsn": VALID_BSN, "neighbourhood": "Centrum", "domain": "wmo",
              "product_category": "02", "melding_date": date(2026, 11, 2)} | overrides
    return NewCase(**fields)


async def act(world, who, case, action, version, **payload):
    return await service.act_on_case(world[who], case["id"], CaseCommand(action, version, TransitionInput(**payload)))


async def test_register_stores_a_pseudonym_never_the_bsn(world):
    created = await service.register_case(world["coordinator"], new_case(world))
    assert re.fullmatch(r"TST-2026-\d{6}", created["case_number"])
    row = await Case.select().where(Case.id == created["id"]).first()
    assert row["status"] == "registered" and row["version"] == 1
    assert re.fullmatch(r"[0-9a-f]{64}", row["pseudonym"]) and VALID_BSN not in row["pseudonym"]
    events = await CaseEvent.select().where(CaseEvent.case == created["id"])
    assert [(e["action"], e["to_status"]) for e in events] == [("register", "registered")]
    entries = await AuditEntry.select().where(AuditEntry.object_type == "case")
    assert entries[0]["action"] == "create" and VALID_BSN not in str(entries)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"bsn": "123456789"}, "bsn", "elfproef"),
    ({"product_category": "99"}, "product_category", "productcategorie"),
    ({"domain": "jeugd"}, "domain", "omvat geen Jeugd"),
    ({"melding_date": date(2024, 6, 1)}, "melding_date", "looptijd"),
    ({"neighbourhood": "  "}, "neighbourhood", "wijk"),
])
async def test_register_refuses_bad_input_with_a_specific_message(world, overrides, field, message):
    with pytest.raises(InvalidInput) as raised:
        await service.register_case(world["coordinator"], new_case(world, **overrides))
    assert raised.value.field == field and message.lower() in raised.value.message.lower()
    assert await Case.count() == 0


async def test_only_the_contracts_coordinator_registers(world):
    with pytest.raises(NotPermitted):
        await service.register_case(world["sub_a"], new_case(world))
    other_main = await factories.organisation("main_contractor")
    stranger = actor_for(await factories.user(other_main, "coordinator"), other_main, "coordinator")
    with pytest.raises(NotFound):
        await service.register_case(stranger, new_case(world))
    assert await Case.count() == 0


async def test_a_case_flows_from_melding_to_closed_with_every_step_in_the_log(world):
    case = await service.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    case = await act(world, "coordinator", case, "request_allocation", 2, subcontractor_id=world["org_a"].id)
    case = await act(world, "sub_a", case, "decline", 3, reason_code="L3")
    case = await act(world, "coordinator", case, "request_allocation", 4, subcontractor_id=world["org_b"].id)
    case = await act(world, "sub_b", case, "accept", 5)
    case = await act(world, "sub_b", case, "start_care", 6)
    case = await act(world, "sub_b", case, "end_care", 7, end_reason="19")
    case = await act(world, "coordinator", case, "close", 8)
    row = await Case.select().where(Case.id == case["id"]).first()
    assert (row["status"], row["version"], row["end_reason"], row["subcontractor"]) == ("closed", 9, "19",
                                                                                         world["org_b"].id)
    assert row["decision_date"] is not None
    events = await CaseEvent.select().where(CaseEvent.case == case["id"]).order_by(CaseEvent.id)
    assert [e["action"] for e in events] == ["register", "start_assessment", "request_allocation", "decline",
                                             "request_allocation", "accept", "start_care", "end_care", "close"]
    decline = events[3]
    assert (decline["subcontractor"], decline["reason_code"]) == (world["org_a"].id, "L3")
    # the subcontractor that declined keeps seeing the history it was part of, and nothing more
    seen = await service.get_case(world["sub_a"], case["id"])
    assert seen["case"]["case_number"] == case["case_number"]


async def test_reject_records_the_legal_position(world):
    case = await service.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    case = await act(world, "coordinator", case, "reject", 2, reason_code="L1", beschikking_issued=False,
                     objection_info_given=True, referred_to=NOWHERE)
    row = await Case.select().where(Case.id == case["id"]).first()
    assert row["status"] == "rejected" and row["beschikking_issued"] is False
    event = await CaseEvent.select().where(CaseEvent.action == "reject").first()
    assert (event["reason_code"], event["beschikking_issued"], event["objection_info_given"], event["referred_to"]) \
        == ("L1", False, True, "nergens")


async def test_a_stale_version_is_a_conflict_and_changes_nothing(world):
    case = await service.register_case(world["coordinator"], new_case(world))
    await act(world, "coordinator", case, "start_assessment", 1)
    with pytest.raises(Conflict) as raised:
        await act(world, "coordinator", case, "withdraw", 1)
    assert "gewijzigd door iemand anders" in raised.value.message
    assert (await Case.select(Case.status).where(Case.id == case["id"]).first())["status"] == "assessment"
    assert await CaseEvent.count() == 2


async def test_two_people_acting_at_once_one_wins_and_nothing_is_lost(world):
    case = await service.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    results = await asyncio.gather(
        act(world, "coordinator", case, "request_allocation", 2, subcontractor_id=world["org_a"].id),
        act(world, "coordinator", case, "withdraw", 2, note="Inwoner belde af", reason_code="L2",
            objection_info_given=True),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1 and isinstance(losers[0], Conflict)
    row = await Case.select().where(Case.id == case["id"]).first()
    assert row["version"] == 3 and row["status"] == winners[0]["status"]
    assert await CaseEvent.count().where(CaseEvent.case == case["id"]) == 3


async def test_allocation_only_to_a_subcontractor_that_delivers_the_category(world):
    case = await service.register_case(world["coordinator"], new_case(world, product_category="07"))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    with pytest.raises(InvalidInput, match="levert geen 'Dagbesteding'"):
        await act(world, "coordinator", case, "request_allocation", 2, subcontractor_id=world["org_b"].id)
    stranger = await factories.organisation("subcontractor")
    with pytest.raises(InvalidInput, match="niet binnen dit contract"):
        await act(world, "coordinator", case, "request_allocation", 2, subcontractor_id=stranger.id)
    assert (await Case.select(Case.version).where(Case.id == case["id"]).first())["version"] == 2


async def test_other_subcontractors_and_managers_cannot_act(world):
    case = await service.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    case = await act(world, "coordinator", case, "request_allocation", 2, subcontractor_id=world["org_a"].id)
    with pytest.raises(NotFound):  # sub_b may not know the case exists
        await act(world, "sub_b", case, "accept", 3)
    with pytest.raises(NotPermitted):  # the municipality reads, it does not act
        await act(world, "manager", case, "accept", 3)
    with pytest.raises(IllegalTransition):
        await act(world, "sub_a", case, "end_care", 3, end_reason="19")
    assert await CaseEvent.count().where(CaseEvent.case == case["id"]) == 3


async def test_back_dated_events_keep_the_timeline_in_order(world):
    case = await service.register_case(world["coordinator"], new_case(world, melding_date=date(2026, 10, 1)))
    command = CaseCommand("start_assessment", 1, occurred_on=date(2026, 9, 1))
    with pytest.raises(InvalidInput, match="vóór de vorige stap"):
        await service.act_on_case(world["coordinator"], case["id"], command)
    with pytest.raises(InvalidInput, match="toekomst"):
        await service.act_on_case(world["coordinator"], case["id"],
                                  CaseCommand("start_assessment", 1, occurred_on=date(2099, 1, 1)))
    done = await service.act_on_case(world["coordinator"], case["id"],
                                     CaseCommand("start_assessment", 1, occurred_on=date(2026, 10, 3)))
    assert done["version"] == 2


async def test_a_bsn_typed_into_a_note_is_refused_and_nothing_is_saved(world):
    with pytest.raises(InvalidInput) as raised:
        await service.register_case(world["coordinator"], new_case(world, note="Moeder van 123456782 belde"))
    assert raised.value.field == "note" and "BSN" in raised.value.message
    assert await Case.count() == 0
    case = await service.register_case(world["coordinator"], new_case(world))
    with pytest.raises(InvalidInput):
        await act(world, "coordinator", case, "withdraw", 1, note="bsn 1112.22.333 trekt zich terug",
                  reason_code="L2", objection_info_given=True)
    await act(world, "coordinator", case, "start_assessment", 1)
    with pytest.raises(InvalidInput) as raised:
        await act(world, "coordinator", case, "refer_collective", 2, referred_to="Buurthuis, BSN 123456782",
                  objection_info_given=True)
    assert raised.value.field == "referred_to"
    assert await CaseEvent.count().where(CaseEvent.note.like("%123456782%")) == 0
    assert await CaseEvent.count().where(CaseEvent.referred_to.like("%123456782%")) == 0
