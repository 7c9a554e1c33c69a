"""Queries built and compiled once per shape, run many times with the values of the moment.

Building a Piccolo query and compiling it to SQL costs more Python time than running it: the case list's page
query (two joins, the scope's sub-selects) takes ~0.5 ms to build and compile against ~0.5 ms in PostgreSQL.
A hot query is therefore still written with Piccolo's builder, but with a ``Param`` in place of each value that
varies, built and compiled once per *shape* (what the caller's key says: role, which filters are set, the
order, ...), and then run with its values bound by name::

    page = compiled(("case page", role, order), lambda p: Case.select(...).where(Case.status == p["status"]),
                    ["status"])
    rows = await page.run({"status": "in_care"})

It runs exactly where Piccolo would run it (the current transaction's connection, else the pool) and its rows
come back exactly as Piccolo returns them: the engine and the query's own result processing do both.

The key must fix everything that is not a ``Param``: a value built into the query instead of passed as a
``Param`` would be cached with the first caller's value. ``run`` refuses values the query does not use and
values it lacks, so a builder that ignores one of its params fails loudly instead of leaking.
"""

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from piccolo.query.base import Query
from piccolo.querystring import QueryString

CACHE_SIZE = 1024  # shapes; the case list has a few dozen in practice


class Param:
    """A value left open in a compiled query, bound by name when it runs."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Param({self.name!r})"


class CompiledQuery:
    """One Piccolo query compiled to SQL for its engine, with the positions of its params."""

    __slots__ = ("_args", "_query", "_slots", "names", "sql")

    def __init__(self, query: Query) -> None:
        [querystring] = query.querystrings  # one statement (a select, count or exists)
        self.sql, args = querystring.compile_string(engine_type=query.engine_type)
        self._query = query
        self._args = tuple(args)
        self._slots = tuple((index, arg.name) for index, arg in enumerate(args) if isinstance(arg, Param))
        self.names = frozenset(name for _, name in self._slots)

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        """The statement's arguments for these values (exactly the query's params, no more, no fewer)."""
        if values.keys() != self.names:
            raise ValueError(f"compiled query takes {sorted(self.names)}, got {sorted(values)}")
        args = list(self._args)
        for index, name in self._slots:
            args[index] = values[name]
        return args

    async def run(self, values: Mapping[str, Any]) -> Any:
        """Run on the query's engine as Piccolo runs it, and return what Piccolo's query would return."""
        querystring = QueryString(self.sql)  # compile_string returns the frozen SQL and arguments as they are
        querystring._frozen_compiled_strings = (self.sql, self.bind(values))
        results = await self._query.table._meta.db.run_querystring(querystring)
        return await self._query._process_results(results)


_cache: dict[tuple, CompiledQuery] = {}


def compiled(key: Hashable | None, build: Callable[[dict[str, Param]], Query], names: Iterable[str]) -> CompiledQuery:
    """The query ``build`` makes from a ``Param`` per name, compiled once per key (and set of names). Key ``None``: a
    query whose shape depends on data (built with values in it), compiled for this one run only."""
    if key is None:
        return CompiledQuery(build({name: Param(name) for name in names}))
    # no engine in the key: a table's engine is set once, when the process imports it
    query_key = (key, frozenset(names))
    found = _cache.get(query_key)
    if found is None:
        found = CompiledQuery(build({name: Param(name) for name in query_key[1]}))
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()  # a flood of shapes can only come from code; start over
        _cache[query_key] = found
    return found


def clear_cache() -> None:
    _cache.clear()


def cache_size() -> int:
    return len(_cache)
