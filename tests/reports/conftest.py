"""A small contract for the learning-cycle tests: municipality, main contractor, two subcontractors (and a
third that never reports), the default template and one ended quarter with case events in it."""

from datetime import UTC, date, datetime

import pytest

from portal.demo.generator import DEFAULT_REPORT_TEMPLATE
from portal.reports.tables import ReportPeriod, ReportTemplate
from tests import factories

actor_for = factories.actor_for


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Leerdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Samen")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer Anker")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer Brug")
    sub_c = await factories.organisation("subcontractor", "Onderaannemer Cirkel")
    contract = await factories.contract(municipality, main, name="Samen in de Wijk", start_date=date(2025, 1, 1))
    for sub in (sub_a, sub_b, sub_c):
        await factories.subcontract(contract, sub)
    template = ReportTemplate(contract=contract.id, version=1, period_kind="quarter", deadline_days=30,
                              definition=DEFAULT_REPORT_TEMPLATE)
    await template.save()
    period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31),
                          deadline=date(2026, 4, 30))
    await period.save()
    # Q1 2026 for Anker: 3 requests, 2 accepted (one started after 4 and one after 10 days), 1 declined
    for number, (answer, wait) in enumerate((("accept", 4), ("accept", 10), ("decline", None))):
        case = await factories.case(contract, status="in_care", subcontractor=sub_a.id)
        asked = date(2026, 2, 2 + number)
        await factories.event(case, "allocation_requested", sub_a, action="request_allocation", occurred_at=at(asked))
        await factories.event(case, "accepted" if answer == "accept" else "assessment", sub_a, action=answer,
                              occurred_at=at(date(2026, 2, 10)))
        if wait:
            await factories.event(case, "in_care", sub_a, action="start_care",
                                  occurred_at=at(date(asked.year, asked.month, asked.day + wait)))
    # an event outside the period does not count
    late = await factories.case(contract, status="allocation_requested", subcontractor=sub_a.id)
    await factories.event(late, "allocation_requested", sub_a, action="request_allocation",
                          occurred_at=at(date(2026, 4, 2)))
    people = {
        "coordinator": actor_for(await factories.user(main, "coordinator"), main, "coordinator"),
        "sub_a": actor_for(await factories.user(sub_a, "subcontractor"), sub_a, "subcontractor"),
        "sub_b": actor_for(await factories.user(sub_b, "subcontractor"), sub_b, "subcontractor"),
        "manager": actor_for(await factories.user(municipality, "contract_manager"), municipality,
                             "contract_manager"),
    }
    users = {}
    for key, person in people.items():
        from portal.accounts.tables import User

        users[key] = await User.objects().get(User.id == person.user_id)
    return {"contract": contract, "period": period, "template": template, "org_a": sub_a, "org_b": sub_b,
            "org_c": sub_c, "main": main, "municipality": municipality, "users": users, **people}


GOOD_VALUES = {"inwoners_ondersteund": "1.234", "nieuwe_hulpvragen": "56", "uren_collectief": "1.234,5",
               "clienttevredenheid": "87,5"}
