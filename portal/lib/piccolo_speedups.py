"""Faster, behaviour-identical replacements for the hot spots of Piccolo 1.38 on every query (issue #10).

Measured on the case list's page query (14 columns, two ForeignKey joins, a sub-select): Piccolo spent about
0.9 ms per query on top of asyncpg, and most of it in these places, each replaced here by code that gives the
same results, only cheaper (tests/db/test_piccolo_speedups.py compares both, byte for byte):

1. ``ForeignKey.__getattribute__`` asks ``name not in dir(self)`` on every attribute access whose name does
   not start with "_" (to set up lazy references). ``dir()`` builds and sorts a list of ~90 names each time.
   The same question is answered by the instance ``__dict__`` and the dicts of the class's MRO, exactly the
   names ``object.__dir__`` collects. Done by shadowing ``dir`` in that one module, so Piccolo's own method
   stays in force (its only dir() call is this test; ``apply`` checks that it still makes one).
2. ``QueryString.compile_string`` splits every template with ``string.Formatter().parse`` and makes a
   ``Fragment`` object per piece, on every query. Here the split of a template is memoised (a pure function
   of the string) and the SQL is joined directly: same text, same placeholder numbering, same arguments.
3. ``QueryString.process_args`` runs for each of the dozens of QueryStrings a query makes and imported
   ``Column`` every time; most have no args at all.
4. ``QueryString.__str__``: every where clause formats its column's name through it; for a template with no
   args and no braces the text is the template itself.
5. ``PostgresEngine.transform_response_to_dicts`` builds each row dict from an asyncpg ``Record`` through its
   mapping protocol (keys(), then a lookup per key). The rows of one result share their column names, so one
   function made for those names (a dict display with them as constant keys, as ``namedtuple`` makes its
   classes) gives the same dicts at about half the cost of ``dict(zip(names, record))``, duplicate names too
   (the last one wins in all three). On the case list's 51 rows of 15 columns: ~0.1 ms a page less.

``apply()`` is idempotent and runs in ``portal.lib.tables_base``, which every area's tables import, so the app,
the workers, the CLI and the tests all use it. On another Piccolo version it leaves Piccolo as it is and warns
(the tests then fail on purpose): the replacements mirror 1.38's code and must be re-checked after an upgrade.
"""

from __future__ import annotations

import builtins
import warnings
from string import Formatter
from typing import Any

import piccolo
from piccolo.columns import Column, column_types
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

PICCOLO_VERSION = "1.38.0"

_applied = False
_originals: dict[str, Any] = {}


class _AttributeNames:
    """What ``name in dir(obj)`` answers, without building dir()'s sorted list: the instance's attributes and
    those of every class in its MRO. Anything else than ``in`` falls back to the real ``dir()``."""

    __slots__ = ("_obj",)

    def __init__(self, obj: object) -> None:
        self._obj = obj

    def __contains__(self, name: object) -> bool:
        obj = self._obj
        if type(obj).__dir__ is not object.__dir__:  # a class with its own dir(): ask it
            return name in builtins.dir(obj)
        if name in object.__getattribute__(obj, "__dict__"):
            return True
        return any(name in klass.__dict__ for klass in type(obj).__mro__)

    def __iter__(self):
        return iter(builtins.dir(self._obj))

    def __len__(self) -> int:
        return len(builtins.dir(self._obj))


# --- QueryString compilation ------------------------------------------------------------------------------

_TEMPLATE_CACHE_SIZE = 4096  # distinct templates: column names, operators, tables; a few hundred in the portal
_template_prefixes: dict[str, tuple[str, ...]] = {}


def _prefixes(template: str) -> tuple[str, ...]:
    """The literal text before each ``{}`` of a template (and the trailing text): what ``bundle`` makes a
    ``Fragment`` of, in the same order."""
    found = _template_prefixes.get(template)
    if found is None:
        found = tuple(piece[0] for piece in Formatter().parse(template))
        if len(_template_prefixes) >= _TEMPLATE_CACHE_SIZE:
            _template_prefixes.clear()  # only ever raw SQL strings from code could grow it; start over
        _template_prefixes[template] = found
    return found


def _collect(querystring: QueryString, parts: list[str], args: list[Any], numbered: bool) -> None:
    # Mirrors QueryString.bundle: fragment i takes args[i] when there is one; a nested QueryString is
    # inlined (its own frozen string is ignored, as bundle ignores it), any other value becomes a parameter.
    values = querystring.args
    count = len(values)
    for index, prefix in enumerate(_prefixes(querystring.template)):
        parts.append(prefix)
        if index < count:
            value = values[index]
            if isinstance(value, QueryString):
                _collect(value, parts, args, numbered)
            else:
                args.append(value)
                parts.append(f"${len(args)}" if numbered else "?")


