"""The scan skips, per rule and contract, what it already ran on today with the same inputs; whatever
changes (a recorded step, a new case, a norm, a report, money, a new day, signals removed) brings the contract
back in view,
and the signals always end as a full scan would leave them."""

import asyncio
import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from portal.accounts.rules import Role
from portal.cases import service as cases
from portal.cases.rules import CaseState, TransitionInput, allowed_actions
from portal.cases.schemas import CaseCommand
from portal.cases.tables import Case
from portal.contracts.tables import StatusNorm
from portal.db import write_transaction
from portal.reports.tables import Report, ReportTemplate
from portal.savings.tables import SavingsActual
from portal.signals import scan_inputs, service
from portal.signals.tables import ScanState, Signal
from tests import factories
from tests.signals import test_service
from tests.signals.test_service import act, at, new_case, scan_world, signals

world = test_service.world  # the same fixture: one municipality, its main contractor and two subcontractors

RULES = [rule.value for rule in scan_inputs.SOURCES]


async def second_contract(world) -> dict:
    """Another municipality's contract with one stalled case (the main contractor's ball, far over the norm)."""
    today = service.today_nl()
    municipality = await factories.organisation("municipality", "Gemeente Tweede")
    contract = await factories.contract(municipality, world["main"], case_prefix="TWD")
    stalled = await factories.case(contract, status="allocation_requested", status_since=at(today - timedelta(days=25)),
                                   melding_date=today - timedelta(days=30))
    return {"contract": contract, "stalled": stalled}


async def snapshot() -> list[tuple]:
    """The signals of the scan's rules (the event-driven ones are written by the case steps themselves)."""
    rows = await Signal.select(Signal.dedup_key, Signal.status, Signal.severity, Signal.escalation_level,
                               Signal.title, Signal.detail, Signal.owner_organisation).where(
        Signal.rule.is_in(list(service.rules.SCAN_RULES))).order_by(Signal.dedup_key)
    return [tuple(row.values()) for row in rows]


async def assert_as_a_full_scan_leaves_them() -> None:
    """A full scan on the same data changes nothing, and the active signals are those a scan from nothing
    drafts (signals closed along the way exist only in the first)."""
    full = await service.run_scan(full=True)
    assert all((full.rules[rule].created, full.rules[rule].updated, full.rules[rule].closed) == (0, 0, 0)
               for rule in full.rules), full.as_dict()
    active = [row for row in await snapshot() if row[1] != "closed"]
    await Signal.delete().where(Signal.rule.is_in(list(service.rules.SCAN_RULES)))
    await ScanState.delete(force=True)
    await service.run_scan()
    assert await snapshot() == active


async def test_an_idle_rerun_the_same_day_skips_every_contract_and_changes_nothing(world):
    await scan_world(world)
    await second_contract(world)
    first = await service.run_scan()
    assert all(first.rules[rule].skipped == 0 for rule in RULES)
    assert first.rules["stalled"].created == 2  # one per contract
    before = await snapshot()
    second = await service.run_scan()
    for rule in RULES:
        assert second.rules[rule].skipped == 2 and second.rules[rule].candidates == 0
        assert second.rules[rule].created == second.rules[rule].updated == second.rules[rule].closed == 0
    assert await snapshot() == before
    assert await ScanState.count() == len(RULES) * 2


async def test_a_step_through_the_case_service_brings_only_its_contract_back_in_view(world):
    prepared = await scan_world(world)
    other = await second_contract(world)
    await service.run_scan()
    [stalled] = await signals(rule="stalled", contract=world["contract"].id)
    # the coordinator withdraws the stalled case of the first contract: a recorded step, a new case version
    await act(world, "coordinator", {"id": prepared["stalled"].id}, "withdraw", prepared["stalled"].version,
              note="Inwoner belde af", reason_code="L2", objection_info_given=True)
    rerun = await service.run_scan()
    assert rerun.rules["stalled"].skipped == 1  # the second contract's inputs are the same
    assert rerun.rules["stalled"].closed == 1
    assert (await Signal.select(Signal.status).where(Signal.id == stalled["id"]).first())["status"] == "closed"
    [still] = await signals(rule="stalled", contract=other["contract"].id)
    assert still["status"] == "open"
    await assert_as_a_full_scan_leaves_them()


