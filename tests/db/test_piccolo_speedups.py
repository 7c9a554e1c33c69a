"""portal.lib.piccolo_speedups changes how fast Piccolo builds queries, never what it builds: the same SQL and
arguments, byte for byte, with and without it; joined columns reached through ForeignKeys (also lazy and nested
ones) still resolve; rows come back as the same dicts."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

import piccolo
import pytest
from piccolo.columns import ForeignKey, Varchar
from piccolo.columns.reference import LazyTableReference
from piccolo.query.functions.aggregate import Count
from piccolo.querystring import QueryString
from piccolo.table import Table

from portal.accounts import policy
from portal.accounts.rules import Actor, Role
from portal.accounts.tables import Organisation
from portal.cases import service
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract
from portal.db import engine
from portal.lib import piccolo_speedups
from tests import factories

# Nothing here needs rows, but the engine is made on first use: let that happen once the test database exists.
pytestmark = pytest.mark.usefixtures("migrated_database")


@contextmanager
def without_speedups() -> Iterator[None]:
    piccolo_speedups.revert()
    try:
        yield
    finally:
        piccolo_speedups.apply()


def _actor(role: Role, organisation_id: int = 7) -> Actor:
    return Actor(user_id=3, organisation_id=organisation_id, organisation_kind="x", role=role,
                 display_name="Test", email="test@example.org")


def _page_query(actor: Actor):
    # the case list's page query, as portal.cases.service and benchmarks/run.py build it
    return Case.select(*service.LIST_COLUMNS, Case.urgency).where(policy.case_scope(actor)).order_by(
        Case.status_since, Case.id, ascending=False).limit(service.PAGE_SIZE + 1)


QUERIES: dict[str, Callable] = {
    "case list, coordinator": lambda: _page_query(_actor(Role.COORDINATOR)),
    "case list, contract manager": lambda: _page_query(_actor(Role.CONTRACT_MANAGER)),
    "case list, subcontractor (OR over a sub-select)": lambda: _page_query(_actor(Role.SUBCONTRACTOR)),
    "case list, admin (nothing)": lambda: _page_query(_actor(Role.ADMIN)),
    "joins, attribute style": lambda: Case.select(Case.id, Case.contract.name, Case.subcontractor.name),
    "joins, ._. style": lambda: Case.select(Case.id, Case.contract._.name, Case.subcontractor._.name),
    "nested join case.contract.municipality": lambda: Case.select(
        Case.contract.municipality.name.as_alias("municipality_name"), Case.contract._.municipality._.kind,
    ).where(Case.contract.municipality.name == "Gemeente Haarlem"),
    "three levels from an event": lambda: CaseEvent.select(
        CaseEvent.id, CaseEvent.case.contract.municipality.name, CaseEvent.case.contract.main_contractor.name,
    ).where(CaseEvent.case.status.is_in(["registered", "in_care"]) & (CaseEvent.case.contract.id > 0)),
    "all columns of a joined table": lambda: Case.select(Case.id, *Case.contract.all_columns()),
    "where, order and count over joins": lambda: Case.select(
        Case.contract.name, Count(Case.id, alias="n")).where(
        Case.subcontractor.name.like("Onder%") | Case.subcontractor.is_null()).group_by(
        Case.contract.name).order_by(Case.contract.name),
    "raw template with escaped braces": lambda: Case.select(Case.id).where(
        QueryString("\"portal_case\".\"status\" <> '{{x}}' AND {} > {}", Case.version, 2)),
    "objects with a prefetch": lambda: Case.objects(Case.contract).where(Case.melding_date >= date(2026, 1, 1)),
    "count and exists": lambda: Case.count().where(Case.contract.municipality == 5),
    "update through a join": lambda: Case.update({Case.status: "closed"}).where(Case.contract.name == "X"),
    "delete through a join": lambda: CaseEvent.delete().where(CaseEvent.case.contract.name == "X"),
}


def _text(querystring: QueryString) -> str:
    """str() of a query, or the error it raises: Piccolo's own str() fails on escaped braces, and still must."""
    try:
        return str(querystring)
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return repr(exc)


def _compiled(build: Callable) -> list[tuple[str, list, str, str]]:
    query = build()
    return [(*querystring.compile_string(engine_type="postgres"), querystring.compile_string(engine_type="sqlite")[0],
             _text(querystring)) for querystring in query.querystrings]


@pytest.mark.parametrize("name", list(QUERIES))
async def test_compiled_sql_is_byte_identical_with_and_without_the_speedups(name):
    assert piccolo_speedups.is_applied()
    fast = _compiled(QUERIES[name])
    with without_speedups():
        assert not piccolo_speedups.is_applied()
        reference = _compiled(QUERIES[name])
    assert fast == reference
    assert fast[0][0].startswith(("SELECT", "UPDATE", "DELETE"))


@pytest.mark.parametrize("template", ['"case"."status"', "status <> '{{x}}'", "{{}}", "a = {}", ""])
async def test_str_of_a_querystring_is_unchanged(template):
    fast = _text(QueryString(template)), _text(QueryString(template, "open") if "{}" in template else None)
    with without_speedups():
        plain = _text(QueryString(template)), _text(QueryString(template, "open") if "{}" in template else None)
    assert fast == plain


async def test_the_page_query_joins_the_contract_and_subcontractor_names():
    sql, args = _page_query(_actor(Role.COORDINATOR, organisation_id=42)).querystrings[0].compile_string()
    joined = 'LEFT JOIN "contract" "portal_case$contract" ON ("portal_case"."contract" = "portal_case$contract"."id")'
    assert joined in sql
    assert '"portal_case$subcontractor"."name" AS "subcontractor_name"' in sql
    assert sql.endswith("LIMIT 51")
    assert args == [42, 42]