def process_args(self: QueryString, args) -> tuple[list[Any], list[Column]]:
    """Same result as Piccolo's ``QueryString.process_args``, which runs for every QueryString made (dozens
    per query) and imported ``Column`` on each call; most QueryStrings have no args at all."""
    if not args:
        return [], []
    processed_args = []
    columns: list[Column] = []
    for arg in args:
        if isinstance(arg, Column):
            columns.append(arg)
            arg = QueryString(f"{arg._meta.get_full_name(with_alias=False)}")
        elif isinstance(arg, QueryString):
            columns.extend(arg.columns)
        processed_args.append(arg)
    return processed_args, columns


def querystring_str(self: QueryString) -> str:
    """Same result as Piccolo's ``QueryString.__str__``. Every where clause formats its column's name through
    it (``"{name} = {value}".format(name=querystring)``); such a name has no args and no braces, and then the
    text is the template itself. Anything else takes Piccolo's own path."""
    template = self.template
    if not self.args and "{" not in template and "}" not in template:
        return template
    return _originals["__str__"](self)


def compile_string(self: QueryString, engine_type: str = "postgres") -> tuple[str, list[Any]]:
    """Same result as Piccolo's ``QueryString.compile_string``."""
    if self._frozen_compiled_strings is not None:
        return self._frozen_compiled_strings
    if engine_type in ("postgres", "cockroach"):
        numbered = True
    elif engine_type == "sqlite":
        numbered = False
    else:
        raise Exception("Engine type not recognised")  # noqa: TRY002 - Piccolo's own exception
    parts: list[str] = []
    args: list[Any] = []
    _collect(self, parts, args, numbered)
    return "".join(parts), args


# --- result rows --------------------------------------------------------------------------------------------


_ROW_BUILDER_CACHE_SIZE = 1024  # distinct column lists: one per select in the code
_row_builders: dict[tuple[str, ...], Any] = {}


def _row_builder(names: tuple[str, ...]):
    """The function that turns a row with these column names into its dict: ``{'id': v0, 'name': v1}``. A row
    of another length fails to unpack, as ``zip(..., strict=True)`` failed before."""
    found = _row_builders.get(names)
    if found is None:
        variables = "".join(f"v{index}, " for index in range(len(names)))
        items = ", ".join(f"{name!r}: v{index}" for index, name in enumerate(names))
        namespace: dict[str, Any] = {}
        # the names go in as repr() literals, so any text is just a key; nothing else comes from outside
        exec(f"def build(row):\n    {variables}= row\n    return {{{items}}}", namespace)  # noqa: S102
        found = namespace["build"]
        if len(_row_builders) >= _ROW_BUILDER_CACHE_SIZE:
            _row_builders.clear()  # only ever raw SQL strings from code could grow it; start over
        _row_builders[names] = found
    return found


def transform_response_to_dicts(self: PostgresEngine, results) -> list[dict]:
    """Same dicts as Piccolo's (``dict(record)`` per row), built from the names the rows share."""
    if not results:
        return []
    names = tuple(results[0].keys())
    if not names:  # SELECT without columns: PostgreSQL allows it
        return [{} for _ in results]
    return list(map(_row_builder(names), results))


# --- applying -----------------------------------------------------------------------------------------------


def apply() -> None:
    """Install the replacements once, on the Piccolo version they mirror; on any other, warn and leave it."""
    global _applied
    if _applied:
        return
    calls_dir = "dir" in column_types.ForeignKey.__getattribute__.__code__.co_names
    if piccolo.__VERSION__ != PICCOLO_VERSION or not calls_dir:
        # slower but correct: Piccolo's own code runs until each replacement is checked against the new version
        warnings.warn(f"portal.lib.piccolo_speedups mirrors Piccolo {PICCOLO_VERSION}, found {piccolo.__VERSION__}:"
                      " not applied; re-check it against this version", RuntimeWarning, stacklevel=2)
        return
    _originals.update(
        process_args=QueryString.process_args,
        __str__=QueryString.__str__,
        compile_string=QueryString.compile_string,
        transform_response_to_dicts=PostgresEngine.transform_response_to_dicts,
    )
    # A module global shadows the builtin for column_types only; its one dir() call is the membership test.
    column_types.dir = _AttributeNames
    QueryString.process_args = process_args
    QueryString.__str__ = querystring_str
    QueryString.compile_string = compile_string
    PostgresEngine.transform_response_to_dicts = transform_response_to_dicts
    _applied = True


def revert() -> None:
    """Put Piccolo's own code back (tests compare both)."""
    global _applied
    if not _applied:
        return
    del column_types.dir
    QueryString.process_args = _originals["process_args"]
    QueryString.__str__ = _originals["__str__"]
    QueryString.compile_string = _originals["compile_string"]
    PostgresEngine.transform_response_to_dicts = _originals["transform_response_to_dicts"]
    _applied = False


def is_applied() -> bool:
    return _applied