async def test_a_new_case_a_norm_or_a_new_day_is_a_change(world):
    prepared = await scan_world(world)
    other = await second_contract(world)
    today = service.today_nl()
    await service.run_scan(today)

    # a melding registered through the case service: the first contract has one case more
    await cases.register_case(world["coordinator"], new_case(world))
    assert (await service.run_scan(today)).rules["stalled"].skipped == 1

    # the second contract's norm for waiting on an allocation goes up to 40 working days: no longer stalled
    await StatusNorm(contract=other["contract"].id, status="allocation_requested", max_working_days=40).save()
    rerun = await service.run_scan(today)
    assert rerun.rules["stalled"].skipped == 1 and rerun.rules["stalled"].closed == 1
    assert [row["status"] for row in await signals(rule="stalled", contract=other["contract"].id)] == ["closed"]

    # the next day every contract is looked at again (lateness grows with the day)
    tomorrow = await service.run_scan(today + timedelta(days=1))
    assert all(tomorrow.rules[rule].skipped == 0 for rule in RULES)
    assert (await service.run_scan(today + timedelta(days=1))).rules["stalled"].skipped == 2
    assert prepared["stalled"].id in {row["case"] for row in await signals(rule="stalled", status="open")}


async def test_signals_removed_behind_the_scans_back_are_drafted_again(world):
    await scan_world(world)
    await second_contract(world)
    await service.run_scan()
    before = await snapshot()
    await Signal.delete().where(Signal.rule == "stalled", Signal.contract == world["contract"].id)
    rerun = await service.run_scan()
    assert rerun.rules["stalled"].skipped == 1 and rerun.rules["stalled"].created == 1
    assert rerun.rules["legal_term_exceeded"].skipped == 2  # its signals were all still there
    assert await snapshot() == before


async def test_full_runs_every_rule_on_every_contract(world):
    await scan_world(world)
    await second_contract(world)
    await service.run_scan()
    full = await service.run_scan(full=True)
    assert all(full.rules[rule].skipped == 0 for rule in RULES)
    assert full.rules["stalled"].candidates == 2 and full.rules["stalled"].signals == 2


async def test_incremental_scans_after_a_day_of_steps_end_where_a_full_scan_ends(world):
    """Steps through the case service between scans, in both contracts: after each incremental scan the
    signals are exactly what a scan from nothing gives on the same data."""
    prepared = await scan_world(world)
    other = await second_contract(world)
    await service.run_scan()
    late = await Case.select(Case.version).where(Case.id == prepared["late"].id).first()
    # the late assessment ends in a rejection (its clock stops, late); a new melding; the other contract's
    # stalled case is withdrawn by its coordinator
    await act(world, "coordinator", {"id": prepared["late"].id}, "reject", late["version"], reason_code="L1",
              beschikking_issued=True, objection_info_given=True, referred_to="Wijkteam")
    assert (await service.run_scan()).rules["stalled"].skipped == 1
    await assert_as_a_full_scan_leaves_them()
    await cases.register_case(world["coordinator"], new_case(world))
    await act(world, "coordinator", {"id": other["stalled"].id}, "withdraw", other["stalled"].version,
              note="Inwoner belde af", reason_code="L2", objection_info_given=True)
    rerun = await service.run_scan()
    assert rerun.rules["stalled"].skipped == 0 and rerun.rules["stalled"].closed == 1
    await assert_as_a_full_scan_leaves_them()


async def test_a_report_submitted_or_new_figures_bring_the_contract_back_for_their_rule(world):
    prepared = await scan_world(world)
    await second_contract(world)
    await service.run_scan()
    overdue = {row["organisation"] for row in await Signal.select(Signal.owner_organisation.as_alias("organisation"))
               .where(Signal.rule == "report_overdue", Signal.status == "open")}
    assert world["org_b"].id in overdue
    # subcontractor B submits its report after all; the other rules' inputs did not change
    template = await ReportTemplate.select(ReportTemplate.id).where(
        ReportTemplate.contract == world["contract"].id).first()
    await Report(period=prepared["period"].id, contract=world["contract"].id, template=template["id"],
                 organisation=world["org_b"].id, kind="subcontractor", status="submitted",
                 submitted_at=at(service.today_nl())).save()
    rerun = await service.run_scan()
    assert rerun.rules["report_overdue"].skipped == 1 and rerun.rules["report_overdue"].closed == 1
    assert all(rerun.rules[rule].skipped == 2 for rule in RULES if rule != "report_overdue")
    # the savings of the first quarter turn out higher (a correction of the figure): the savings rule looks again
    await SavingsActual.update({SavingsActual.spend_cents: 9_000_000}).where(
        SavingsActual.contract == world["contract"].id)
    rerun = await service.run_scan()
    assert rerun.rules["savings_behind"].skipped == 1 and rerun.rules["report_overdue"].skipped == 2
    await assert_as_a_full_scan_leaves_them()


