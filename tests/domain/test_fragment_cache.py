"""``{% cached key %}``: a fragment is rendered once per key and reused; a key of None never caches; the
store is bounded."""

from jinja2 import DictLoader, Environment

from portal.lib import fragment_cache

TEMPLATE = "{% cached key %}<p>{{ render() }} {{ text }}</p>{% endcached %}|{{ who }}"


def _environment() -> tuple[Environment, list[int]]:
    calls: list[int] = []

    def render() -> int:
        calls.append(1)
        return len(calls)

    env = Environment(loader=DictLoader({"page.html": TEMPLATE}), extensions=[fragment_cache.FragmentCacheExtension],
                      autoescape=True)
    env.globals["render"] = render
    return env, calls


def test_a_fragment_is_rendered_once_per_key_and_the_rest_of_the_page_every_time():
    env, calls = _environment()
    page = env.get_template("page.html")
    assert page.render(key=("v", 1), text="<b>", who="Anna") == "<p>1 &lt;b&gt;</p>|Anna"
    assert page.render(key=("v", 1), text="changed", who="Bram") == "<p>1 &lt;b&gt;</p>|Bram"
    assert len(calls) == 1
    assert page.render(key=("v", 2), text="new", who="Bram") == "<p>2 new</p>|Bram"


def test_no_key_means_no_caching():
    env, calls = _environment()
    page = env.get_template("page.html")
    page.render(key=None, text="a", who="")
    page.render(key=None, text="b", who="")
    assert len(calls) == 2
    assert env.fragment_cache == {}


def test_the_store_keeps_only_the_most_recent_fragments(monkeypatch):
    monkeypatch.setattr(fragment_cache, "MAX_FRAGMENTS", 3)
    env, calls = _environment()
    page = env.get_template("page.html")
    for version in range(5):
        page.render(key=version, text="", who="")
    assert list(env.fragment_cache) == [2, 3, 4]
    page.render(key=0, text="", who="")  # evicted: rendered again
    assert len(calls) == 6
