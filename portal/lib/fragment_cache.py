"""``{% cached key %}...{% endcached %}``: keep a rendered piece of a page per process and reuse it while its
key is unchanged. For large read-only blocks whose data carries its own version (the contract dashboard's
figures are keyed by the contract's fingerprint), where rendering costs more than computing.

Only content that is the same for everyone with the same key may be cached: never a CSRF field, a name or
anything else of the person asking. A key of None renders without caching.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable

from jinja2 import nodes
from jinja2.ext import Extension
from markupsafe import Markup

MAX_FRAGMENTS = 256


class FragmentCacheExtension(Extension):
    tags = {"cached"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(fragment_cache=OrderedDict())

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        key = parser.parse_expression()
        body = parser.parse_statements(("name:endcached",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", [key]), [], [], body).set_lineno(lineno)

    def _render(self, key: Hashable | None, caller: Callable[[], str]) -> str:
        if key is None:
            return caller()
        store: OrderedDict = self.environment.fragment_cache
        hit = store.get(key)
        if hit is not None:
            store.move_to_end(key)
            return hit
        fragment = Markup(caller())  # noqa: S704 - Jinja output, escaped while it was rendered
        store[key] = fragment
        while len(store) > MAX_FRAGMENTS:
            store.popitem(last=False)
        return fragment
