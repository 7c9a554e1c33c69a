"""Acceptance of the five seed scenarios (DESIGN appendix B): each loads and shows its defining figures."""

from collections import Counter, defaultdict
from datetime import date
from statistics import mean

import pytest

from portal.accounts.rules import Actor, OrganisationKind, Role
from portal.accounts.tables import Organisation, User
from portal.cases.rules import TransitionInput
from portal.cases.schemas import CaseCommand
from portal.cases.service import act_on_case
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, ContractYear, Subcontract
from portal.demo.generator import load_demo
from portal.demo.scenarios import SCENARIOS
from portal.rights.service import reassessment_figures, rights_overview
from portal.savings.service import contract_positions, leading_indicators
from portal.savings.tables import Investment, SavingsTarget

TODAY = date(2026, 11, 25)


async def _contract() -> dict:
    assert await Contract.count() == 1
    return await Contract.select().first()


async def _org_names(kind: str) -> list[str]:
    return [row["name"] for row in await Organisation.select(Organisation.name).where(Organisation.kind == kind)]


def _years(contract: dict) -> int:
    return contract["end_date"].year - contract["start_date"].year + 1


async def _waits(category: str) -> tuple[set[int], list[int]]:
    """The cases of a category that went through the waiting list, and the days each finished wait took."""
    cases = {row["id"] for row in await Case.select(Case.id).where(Case.product_category == category)}
    events = defaultdict(list)
    for event in await CaseEvent.select(CaseEvent.case, CaseEvent.action, CaseEvent.occurred_at).where(
            CaseEvent.case.is_in(list(cases))).order_by(CaseEvent.id):
        events[event["case"]].append(event)
    waited, days = set(), []
    for case_id, history in events.items():
        for event, following in zip(history, history[1:], strict=False):
            if event["action"] == "place_on_waiting_list":
                waited.add(case_id)
                days.append((following["occurred_at"] - event["occurred_at"]).days)
    return waited, days


async def test_haarlem_one_main_contractor_fifty_subcontractors_and_on_track(db):
    await load_demo("haarlem", cases=300, seed=2026, today=TODAY)
    contract = await _contract()
    assert await _org_names("main_contractor") == ["Coöperatie Buurts"]
    assert await Subcontract.count() == 50
    assert contract["covers_wmo"] and contract["covers_jeugd"] and _years(contract) == 8
    targets = await SavingsTarget.select(SavingsTarget.amount_cents)
    assert sum(row["amount_cents"] for row in targets) == 190_000_000  # EUR 1,9 mln
    years = await ContractYear.select()
    assert len(years) == 8 and all(row["indexation_cents"] > 0 for row in years)  # paid apart by the municipality
    positions = await contract_positions(today=TODAY)
    assert positions and all(p["verdict"] == "op_koers" for p in positions)


async def test_hengelo_consortium_of_seven_and_its_two_target_levels(db):
    await load_demo("hengelo", cases=300, seed=2026, today=TODAY)
    await _contract()
    assert await _org_names("main_contractor") == ["Wijkracht Hengelo (consortium van 7)"]
    assert await Subcontract.count() == 14
    invested = await Investment.select(Investment.amount_cents)
    assert sum(row["amount_cents"] for row in invested) == 170_000_000  # EUR 1,7 mln
    totals = Counter()
    for row in await SavingsTarget.select(SavingsTarget.level, SavingsTarget.amount_cents):
        totals[row["level"]] += row["amount_cents"]
    assert totals == {"tender": 370_000_000, "transformation": 690_000_000}


async def test_alphen_seven_million_a_year_from_2015_and_a_waiting_time_for_day_activities(db):
    summary = await load_demo("alphen", cases=600, seed=2026, today=TODAY)
    contract = await _contract()
    assert contract["start_date"] == date(2015, 1, 1)
    assert await _org_names("main_contractor") == ["Tom in de buurt (consortium van 8 instellingen)"]
    assert 8 <= await Subcontract.count() <= 12
    years = await ContractYear.select().order_by(ContractYear.year)
    assert years[0]["year"] == 2015 and len(years) == _years(contract)
    assert {row["lump_sum_cents"] for row in years} == {700_000_000}  # EUR 7 mln a year
    assert min(row["melding_date"] for row in await Case.select(Case.melding_date)) >= date(2024, 1, 1)
    waited, days = await _waits("07")
    day_activity_cases = await Case.count().where(Case.product_category == "07")
    assert len(waited) > day_activity_cases / 3
    assert mean(days) > 30  # the day-activity waiting list is visible
    assert summary.cases == 600