async def _scan_command(*options: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portal.cli", "signals", "scan", *options, cwd=str(Path(__file__).parents[2]),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, out.decode() + err.decode()
    return out.decode()


async def test_the_scan_command_skips_what_is_unchanged_unless_told_full(world):
    await scan_world(world)
    await second_contract(world)
    await service.run_scan()
    skipping = await _scan_command()
    assert skipping.count("2 contracten ongewijzigd overgeslagen") == len(RULES)
    full = await _scan_command("--full")
    assert full.count("0 contracten ongewijzigd overgeslagen") == len(RULES)
    assert "stalled: 2 signalen opgesteld (0 nieuw, 0 bijgewerkt), 0 gesloten" in full
    assert "stalled: 0 signalen opgesteld (0 nieuw, 0 bijgewerkt), 0 gesloten" in skipping


class _Undo(Exception):
    pass


async def full_scan_rolled_back() -> list[tuple]:
    """The signals a full scan would leave now, in a transaction that is then rolled back (the scan's own
    transactions join it)."""
    try:
        async with write_transaction():
            await service.run_scan(full=True)
            result = await snapshot()
            raise _Undo
    except _Undo:
        return result


PAYLOAD = {"subcontractor_id": None, "reason_code": "L3", "end_reason": "19", "beschikking_issued": True,
           "objection_info_given": True, "referred_to": "Wijkteam", "note": "Afgestemd met de inwoner"}


@pytest.mark.parametrize("seed", [7, 2026])
async def test_random_steps_between_incremental_scans_end_where_full_scans_end(world, seed):
    """Random lifecycle steps through the case service (by the coordinator and the assigned subcontractors),
    on old cases of both contracts, with scans in between: every scan that skips leaves the signals exactly as
    a full scan from the same state leaves them (that one is run first and rolled back)."""
    randomness = random.Random(seed)
    today = service.today_nl()
    other = await second_contract(world)
    await factories.subcontract(other["contract"], world["org_a"])
    subcontractors = {world["org_a"].id: world["sub_a"], world["org_b"].id: world["sub_b"]}
    case_ids = []
    for contract in (world["contract"], other["contract"]):
        for status in ("registered", "assessment", "assessment", "waiting_list", "registered"):
            days = randomness.randint(10, 80)
            case = await factories.case(contract, status=status, melding_date=today - timedelta(days=days),
                                        status_since=at(today - timedelta(days=randomness.randint(0, days))))
            await factories.event(case, "registered", action="register", occurred_at=at(today - timedelta(days=days)))
            case_ids.append(case.id)
    await service.run_scan()
    changed_rounds = 0
    for _ in range(4):
        for case_id in randomness.sample(case_ids, 4):
            row = await Case.select().where(Case.id == case_id).first()
            state = CaseState(row["status"], row["subcontractor"], row["status_before_hold"])
            choices = [(world["coordinator"], action) for action in allowed_actions(
                state, Role.COORDINATOR, world["main"].id)]
            if row["subcontractor"] in subcontractors:
                actor = subcontractors[row["subcontractor"]]
                choices += [(actor, action) for action in allowed_actions(
                    state, Role.SUBCONTRACTOR, row["subcontractor"])]
            if not choices:
                continue
            actor, action = randomness.choice(choices)
            payload = PAYLOAD | {"subcontractor_id": randomness.choice(list(subcontractors))}
            await cases.act_on_case(actor, case_id, CaseCommand(action.value, row["version"],
                                                                TransitionInput(**payload)))
        before = await snapshot()
        full = await full_scan_rolled_back()
        assert await snapshot() == before  # rolled back
        changed_rounds += full != before
        await service.run_scan()
        assert await snapshot() == full
        assert (await service.run_scan(full=True)).created == 0
    assert changed_rounds >= 2  # the steps did change signals
