"""Retention after closing: the daily job anonymises cases past their contract's term (free text removed,
pseudonym replaced by a tombstone), idempotently, leaving the figures and other contracts as they were; the
run is recorded and shown on Beheer; the term is set per contract by its contract manager."""

from datetime import UTC, date, datetime

import pytest

from portal.accounts.tables import AuditEntry
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract
from portal.dashboard import service as dashboard_service
from portal.lib.errors import InvalidInput, NotFound
from portal.lib.pseudonym import TOMBSTONE_PREFIX, is_pseudonym
from portal.privacy import rules, service
from portal.privacy.jobs import apply_retention
from portal.privacy.tables import RetentionRun
from portal.signals.tables import Signal, SignalComment
from tests import factories

TODAY = date(2042, 6, 1)
LONG_AGO = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # more than 15 years before TODAY
RECENT = datetime(2040, 3, 1, 10, 0, tzinfo=UTC)
actor_for = factories.actor_for

RESIDENT = "a" * 64
OTHER_RESIDENT = "b" * 64


async def _case(contract, status, since, pseudonym, neighbourhood="Centrum", **fields):
    case = await factories.case(contract, status=status, status_since=since, pseudonym=pseudonym,
                                neighbourhood=neighbourhood, **fields)
    await factories.event(case, "registered", action="register", note="Melding via huisarts, zoon belt terug",
                          occurred_at=since)
    await factories.event(case, status, action="reject" if status == "rejected" else "close",
                          referred_to="Buurtkamer Oost", note="Gesprek met mevrouw gehad", occurred_at=since)
    await factories.event(case, status, action="reject", referred_to="nergens", occurred_at=since)
    return case


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Bewaardam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Bewaar")
    coordinator = await factories.user(main, "coordinator")
    kept_term = await factories.contract(municipality, main, name="Contract Lang", retention_years=30)
    contract = await factories.contract(municipality, main, name="Contract Bewaar")
    old = await _case(contract, "closed", LONG_AGO, RESIDENT)
    old_same_resident = await _case(contract, "rejected", LONG_AGO, RESIDENT)
    old_other = await _case(contract, "withdrawn", LONG_AGO, OTHER_RESIDENT, neighbourhood="Noord")
    recent = await _case(contract, "closed", RECENT, "c" * 64)
    open_long = await _case(contract, "in_care", LONG_AGO, "d" * 64)
    other_contract_case = await _case(kept_term, "closed", LONG_AGO, "e" * 64)
    signal = Signal(contract=contract.id, rule="raised", severity="medium", dedup_key="raised:ret:1", case=old.id,
                    owner_organisation=municipality.id, title="Vraag over mevrouw", detail="Zij belde drie keer",
                    resolution="Opgelost na gesprek", status="resolved")
    await signal.save()
    await SignalComment(signal=signal.id, author=coordinator.id, organisation=main.id, body="Dochter gesproken").save()
    manager = await factories.user(municipality, "contract_manager")
    return {"contract": contract, "kept_term": kept_term, "old": old, "old_same": old_same_resident,
            "old_other": old_other, "recent": recent, "open": open_long, "elsewhere": other_contract_case,
            "signal": signal, "manager": manager, "municipality": municipality}


async def _snapshot(case_ids):
    cases = await Case.select().where(Case.id.is_in(case_ids)).order_by(Case.id)
    events = await CaseEvent.select().where(CaseEvent.case.is_in(case_ids)).order_by(CaseEvent.id)
    return cases, events


async def _figures(world):
    manager = actor_for(world["manager"], world["municipality"])
    dashboard_service.forget_cached_figures()
    figures = await dashboard_service.contract_dashboard(manager, world["contract"].id, today=TODAY)
    return {key: figures[key] for key in ("statuses", "flow", "signals", "neighbourhoods", "trends")}