async def test_zaltbommel_municipality_coordinates_fifty_two_local_providers(db):
    await load_demo("zaltbommel", cases=400, seed=2026, today=TODAY)
    contract = await _contract()
    assert contract["main_contractor"] is None and _years(contract) == 5
    assert await _org_names("main_contractor") == []
    assert await Subcontract.count() == 52
    municipality = await Organisation.select().where(Organisation.kind == "municipality").first()
    coordinators = await User.select().where(User.role == "coordinator")
    assert coordinators and all(user["organisation"] == municipality["id"] for user in coordinators)
    # 80% of the volume with the local providers
    spec = SCENARIOS["zaltbommel"]
    local_names = set(spec.subcontractor_names[: spec.local_providers])
    local = {row["id"] for row in await Organisation.select(Organisation.id).where(
        Organisation.name.is_in(list(local_names)))}
    allocations = [row["subcontractor"] for row in await CaseEvent.select(CaseEvent.subcontractor).where(
        CaseEvent.action == "request_allocation")]
    assert 0.75 <= sum(sub in local for sub in allocations) / len(allocations) <= 0.85
    # the municipality's coordinator can act on a case
    case = await Case.select().where(Case.status == "assessment").first()
    user = coordinators[0]
    actor = Actor(user_id=user["id"], organisation_id=municipality["id"],
                  organisation_kind=OrganisationKind.MUNICIPALITY, role=Role.COORDINATOR,
                  display_name=user["display_name"], email=user["email"])
    result = await act_on_case(actor, case["id"], CaseCommand(
        action="hold", expected_version=case["version"], payload=TransitionInput(note="Inwoner tijdelijk weg")))
    assert result["status"] == "on_hold" and result["version"] == case["version"] + 1


async def test_stichtse_vecht_340_reassessments_of_which_12_percent_stopped(db):
    summary = await load_demo("stichtse-vecht", cases=1500, seed=2026, today=TODAY)
    contract = await _contract()
    assert summary.reassessments == 340
    talks = await CaseEvent.select().where(CaseEvent.action == "reassessment")
    assert len(talks) == 340 == len({talk["case"] for talk in talks})
    assert all(talk["from_status"] == talk["to_status"] == "in_care" for talk in talks)
    stopped = await CaseEvent.select(CaseEvent.case).where(
        (CaseEvent.action == "end_care") & (CaseEvent.end_reason == "36"))
    assert len(stopped) == 41 and {row["case"] for row in stopped} <= {talk["case"] for talk in talks}
    continued = [talk for talk in talks if "voortgezet voor onbepaalde tijd" in talk["note"]]
    assert len(continued) == 340 - 41
    indicators = await leading_indicators(contract["id"])
    assert indicators["reassessment"]["reassessed"] == 340 and indicators["reassessment"]["stopped"] == 41
    assert round(indicators["reassessment"]["stopped_pct"]) == 12
    await _rights_page_shows_the_reassessments(contract["id"])
    # the central waiting list for household support: most granted 01 cases pass through it
    waited, _ = await _waits("01")
    allocated = {row["case"] for row in await CaseEvent.select(CaseEvent.case).where(
        CaseEvent.action == "request_allocation")}
    household = {row["id"] for row in await Case.select(Case.id).where(Case.product_category == "01")}
    assert len(waited) > 0.7 * len(allocated & household)


async def _rights_page_shows_the_reassessments(contract_id: int) -> None:
    """The "Rechten" page (portal/rights) agrees: 340 talks, 41 (12%) stopped, and overdue re-assessments
    straight from the case rows."""
    user = await User.select().where(User.email == "contractmanager@stichtsevecht.demo").first()
    manager = Actor(user_id=user["id"], organisation_id=user["organisation"],
                    organisation_kind=OrganisationKind.MUNICIPALITY, role=Role.CONTRACT_MANAGER,
                    display_name=user["display_name"], email=user["email"])
    page = await rights_overview(manager, contract_id, today=TODAY)
    figures = page["reassessment"]
    assert (figures["talks"], figures["stopped"], round(figures["stopped_pct"])) == (340, 41, 12)
    assert {row["code"]: row["count"] for row in figures["by_outcome"]} == {
        "voortgezet": 0, "voortgezet_onbepaalde_tijd": 299, "afgeschaald": 0, "gestopt": 41}
    running = await Case.select(Case.id, Case.reassessment_due).where(Case.status.is_in(["in_care", "on_hold"]))
    overdue = {row["id"] for row in running if row["reassessment_due"] and row["reassessment_due"] < TODAY}
    assert figures["overdue"] == len(overdue) > 0
    assert {row["id"] for row in page["overdue_reassessments"]} <= overdue
    continued = {row["case"] for row in await CaseEvent.select(CaseEvent.case).where(
        CaseEvent.action == "reassessment", CaseEvent.outcome == "voortgezet_onbepaalde_tijd")}
    assert all(row["reassessment_due"] is None for row in running if row["id"] in continued)
    assert await reassessment_figures(contract_id, today=TODAY) == figures  # what the dashboard calls


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_the_same_seed_gives_the_same_scenario(db, scenario):
    first = await load_demo(scenario, cases=150, seed=9, today=TODAY)
    numbers = [row["case_number"] for row in await Case.select(Case.case_number).order_by(Case.id)]
    again = await load_demo(scenario, cases=150, seed=9, today=TODAY, reset=True)
    assert (first.cases, first.events) == (again.cases, again.events)
    assert numbers == [row["case_number"] for row in await Case.select(Case.case_number).order_by(Case.id)]
