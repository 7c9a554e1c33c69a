"""Mijn werk: what is in the person's court now, across cases, signals and reports, most overdue first."""

from datetime import UTC, date, datetime

from portal.dashboard.service import my_work
from portal.reports.tables import Report, ReportPeriod, ReportTemplate
from portal.signals.tables import Signal
from tests import factories

TODAY = date(2026, 11, 25)


async def _world():
    municipality = await factories.organisation("municipality")
    main = await factories.organisation("main_contractor")
    sub_a = await factories.organisation("subcontractor")
    sub_b = await factories.organisation("subcontractor")
    contract = await factories.contract(municipality, main)
    for sub in (sub_a, sub_b):
        await factories.subcontract(contract, sub)
    return municipality, main, sub_a, sub_b, contract


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


async def test_coordinator_sees_intake_and_reallocations_oldest_first(db):
    municipality, main, sub_a, sub_b, contract = await _world()
    coordinator = factories.actor_for(await factories.user(main, "coordinator"), main, "coordinator")
    old = await factories.case(contract, "assessment", status_since=_at(date(2026, 9, 1)))
    new = await factories.case(contract, "registered", status_since=_at(date(2026, 11, 24)))
    declined = await factories.case(contract, "allocation_requested", status_since=_at(date(2026, 11, 2)))
    await factories.case(contract, "allocation_requested", subcontractor=sub_a.id)  # the subcontractor's court
    await factories.case(contract, "in_care", subcontractor=sub_a.id)
    work = await my_work(coordinator, TODAY)
    assert [item["title"] for item in work["entries"]] == [old.case_number, declined.case_number, new.case_number]
    assert work["entries"][0]["overdue_days"] > 0 and work["entries"][-1]["overdue_days"] == 0
    assert work["overdue"] == 2


async def test_subcontractor_sees_only_its_own_requests_signals_and_reports(db):
    municipality, main, sub_a, sub_b, contract = await _world()
    person = factories.actor_for(await factories.user(sub_a, "subcontractor"), sub_a, "subcontractor")
    mine = await factories.case(contract, "allocation_requested", subcontractor=sub_a.id,
                                status_since=_at(date(2026, 11, 16)))
    await factories.case(contract, "allocation_requested", subcontractor=sub_b.id)
    await Signal(contract=contract.id, rule="stalled", severity="low", dedup_key="k1", case=mine.id,
                 subcontractor=sub_a.id, owner_organisation=sub_a.id, title="Mijn signaal",
                 response_due=date(2026, 11, 20)).save()
    await Signal(contract=contract.id, rule="stalled", severity="low", dedup_key="k2", subcontractor=sub_b.id,
                 owner_organisation=sub_b.id, title="Niet van mij", response_due=date(2026, 11, 20)).save()
    template = ReportTemplate(contract=contract.id, version=1)
    await template.save()
    period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=date(2026, 7, 1), ends_on=date(2026, 9, 30),
                          deadline=date(2026, 10, 30))
    await period.save()
    await Report(period=period.id, contract=contract.id, template=template.id, organisation=sub_b.id,
                 kind="subcontractor", status="submitted").save()
    work = await my_work(person, TODAY)
    titles = [item["title"] for item in work["entries"]]
    assert mine.case_number in titles and "Mijn signaal" in titles
    assert "Niet van mij" not in titles
    assert work["counts"] == {"Casus": 1, "Signaal": 1, "Rapportage": 1}  # its own report is still to write
    request = next(item for item in work["entries"] if item["kind"] == "Casus")
    assert request["due"] == date(2026, 11, 23)  # 5 working days after 16-11-2026
    assert request["overdue_days"] == 2


async def test_contract_manager_sees_escalations_and_contract_reports_to_review(db):
    municipality, main, sub_a, sub_b, contract = await _world()
    manager = factories.actor_for(await factories.user(municipality, "contract_manager"), municipality)
    await Signal(contract=contract.id, rule="bounced", severity="high", dedup_key="e1", owner_organisation=main.id,
                 status="escalated", title="Geëscaleerd", response_due=date(2026, 11, 30)).save()
    await Signal(contract=contract.id, rule="stalled", severity="low", dedup_key="e2", owner_organisation=main.id,
                 status="open", title="Bij de hoofdaannemer", response_due=date(2026, 11, 30)).save()
    template = ReportTemplate(contract=contract.id, version=1)
    await template.save()
    period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=date(2026, 7, 1), ends_on=date(2026, 9, 30),
                          deadline=date(2026, 10, 30))
    await period.save()
    await Report(period=period.id, contract=contract.id, template=template.id, organisation=main.id, kind="contract",
                 status="submitted", submitted_at=_at(date(2026, 11, 10))).save()
    work = await my_work(manager, TODAY)
    assert [(item["kind"], item["title"]) for item in work["entries"]] == [
        ("Signaal", "Geëscaleerd"), ("Rapportage", main.name)]


async def test_the_page_lists_the_work(app, db):
    municipality, main, sub_a, sub_b, contract = await _world()
    person = await factories.user(main, "coordinator")
    case = await factories.case(contract, "registered", status_since=_at(date(2026, 9, 1)))
    async with factories.logged_in(app, person) as http:
        html = (await http.get("/", headers={"accept": "text/html"})).text
    assert "Bij u aan zet" in html and case.case_number in html and "werkdagen" in html
