"""Queries compiled once per shape (``portal.lib.compiled_query``) and the case list that runs on them: the same
rows as the plain Piccolo query, values and types alike, for every role and filter; a subcontractor still sees
only its own cases; a compiled query is reused across callers yet never carries one caller's values to the
next; it runs inside the open transaction."""

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.accounts import policy
from portal.cases import service
from portal.cases.service import PAGE_SIZE, CaseFilter, CaseOrder
from portal.cases.tables import Case
from portal.db import write_transaction
from portal.lib import compiled_query
from portal.lib.compiled_query import Param, compiled
from portal.lib.keyset import encode_cursor
from tests import factories

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def world(db):
    """Two tenants. Tenant A: one contract, subcontractors A1 and A2 (A1 once had a case that is now A2's).
    Tenant B: its own contract and subcontractor. Cases in several statuses, categories and neighbourhoods,
    with status moments that tie (the keyset's id decides)."""
    a, b = await factories.world("Alfa"), await factories.world("Beta")
    sub_a2 = await factories.organisation("subcontractor", "Onderaannemer Alfa 2")
    await factories.subcontract(a.contract, sub_a2)
    numbers: dict[str, set[str]] = {"a1": set(), "a2": set(), "b": set(), "alfa": set(), "beta": set()}
    statuses = ["registered", "assessment", "in_care", "in_care", "waiting_list", "ended"]
    for i in range(14):
        sub = (a.sub, sub_a2, None)[i % 3]
        row = await factories.case(
            a.contract, statuses[i % len(statuses)], product_category=("02", "07")[i % 2],
            neighbourhood=("Centrum", "Noord")[i % 2], subcontractor=sub.id if sub else None,
            urgency=("normal", "urgent")[i % 2], status_since=START + timedelta(hours=i // 2),
            melding_date=date(2026, 3, 1) + timedelta(days=i))
        numbers["alfa"].add(row.case_number)
        if sub is not None:
            await factories.event(row, "in_care", sub)
            numbers["a1" if sub is a.sub else "a2"].add(row.case_number)
    moved = await factories.case(a.contract, "in_care", subcontractor=sub_a2.id, status_since=START)
    await factories.event(moved, "in_care", a.sub)  # A1 had it once: A1 still sees it, and A2 now does
    numbers["alfa"].add(moved.case_number)
    numbers["a1"].add(moved.case_number)
    numbers["a2"].add(moved.case_number)
    for i in range(5):
        row = await factories.case(b.contract, "in_care", subcontractor=b.sub.id,
                                   status_since=START + timedelta(hours=i))
        await factories.event(row, "in_care", b.sub)
        numbers["beta"].add(row.case_number)
        numbers["b"].add(row.case_number)
    actors = {
        "coordinator": a.actor(a.coordinator), "manager": a.actor(a.manager), "sub_a1": a.actor(a.sub_user),
        "sub_a2": factories.actor_for(await factories.user(sub_a2, "subcontractor"), sub_a2),
        "coordinator_b": b.actor(b.coordinator), "sub_b": b.actor(b.sub_user),
    }
    return {"a": a, "b": b, "org_a2": sub_a2, "numbers": numbers, **actors}


async def plain_page(actor, filters: CaseFilter, limit: int = PAGE_SIZE + 1) -> list[dict]:
    """The page as a plain Piccolo query: built, compiled and run by Piccolo itself."""
    order = CaseOrder(filters.order)
    values = {**await service._list_values(actor, filters),
              **service._cursor_values(order, service.decode_cursor(filters.cursor))}
    overdue = await service._overdue_clause(actor, date(2026, 11, 26)) if filters.overdue else None
    return await service._page_select(actor, values, order, limit, overdue)


def typed(rows: list[dict]) -> list[list[tuple[str, type, object]]]:
    """Rows as (key, type, value): equal dicts could still differ in type (1 == True, a date string)."""
    return [[(key, type(value), value) for key, value in row.items()] for row in rows]


VISIBLE = {"coordinator": "alfa", "manager": "alfa", "sub_a1": "a1", "sub_a2": "a2", "coordinator_b": "beta",
           "sub_b": "b"}
ROLES = list(VISIBLE)
FILTERS = {
    "none": {},
    "status": {"status": "in_care"},
    "category": {"category": "07"},
    "search": {"search": "t-0"},  # case numbers are T-000123: upper case, so SQLite's LIKE and ILIKE both fold
    "number order": {"order": "nummer"},
    "neighbourhood and status": {"neighbourhood": "Centrum", "status": "in_care"},
    "overdue": {"overdue": True},
}


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("who", ROLES)
async def test_the_list_returns_what_the_plain_query_returns(world, who, name):
    actor, filters = world[who], CaseFilter(**FILTERS[name])
    listed = await service.list_cases(actor, filters, today=date(2026, 11, 26))
    expected = await plain_page(actor, filters)
    assert typed(listed["cases"]) == typed([service._decorate(row) for row in expected[:PAGE_SIZE]])
    assert listed["total"] == len(expected)
    if name == "none":  # and what the plain query returns is the actor's own cases, no more, no fewer
        assert {row["case_number"] for row in listed["cases"]} == world["numbers"][VISIBLE[who]]


@pytest.mark.parametrize("order", ["recent", "nummer"])
@pytest.mark.parametrize("who", ["coordinator", "manager", "sub_a1"])
async def test_page_two_seeks_past_the_cursor_as_the_plain_query_does(world, who, order):
    actor = world[who]
    everything = await plain_page(actor, CaseFilter(order=order))
    assert len(everything) >= 6
    for position in (0, 2, len(everything) - 2):  # includes rows whose status moments tie
        last = everything[position]
        cursor = encode_cursor(last["status_since"] if order == "recent" else last["id"], last["id"])
        filters = CaseFilter(order=order, cursor=cursor)
        listed = await service.list_cases(actor, filters)
        assert typed(listed["cases"]) == typed([service._decorate(row) for row in await plain_page(actor, filters)])
        assert [row["id"] for row in listed["cases"]] == [row["id"] for row in everything[position + 1:]]
        assert listed["total"] is None


async def test_a_subcontractor_sees_only_its_own_cases(world):
    numbers = world["numbers"]
    for who, own in (("sub_a1", "a1"), ("sub_a2", "a2"), ("sub_b", "b")):
        listed = await service.list_cases(world[who], CaseFilter())
        assert {row["case_number"] for row in listed["cases"]} == numbers[own], who
        assert listed["total"] == len(numbers[own])
        exported = [row async for batch in service.case_export_batches(world[who], CaseFilter(), batch_size=4)
                    for row in batch]
        assert {row["case_number"] for row in exported} == numbers[own], who
    # another subcontractor's contract id filter shows nothing of it
    assert (await service.list_cases(world["sub_b"], CaseFilter(status="in_care")))["total"] == len(numbers["b"])


async def test_one_compiled_query_serves_every_caller_with_their_own_values(world):
    compiled_query.clear_cache()
    first = await service.list_cases(world["sub_a1"], CaseFilter())
    cached = compiled_query.cache_size()
    assert cached == 2  # the page and the count
    page = service._compiled_page(world["sub_a1"], {"organisation_id": 1}, CaseOrder.RECENT, PAGE_SIZE + 1)
    # a second subcontractor (another organisation) and a second call: no new compilation, their own rows
    second = await service.list_cases(world["sub_a2"], CaseFilter())
    again = await service.list_cases(world["sub_a1"], CaseFilter())
    assert compiled_query.cache_size() == cached
    assert service._compiled_page(world["sub_a2"], {"organisation_id": 2}, CaseOrder.RECENT, PAGE_SIZE + 1) is page
    assert {row["case_number"] for row in first["cases"]} == world["numbers"]["a1"]
    assert {row["case_number"] for row in second["cases"]} == world["numbers"]["a2"]
    assert again == first
    # coordinators of two tenants share one query, never their cases
    alfa = await service.list_cases(world["coordinator"], CaseFilter(status="in_care"))
    beta = await service.list_cases(world["coordinator_b"], CaseFilter(status="in_care"))
    assert {row["case_number"] for row in beta["cases"]} == world["numbers"]["beta"]
    assert not {row["case_number"] for row in alfa["cases"]} & world["numbers"]["beta"]
    assert compiled_query.cache_size() == cached + 2  # coordinator role, status filter: one page, one count


async def test_the_export_holds_the_plain_querys_rows_batch_after_batch(world):
    for who in ("coordinator", "manager", "sub_a2"):
        for order in ("recent", "nummer"):
            exported = [row async for batch in service.case_export_batches(world[who], CaseFilter(order=order),
                                                                             batch_size=3) for row in batch]
            expected = await plain_page(world[who], CaseFilter(order=order), limit=1000)
            view = policy.CaseView.PSEUDONYMISED if who == "manager" else policy.CaseView.FULL
            assert typed(exported) == typed([policy.redact_case(view, service._decorate(row)) for row in expected])


async def test_it_runs_in_the_open_transaction_and_sees_its_writes(world):
    actor = world["coordinator_b"]

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with write_transaction():
            added = await factories.case(world["b"].contract, "assessment", status_since=START + timedelta(days=9))
            listed = await service.list_cases(actor, CaseFilter())
            assert listed["cases"][0]["case_number"] == added.case_number  # not committed, yet on the list
            assert listed["total"] == len(world["numbers"]["beta"]) + 1
            raise Undo
    listed = await service.list_cases(actor, CaseFilter())
    assert {row["case_number"] for row in listed["cases"]} == world["numbers"]["beta"]


async def test_values_are_bound_exactly_as_the_query_takes_them(world):
    query = compiled(("test bind",), lambda p: Case.count().where(Case.status == p["status"]), ["status"])
    assert await query.run({"status": "in_care"}) == await Case.count().where(Case.status == "in_care")
    with pytest.raises(ValueError, match="takes"):
        await query.run({})
    with pytest.raises(ValueError, match="takes"):
        await query.run({"status": "in_care", "organisation_id": 1})  # a value the query would silently ignore
    ignoring = compiled(None, lambda p: Case.count(), ["status"])  # a builder that forgot its param
    with pytest.raises(ValueError, match="takes"):
        await ignoring.run({"status": "in_care"})
    assert repr(Param("status")) == "Param('status')"


@pytest.mark.parametrize("who", ["coordinator", "manager", "sub_a1", "sub_a2"])
async def test_the_contract_and_subcontractor_filters_as_the_plain_query(world, who):
    contract, sub = world["a"].contract.id, world["org_a2"].id
    for filters in (CaseFilter(contract_id=contract), CaseFilter(contract_id=contract, category="02"),
                    CaseFilter(subcontractor_id=sub), CaseFilter(subcontractor_id=sub, order="nummer")):
        listed = await service.list_cases(world[who], filters)
        expected = await plain_page(world[who], filters)
        assert expected and typed(listed["cases"]) == typed([service._decorate(row) for row in expected])
        assert listed["total"] == len(expected) == await service.count_cases(world[who], filters)
