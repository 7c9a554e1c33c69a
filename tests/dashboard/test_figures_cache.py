"""The contract figures are computed once per contract and day and reused while the contract's fingerprint is
unchanged: every kind of change that feeds a figure makes the next view recompute, and the actor is
authorized on every view, also when the figures come from the cache."""

from datetime import UTC, date, datetime

import pytest

from portal.contracts.tables import StatusNorm
from portal.dashboard import service
from portal.lib.errors import NotFound
from portal.savings.tables import SavingsActual, SavingsTarget
from portal.signals.tables import Signal
from tests import factories

TODAY = date(2026, 11, 25)


async def _world() -> dict:
    municipality = await factories.organisation("municipality", "Gemeente Cache")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Cache")
    contract = await factories.contract(municipality, main, name="Cache Contract", start_date=date(2024, 1, 1))
    alfa = await factories.organisation("subcontractor", "Cache Alfa")
    outsider = await factories.organisation("subcontractor", "Cache Buiten")
    await factories.subcontract(contract, alfa)
    case = await factories.case(contract, "allocation_requested", subcontractor=alfa.id)
    await factories.event(case, "allocation_requested", alfa, action="request_allocation")
    other_municipality = await factories.organisation("municipality", "Gemeente Anders")
    manager = await factories.user(municipality, "contract_manager")
    return {
        "contract": contract, "alfa": alfa, "case": case,
        "manager": factories.actor_for(manager, municipality),
        "alfa_actor": factories.actor_for(await factories.user(alfa, "subcontractor"), alfa),
        "outsider": factories.actor_for(await factories.user(outsider, "subcontractor"), outsider),
        "stranger": factories.actor_for(await factories.user(other_municipality, "contract_manager"),
                                        other_municipality),
    }


@pytest.fixture
def computations(monkeypatch) -> list[int]:
    """Counts how often the figures are computed from the case log (rather than taken from the cache)."""
    service.forget_cached_figures()
    calls: list[int] = []
    original = service._gather

    async def counting(contract_id, today):
        calls.append(contract_id)
        return await original(contract_id, today)

    monkeypatch.setattr(service, "_gather", counting)
    return calls


async def test_unchanged_figures_are_computed_once(db, computations):
    w = await _world()
    first = await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    second = await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    assert computations == [w["contract"].id]
    assert second["figures_version"] == first["figures_version"]
    assert second["subcontractors"] == first["subcontractors"]
    # another day is another set of figures (ages and due reports depend on the day)
    await service.contract_dashboard(w["manager"], w["contract"].id, date(2026, 11, 26))
    assert len(computations) == 2


async def _new_event(w):
    await factories.event(w["case"], "allocation_requested", w["alfa"], action="decline", reason_code="L3")


async def _new_case(w):
    await factories.case(w["contract"], "registered")


async def _new_signal(w):
    await Signal(contract=w["contract"].id, rule="stalled", severity="low", dedup_key="cache:new",
                 subcontractor=w["alfa"].id, owner_organisation=w["alfa"].id, title="Nieuw", status="open").save()


async def _old_signal(w):
    await Signal(contract=w["contract"].id, rule="stalled", severity="low", dedup_key="cache:old",
                 subcontractor=w["alfa"].id, owner_organisation=w["alfa"].id, title="Oud", status="open",
                 updated_at=datetime(2026, 1, 1, tzinfo=UTC)).save()


async def _signal_resolved(w):
    await Signal.update({Signal.status: "resolved", Signal.updated_at: datetime.now(UTC)}).where(
        Signal.dedup_key == "cache:old")


async def _norm_changed(w):
    await StatusNorm(contract=w["contract"].id, status="registered", max_working_days=3).save()


async def _savings_actual(w):
    await SavingsActual(contract=w["contract"].id, period_start=date(2026, 1, 1), period_end=date(2026, 3, 31),
                        spend_cents=100_000_00, source="ledger").save()


async def _savings_target(w):
    await SavingsTarget(contract=w["contract"].id, year=2026, amount_cents=50_000_00).save()


@pytest.mark.parametrize("change", [_new_event, _new_case, _new_signal, _signal_resolved, _norm_changed,
                                    _savings_actual, _savings_target])
async def test_every_kind_of_change_recomputes_the_figures(db, computations, change):
    w = await _world()
    await _old_signal(w)
    before = await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    computed = len(computations)
    await change(w)
    after = await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    assert len(computations) == computed + 1, f"{change.__name__} did not recompute the figures"
    assert after["figures_version"] != before["figures_version"]


async def test_a_recorded_decline_shows_at_once(db, computations):
    w = await _world()
    before = await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    assert before["subcontractors"][0]["declines"] == 0
    await _new_event(w)
    after = await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    assert after["subcontractors"][0]["declines"] == 1


async def test_the_age_limit_recomputes_even_without_a_visible_change(db, computations, monkeypatch):
    w = await _world()
    await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    monkeypatch.setattr(service, "FIGURES_MAX_AGE_SECONDS", 0)
    await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    assert len(computations) == 2


@pytest.mark.parametrize("who", ["stranger", "outsider"])
async def test_cached_figures_are_still_refused_to_a_non_party(db, computations, who):
    w = await _world()
    await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)  # the figures are now cached
    with pytest.raises(NotFound):
        await service.contract_dashboard(w[who], w["contract"].id, TODAY)
    assert computations == [w["contract"].id]  # refused without computing anything


async def test_a_non_party_never_makes_the_portal_compute(db, computations):
    w = await _world()
    with pytest.raises(NotFound):
        await service.contract_dashboard(w["stranger"], w["contract"].id, TODAY)
    assert computations == []


async def test_the_subcontractor_gets_its_scoped_view_from_the_shared_figures(db, computations):
    w = await _world()
    await service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
    own = await service.contract_dashboard(w["alfa_actor"], w["contract"].id, TODAY)
    assert own["scope"] == "subcontractor"
    assert own["own"]["volume"] == 1
    assert "subcontractors" not in own  # no peer is named
    assert computations == [w["contract"].id]


async def test_views_that_arrive_together_wait_for_one_computation(db, computations):
    import asyncio

    w = await _world()
    views = await asyncio.gather(*(service.contract_dashboard(w["manager"], w["contract"].id, TODAY)
                                   for _ in range(8)))
    assert computations == [w["contract"].id]
    assert len({view["figures_version"] for view in views}) == 1