async def test_cases_past_their_term_are_anonymised_and_the_rest_is_untouched(world):
    untouched_ids = [world["recent"].id, world["open"].id, world["elsewhere"].id]
    before_untouched = await _snapshot(untouched_ids)
    summary = await service.run_retention(today=TODAY, runner="test")
    assert (summary.cases, summary.contracts) == (3, 2)
    assert summary.event_texts == 6  # two events with text per anonymised case; the 'nergens' code stays
    assert (summary.signal_texts, summary.comment_texts) == (1, 1)

    rows = {row["id"]: row for row in await Case.select()}
    old, same, other = rows[world["old"].id], rows[world["old_same"].id], rows[world["old_other"].id]
    for row in (old, same, other):
        assert row["pseudonym"].startswith(TOMBSTONE_PREFIX) and not is_pseudonym(row["pseudonym"])
        assert row["status"] in rules.RETENTION_STATUSES  # status, dates and codes stay for the figures
    assert old["pseudonym"] == same["pseudonym"] != other["pseudonym"]  # one resident, one tombstone
    assert RESIDENT not in {row["pseudonym"] for row in rows.values()}
    events = await CaseEvent.select().where(CaseEvent.case.is_in([old["id"], same["id"], other["id"]]))
    assert all(event["note"] is None for event in events)
    assert {event["referred_to"] for event in events} == {None, rules.REMOVED_TEXT, "nergens"}
    signal = await Signal.select().where(Signal.id == world["signal"].id).first()
    assert signal["detail"] == signal["resolution"] == signal["title"] == rules.REMOVED_TEXT
    assert signal["status"] == "resolved"
    comment = await SignalComment.select(SignalComment.body).first()
    assert comment["body"] == rules.REMOVED_TEXT
    assert await _snapshot(untouched_ids) == before_untouched  # recent, open and the 30-year contract


async def test_a_second_run_changes_nothing_and_the_figures_stay_the_same(world):
    figures_before = await _figures(world)
    first = await service.run_retention(today=TODAY, runner="test")
    assert first.cases == 3
    everything = await _snapshot([row["id"] for row in await Case.select(Case.id)])
    comments = await SignalComment.select()
    signals = await Signal.select()
    second = await service.run_retention(today=TODAY, runner="test")
    assert second.as_dict() == {"day": TODAY.isoformat(), "contracts": 2, "cases": 0, "event_texts": 0,
                                "signal_texts": 0, "comment_texts": 0}
    assert await _snapshot([row["id"] for row in await Case.select(Case.id)]) == everything
    assert await SignalComment.select() == comments and await Signal.select() == signals
    assert await _figures(world) == figures_before
    runs = await RetentionRun.select().order_by(RetentionRun.id)
    assert [(run["outcome"], run["cases"], run["event_texts"]) for run in runs] == [("ok", 3, 6), ("ok", 0, 0)]
    audited = await AuditEntry.select().where(AuditEntry.object_type == "retention_run")
    assert len(audited) == 1 and audited[0]["contract_id"] == world["contract"].id  # only the run that changed


async def test_the_term_comes_from_the_contract(world):
    await Contract.update({Contract.retention_years: 20}).where(Contract.id == world["contract"].id)
    assert (await service.run_retention(today=TODAY, runner="test")).cases == 0
    await Contract.update({Contract.retention_years: 1}).where(Contract.id == world["contract"].id)
    assert (await service.run_retention(today=TODAY, runner="test")).cases == 4  # the recent closed one as well


async def test_the_job_records_a_job_run_and_a_retention_run(world):
    result = await apply_retention({"runner": "in_process"})
    assert set(result) == {"day", "contracts", "cases", "event_texts", "signal_texts", "comment_texts"}
    run = await RetentionRun.select().first()
    assert run["runner"] == "in_process" and run["outcome"] == "ok"


async def test_the_contract_manager_sets_the_term_of_its_own_contracts(world):
    manager = actor_for(world["manager"], world["municipality"])
    assert await service.set_retention_years(manager, world["contract"].id, "20") == 20
    assert (await Contract.select(Contract.retention_years).where(Contract.id == world["contract"].id).first())[
        "retention_years"] == 20
    with pytest.raises(InvalidInput):
        await service.set_retention_years(manager, world["contract"].id, "0")
    stranger = await factories.contract(name="Contract Vreemd")
    with pytest.raises(NotFound):
        await service.set_retention_years(manager, stranger.id, "10")
    entries = await AuditEntry.select().where(AuditEntry.object_type == "contract")
    assert [(e["old_values"], e["new_values"]) for e in entries] in (
        [('{"retention_years": 15}', '{"retention_years": 20}')], [({"retention_years": 15}, {"retention_years": 20})])


async def test_the_beheer_page_shows_terms_and_runs_and_saves(app, world):
    await service.run_retention(today=TODAY, runner="test")
    async with factories.logged_in(app, world["manager"]) as http:
        page = await http.get("/beheer/bewaartermijnen", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "Contract Bewaar" in page.text and "Contract Lang" in page.text and "Gelukt" in page.text
        response = await factories.post_form(http, f"/beheer/bewaartermijnen/{world['contract'].id}", {"jaren": "x"})
        assert response.status_code == 422 and "heel aantal jaren" in response.text
        response = await factories.post_form(http, f"/beheer/bewaartermijnen/{world['contract'].id}",
                                             {"jaren": "16"})
        assert response.status_code == 303
    row = await Contract.select(Contract.retention_years).where(Contract.id == world["contract"].id).first()
    assert row["retention_years"] == 16
