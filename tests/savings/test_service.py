"""Savings use cases against the database: authorization per contract, one transaction, an audit entry per change."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from portal.accounts.rules import Actor, OrganisationKind, Role
from portal.accounts.tables import AuditEntry, Organisation, User
from portal.contracts.tables import Contract, ContractYear
from portal.demo.generator import load_demo
from portal.lib.errors import InvalidInput, NotFound, NotPermitted
from portal.savings import service
from portal.savings.rules import Source
from portal.savings.schemas import ActualInput, TermsInput, YearInput
from portal.savings.tables import SavingsActual, SavingsTarget
from tests import factories

TODAY = date(2026, 11, 25)


def actor(user: User, org: Organisation, role: str) -> Actor:
    kind = {"contract_manager": OrganisationKind.MUNICIPALITY, "coordinator": OrganisationKind.MAIN_CONTRACTOR,
            "subcontractor": OrganisationKind.SUBCONTRACTOR, "admin": OrganisationKind.PLATFORM}[role]
    return Actor(user.id, org.id, kind, Role(role), user.display_name, user.email)


@dataclass
class World:
    contract: Contract
    manager: Actor
    coordinator: Actor
    subcontractor: Actor
    stranger: Actor  # contract manager of another municipality


async def world() -> World:
    municipality = await factories.organisation("municipality", "Gemeente Noord")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Noord")
    sub = await factories.organisation("subcontractor", "Onderaannemer Noord")
    contract = await factories.contract(municipality, main, name="Samen Noord", missed_target_terms="Verbeterplan.")
    await factories.subcontract(contract, sub)
    await ContractYear(contract=contract.id, year=2026, baseline_cents=400_000_000, lump_sum_cents=390_000_000,
                       indexation_cents=12_000_000).save()
    await SavingsTarget(contract=contract.id, year=2026, amount_cents=10_000_000).save()
    other = await factories.organisation("municipality", "Gemeente Zuid")
    await factories.contract(other, name="Samen Zuid")
    people = [(municipality, "contract_manager"), (main, "coordinator"), (sub, "subcontractor"),
              (other, "contract_manager")]
    actors = [actor(await factories.user(org, role), org, role) for org, role in people]
    return World(contract, *actors)


def quarter(q: int, amount: int, source: Source = Source.LEDGER, corrects: int | None = None,
            note: str = "") -> ActualInput:
    starts = {1: (date(2026, 1, 1), date(2026, 3, 31)), 2: (date(2026, 4, 1), date(2026, 6, 30)),
              3: (date(2026, 7, 1), date(2026, 9, 30))}
    start, end = starts[q]
    return ActualInput(start, end, amount, source, note or ("Correctie" if corrects else ""), corrects)


async def test_actuals_and_a_correction_chain_the_latest_counts_and_every_change_is_audited(db):
    w = await world()
    first = await service.add_actual(w.coordinator, w.contract.id,
                                     quarter(1, 99_000_000, Source.CONTRACTOR_STATEMENT), today=TODAY)
    second = await service.add_actual(w.coordinator, w.contract.id,
                                      quarter(1, 98_000_000, Source.CONTRACTOR_STATEMENT, corrects=first), today=TODAY)
    third = await service.add_actual(w.manager, w.contract.id, quarter(1, 97_500_000, corrects=second), today=TODAY)
    overview = await service.savings_overview(w.manager, w.contract.id, today=TODAY)
    assert [p["actual_id"] for p in overview["periods"]] == [third]
    assert overview["figures"]["spend_to_date_cents"] == 97_500_000  # replaced, never added up
    rows = {row["id"]: row for row in overview["actuals"]}
    assert rows[first]["replaced_by"] == second and rows[first]["counts_as"] == third
    assert rows[second]["replaced_by"] == third and rows[third]["replaced_by"] is None
    assert await SavingsActual.count() == 3  # nothing overwritten
    audited = await AuditEntry.select(AuditEntry.object_id, AuditEntry.action, AuditEntry.old_values).where(
        AuditEntry.object_type == "savings_actual").order_by(AuditEntry.id)
    assert [a["object_id"] for a in audited] == [str(first), str(second), str(third)]
    assert audited[0]["old_values"] is None and '"spend_cents": 98000000' in audited[2]["old_values"]


async def test_a_corrected_entry_cannot_be_corrected_again_and_periods_do_not_overlap(db):
    w = await world()
    first = await service.add_actual(w.manager, w.contract.id, quarter(1, 99_000_000), today=TODAY)
    await service.add_actual(w.manager, w.contract.id, quarter(1, 98_000_000, corrects=first), today=TODAY)
    with pytest.raises(InvalidInput, match="al gecorrigeerd"):
        await service.add_actual(w.manager, w.contract.id, quarter(1, 1, corrects=first), today=TODAY)
    with pytest.raises(InvalidInput, match="overlapt"):
        await service.add_actual(w.manager, w.contract.id, quarter(1, 1), today=TODAY)
    with pytest.raises(InvalidInput, match="contractbedragen"):
        await service.add_actual(w.manager, w.contract.id, ActualInput(date(2027, 1, 1), date(2027, 3, 31), 1,
                                                                        Source.LEDGER), today=date(2027, 6, 1))
    with pytest.raises(InvalidInput, match="buiten de looptijd"):
        await service.add_actual(w.manager, w.contract.id, ActualInput(date(2025, 1, 1), date(2025, 3, 31), 1,
                                                                        Source.LEDGER), today=TODAY)
    with pytest.raises(InvalidInput, match="toekomst"):
        await service.add_actual(w.manager, w.contract.id, ActualInput(date(2026, 12, 1), date(2026, 12, 31), 1,
                                                                        Source.LEDGER), today=TODAY)


async def test_roles_the_coordinator_adds_statements_only_and_the_subcontractor_sees_nothing(db):
    w = await world()
    with pytest.raises(NotPermitted):
        await service.add_actual(w.coordinator, w.contract.id, quarter(2, 1, Source.LEDGER), today=TODAY)
    statement = await service.add_actual(w.coordinator, w.contract.id,
                                         quarter(2, 98_000_000, Source.CONTRACTOR_STATEMENT), today=TODAY)
    ledger = await service.add_actual(w.manager, w.contract.id, quarter(3, 98_000_000), today=TODAY)
    with pytest.raises(NotPermitted):  # a ledger figure is the contract manager's to correct
        await service.add_actual(w.coordinator, w.contract.id,
                                 quarter(3, 1, Source.CONTRACTOR_STATEMENT, corrects=ledger), today=TODAY)
    assert statement
    with pytest.raises(NotPermitted):
        await service.set_year(w.coordinator, w.contract.id, YearInput(2026, "contract", 1))
    with pytest.raises(NotPermitted):
        await service.set_terms(w.coordinator, w.contract.id, TermsInput("x", 5))
    for call in (service.list_contracts(w.subcontractor), service.savings_overview(w.subcontractor, w.contract.id)):
        with pytest.raises(NotPermitted):
            await call
    with pytest.raises(NotFound):
        await service.savings_overview(w.stranger, w.contract.id)
    with pytest.raises(NotFound):
        await service.add_actual(w.stranger, w.contract.id, quarter(2, 1), today=TODAY)
    assert [c["name"] for c in await service.list_contracts(w.coordinator)] == ["Samen Noord"]
    assert [c["name"] for c in await service.list_contracts(w.stranger)] == ["Samen Zuid"]


async def test_the_contract_manager_sets_a_year_and_the_terms(db):
    w = await world()
    result = await service.set_year(w.manager, w.contract.id, YearInput(2027, "contract", 15_000_000,
                                                                          baseline_cents=400_000_000))
    assert result.created_year
    await service.set_year(w.manager, w.contract.id, YearInput(2026, "contract", 12_000_000, indexation_cents=1))
    targets = {(t["year"], t["amount_cents"]) for t in await SavingsTarget.select()}
    assert targets == {(2026, 12_000_000), (2027, 15_000_000)}
    assert (await ContractYear.select().where(ContractYear.year == 2026).first())["indexation_cents"] == 1
    with pytest.raises(InvalidInput, match="basislijn"):
        await service.set_year(w.manager, w.contract.id, YearInput(2028, "contract", 1, lump_sum_cents=5))
    with pytest.raises(InvalidInput, match="looptijd"):
        await service.set_year(w.manager, w.contract.id, YearInput(2040, "contract", 1))
    await service.set_terms(w.manager, w.contract.id, TermsInput("Herstelplan binnen drie maanden.", 3))
    row = await Contract.select().where(Contract.id == w.contract.id).first()
    assert (row["missed_target_terms"], row["savings_tolerance_pct"]) == ("Herstelplan binnen drie maanden.", 3)
    changes = await AuditEntry.select(AuditEntry.object_type, AuditEntry.action).where(
        AuditEntry.object_type.is_in(["savings_target", "contract_year", "contract"]))
    assert {(c["object_type"], c["action"]) for c in changes} == {
        ("savings_target", "create"), ("savings_target", "change"), ("contract_year", "create"),
        ("contract_year", "change"), ("contract", "change")}


async def test_leading_indicators_are_grouped_per_quarter_from_the_cases(db):
    w = await world()

    async def provision(action: str, provision_type: str, on: datetime) -> None:
        case = await factories.case(w.contract, status="in_care", provision_type=provision_type)
        await factories.event(case, "in_care", action=action, occurred_at=on)

    await provision("refer_collective", "collective", datetime(2026, 2, 3, 10, tzinfo=UTC))
    await provision("start_care", "individual", datetime(2026, 2, 4, 10, tzinfo=UTC))
    await provision("start_care", "individual", datetime(2026, 3, 30, 10, tzinfo=UTC))
    await provision("start_care", "collective", datetime(2026, 5, 4, 10, tzinfo=UTC))
    await provision("register", "individual", datetime(2026, 5, 4, 10, tzinfo=UTC))  # not a provision
    indicators = await service.leading_indicators(w.contract.id)
    assert indicators["quarters"] == [
        {"quarter": "2026-K1", "collective": 1, "individual": 2, "collective_share_pct": 100 / 3},
        {"quarter": "2026-K2", "collective": 1, "individual": 0, "collective_share_pct": 100.0},
    ]
    assert indicators["reassessment"]["has_data"] is False  # no 'reassessment' events (yet)
    case = await factories.case(w.contract, status="ended")
    await factories.event(case, "in_care", action="reassessment", occurred_at=datetime(2026, 6, 1, tzinfo=UTC))
    await factories.event(case, "ended", action="end_care", occurred_at=datetime(2026, 6, 20, tzinfo=UTC))
    again = await factories.case(w.contract, status="in_care")
    await factories.event(again, "in_care", action="reassessment", occurred_at=datetime(2026, 6, 2, tzinfo=UTC))
    assert (await service.leading_indicators(w.contract.id))["reassessment"] == {
        "has_data": True, "reassessed": 2, "stopped": 1, "stopped_pct": 50.0}


async def test_the_hengelo_demo_shows_both_levels_and_the_investment(db):
    await load_demo("hengelo", cases=60, seed=3, today=TODAY)
    contract = await Contract.select().first()
    manager = await User.select().where(User.email == "contractmanager@hengelo.demo").first()
    org = await Organisation.select().where(Organisation.id == manager["organisation"]).first()
    cm = Actor(manager["id"], org["id"], OrganisationKind.MUNICIPALITY, Role.CONTRACT_MANAGER, "CM", manager["email"])
    overview = await service.savings_overview(cm, contract["id"], today=TODAY)
    totals = {v["level"]: v["target_total_cents"] for v in overview["verdicts"]}
    assert totals == {"tender": 370_000_000, "transformation": 690_000_000}
    assert overview["figures"]["investments_total_cents"] == 170_000_000
    assert {v["level"]: v["net_target_cents"] for v in overview["verdicts"]} == {
        "tender": 200_000_000, "transformation": 520_000_000}
    assert len(overview["periods"]) == 11  # 2024-K1 .. 2026-K3, one of them corrected


async def test_contract_positions_for_the_savings_behind_scan_match_the_page(db):
    w = await world()
    await service.add_actual(w.manager, w.contract.id, quarter(1, 99_000_000), today=TODAY)
    [position] = await service.contract_positions(today=TODAY)
    page = await service.savings_overview(w.manager, w.contract.id, today=TODAY)
    verdict = page["verdicts"][0]
    assert position["contract_id"] == w.contract.id and position["level"] == "contract"
    assert (position["target_to_date_cents"], position["savings_to_date_cents"], position["sentence"]) == (
        verdict["target_to_date_cents"], verdict["savings_to_date_cents"], verdict["sentence"])
    # indexation apart: EUR 4.000.000 baseline - (EUR 990.000 spend - EUR 29.589,04 indexation share) for Q1
    assert position["savings_to_date_cents"] == 98_630_137 - (99_000_000 - 2_958_904)