async def test_joined_columns_resolve_in_both_styles():
    by_attribute, by_underscore = Case.contract.municipality.name, Case.contract._.municipality._.name
    for column in (by_attribute, by_underscore):
        assert column._meta.get_full_name(with_alias=False) == '"portal_case$contract$contract$municipality"."name"'
        assert [key._meta.name for key in column._meta.call_chain] == ["contract", "municipality"]
    # a ForeignKey's own methods and attributes are untouched
    assert callable(Case.contract.is_in)
    assert Case.contract._foreign_key_meta.resolved_references is Contract
    with pytest.raises(AttributeError):
        _ = Case.contract.no_such_column


async def test_the_membership_test_answers_as_dir_does():
    names = piccolo_speedups._AttributeNames
    for column in (Case.contract, Case.contract.municipality, CaseEvent.case.contract):
        for name in [*dir(column), "no_such_column", "name", "municipality", "is_in", "all_columns", "__dict__"]:
            assert (name in names(column)) == (name in dir(column)), name
        assert list(names(column)) == dir(column)

    class ListsMore(ForeignKey):
        def __dir__(self):
            return [*super().__dir__(), "virtual"]

    own_dir = ListsMore(Organisation)
    assert "virtual" in names(own_dir)
    assert "no_such_column" not in names(own_dir)


def _lazy_table(label: str) -> type[Table]:
    """A fresh table whose ForeignKey points at Organisation by name: its proxy columns are made on first use."""
    return type(f"LazyNote{label}", (Table,), {
        "__module__": __name__,
        "organisation": ForeignKey(LazyTableReference("Organisation", module_path="portal.accounts.tables")),
        "text": Varchar(),
    }, tablename=f"lazy_note_{label.lower()}")


async def test_lazy_references_resolve_on_first_use_with_the_speedups():
    fast_table = _lazy_table("Fast")
    assert fast_table.organisation._foreign_key_meta.proxy_columns == []
    fast = fast_table.select(fast_table.text, fast_table.organisation.name).querystrings[0].compile_string()
    assert fast_table.organisation._foreign_key_meta.proxy_columns  # set up by the first access
    with without_speedups():
        plain_table = _lazy_table("Plain")
        plain = plain_table.select(plain_table.text, plain_table.organisation.name).querystrings[0].compile_string()
    assert fast[0] == plain[0].replace("lazy_note_plain", "lazy_note_fast")
    assert '"lazy_note_fast$organisation"."name"' in fast[0]


async def test_apply_is_idempotent_and_revert_restores_piccolos_own_code():
    before = QueryString.compile_string
    piccolo_speedups.apply()
    assert QueryString.compile_string is before is piccolo_speedups.compile_string
    with without_speedups():
        assert QueryString.compile_string is not piccolo_speedups.compile_string
        assert "dir" not in vars(__import__("piccolo.columns.column_types", fromlist=["x"]))


async def test_another_piccolo_version_is_left_as_it_is(monkeypatch):
    with without_speedups():
        monkeypatch.setattr(piccolo, "__VERSION__", "1.39.0")
        with pytest.warns(RuntimeWarning, match="not applied"):
            piccolo_speedups.apply()
        assert not piccolo_speedups.is_applied()
        assert QueryString.compile_string is not piccolo_speedups.compile_string
        monkeypatch.undo()
    assert piccolo_speedups.is_applied()


async def test_rows_are_the_same_dicts_with_and_without_the_speedups(db):
    w = await factories.world("Snel")
    for number in range(3):
        await factories.case(w.contract, subcontractor=w.sub.id if number else None)
    actor = w.actor(w.coordinator)
    fast = await _page_query(actor)
    with without_speedups():
        plain = await _page_query(actor)
    assert fast == plain
    assert len(fast) == 3
    assert {row["contract_name"] for row in fast} == {"Contract Snel"}
    assert sorted(row["subcontractor_name"] or "" for row in fast) == ["", "Onderaannemer Snel", "Onderaannemer Snel"]


async def test_duplicate_column_names_keep_the_last_value_as_before(db):
    if engine().engine_type != "postgres":
        pytest.skip("asyncpg Records: PostgreSQL only")
    await factories.organisation("municipality", "Gemeente Dubbel")
    sql = "SELECT 1 AS n, 2 AS n, name FROM organisation"
    fast = await Organisation.raw(sql)
    with without_speedups():
        plain = await Organisation.raw(sql)
    assert fast == plain == [{"n": 2, "name": "Gemeente Dubbel"}]


async def test_any_column_name_is_just_a_key_of_the_row(db):
    if engine().engine_type != "postgres":
        pytest.skip("asyncpg Records: PostgreSQL only")
    # quotes, a backslash, braces and the row builder's own variable names, over several rows
    sql = """SELECT n AS "it's", n + 1 AS "a\\b", n + 2 AS "{{x}}", n + 3 AS "v0", n + 4 AS "row", '''' AS "'''"
             FROM generate_series(1, 3) AS n"""  # {{x}}: a raw query's template, so the braces are doubled
    fast = await Organisation.raw(sql)
    with without_speedups():
        plain = await Organisation.raw(sql)
    assert fast == plain
    assert fast[0] == {"it's": 1, "a\\b": 2, "{x}": 3, "v0": 4, "row": 5, "'''": "'"}
    assert await Organisation.raw("SELECT FROM generate_series(1, 2)") == [{}, {}]
