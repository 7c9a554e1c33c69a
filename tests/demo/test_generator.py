"""The demo generator: realistic, consistent with the lifecycle, reproducible, BSN-free, loaded once."""

import random
import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from portal.accounts.tables import Organisation, User
from portal.cases.rules import CaseStatus
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, ContractYear, Subcontract
from portal.demo.generator import NON_STATUS_ACTIONS, CaseSimulator, load_demo, random_bsn
from portal.demo.scenarios import SCENARIOS
from portal.lib.pseudonym import validate_bsn
from portal.savings.tables import SavingsActual, SavingsTarget

TODAY = date(2026, 11, 25)


async def test_haarlem_scenario_has_the_agreed_shape(db):
    summary = await load_demo("haarlem", cases=400, seed=7, today=TODAY)
    assert summary.loaded and summary.cases == 400
    assert await Contract.count() == 1
    contract = await Contract.select().first()
    assert (contract["start_date"], contract["end_date"]) == (date(2025, 1, 1), date(2032, 12, 31))
    assert await Organisation.count().where(Organisation.kind == "subcontractor") == 50
    assert await Subcontract.count() == 50
    assert await ContractYear.count() == 8
    targets = await SavingsTarget.select(SavingsTarget.amount_cents)
    assert sum(row["amount_cents"] for row in targets) == 190_000_000  # EUR 1,9 mln over eight years
    assert await SavingsActual.count().where(SavingsActual.corrects.is_not_null()) == 1
    roles = Counter(row["role"] for row in await User.select(User.role))
    assert roles["subcontractor"] == 50 and roles["coordinator"] >= 1 and roles["contract_manager"] >= 1
    assert summary.events == await CaseEvent.count()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_every_history_replays_to_the_case_row(db, scenario):
    # Stichtse Vecht needs enough long-running care for its re-assessment talks (and non-status events)
    await load_demo(scenario, cases=1500 if scenario == "stichtse-vecht" else 300, seed=11, today=TODAY)
    cases = {row["id"]: row for row in await Case.select()}
    events = defaultdict(list)
    for event in await CaseEvent.select().order_by(CaseEvent.id):
        events[event["case"]].append(event)
    assert set(events) == set(cases)
    for case_id, case in cases.items():
        history = events[case_id]
        assert history[0]["action"] == "register" and history[0]["from_status"] is None
        for before, after in zip(history, history[1:], strict=False):
            assert after["from_status"] == before["to_status"]  # no gap, no lost event
            assert after["occurred_at"] >= before["occurred_at"]
        assert history[-1]["to_status"] == case["status"]
        assert case["version"] == len(history)
        # the status started with the last lifecycle step; a later talk or objection keeps the status
        steps = [event for event in history if event["action"] not in NON_STATUS_ACTIONS]
        assert case["status_since"] == steps[-1]["occurred_at"]


async def test_the_demo_holds_the_patterns_the_signals_look_for(db):
    await load_demo("haarlem", cases=1500, seed=2026, today=TODAY)
    statuses = Counter(row["status"] for row in await Case.select(Case.status))
    assert statuses["closed"] > statuses["in_care"] > 0
    assert statuses["assessment"] > 0 and statuses["allocation_requested"] + statuses["waiting_list"] > 0
    rejections = await CaseEvent.select(CaseEvent.beschikking_issued).where(CaseEvent.action == "reject")
    assert any(row["beschikking_issued"] is False for row in rejections)  # turned away without a decision
    declines = Counter(row["case"] for row in await CaseEvent.select(CaseEvent.case)
                       .where(CaseEvent.action == "decline"))
    assert any(count >= 2 for count in declines.values())  # bounced cases
    pseudonyms = Counter(row["pseudonym"] for row in await Case.select(Case.pseudonym))
    assert any(count >= 2 for count in pseudonyms.values())  # re-reports
    stalled = await Case.count().where((Case.status == "assessment") & (Case.melding_date < date(2026, 9, 1)))
    assert stalled > 0


async def test_no_bsn_is_stored_only_pseudonyms(db):
    await load_demo("haarlem", cases=200, seed=3, today=TODAY)
    for row in await Case.select(Case.pseudonym, Case.case_number):
        assert re.fullmatch(r"[0-9a-f]{64}", row["pseudonym"])
        assert not re.search(r"\b\d{9}\b", row["case_number"])


async def test_loading_twice_keeps_one_data_set_and_reset_starts_over(db):
    first = await load_demo("haarlem", cases=100, seed=5, today=TODAY)
    again = await load_demo("haarlem", cases=100, seed=5, today=TODAY)
    assert not again.loaded and again.cases == first.cases == await Case.count()
    reset = await load_demo("haarlem", cases=120, seed=5, today=TODAY, reset=True)
    assert reset.loaded and await Case.count() == 120 and await Contract.count() == 1


def test_the_same_seed_gives_the_same_histories():
    def run(seed):
        simulator = CaseSimulator(random.Random(seed), TODAY, 1, {"02": [10, 11, 12]}, {10: 0.5, 11: 0.1, 12: 0.1})
        return [simulator.simulate(date(2026, 1, 5), "02").events for _ in range(20)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_random_bsns_pass_the_eleven_proof():
    rng = random.Random(1)
    for _ in range(500):
        assert validate_bsn(random_bsn(rng))


def test_simulated_cases_stop_at_today():
    simulator = CaseSimulator(random.Random(4), date(2026, 2, 1), 1, {"02": [10]}, {10: 0.0})
    for _ in range(50):
        case = simulator.simulate(date(2026, 1, 20), "02")
        assert all(event.on <= date(2026, 2, 1) for event in case.events)
        assert case.state.status is not CaseStatus.CLOSED or case.events[-1].on <= date(2026, 2, 1)
