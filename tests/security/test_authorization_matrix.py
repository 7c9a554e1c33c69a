"""The authorization matrix: every route of the app x every role x own versus other organisation.

Routes are enumerated from ``app.routes``, so a new route without an entry in ``EXPECTATIONS`` fails this
test (and so does an entry for a route that no longer exists). Every actor belongs to side A of a world
with two complete contracts (A and B); "own" asks for side A's object, "other" for side B's. Besides the
status code of each cell, no response to anyone on side A may ever contain side B's case number or
pseudonym, and lists must contain exactly the caller's own cases.
"""

import itertools
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx

from tests import factories

ROLES = ("anonymous", "admin", "contract_manager", "coordinator", "subcontractor")
SIDES = ("own", "other")
CASE_READERS = ("contract_manager", "coordinator", "subcontractor")
IGNORED_METHODS = {"OPTIONS", "HEAD"}
_unique = itertools.count(1)


@dataclass(frozen=True)
class Outcome:
    status: int
    location: str | None = None  # the redirect target starts with this
    contains: tuple[str, ...] = ()  # markers (formatted with the world) that must appear
    absent: tuple[str, ...] = ()  # markers that must not appear


@dataclass(frozen=True)
class RouteCase:
    url: Callable[[dict, str], str]
    expect: Callable[[str, str], Outcome]
    form: Callable[[dict, str], dict] | None = None  # POST: the form (a CSRF token is added)
    own_login: bool = False  # runs in a fresh login (it ends the session, or depends on its state)
    api: bool = False
    note: str = field(default="")


def fixed(path: str) -> Callable[[dict, str], str]:
    return lambda world, side: path


def case_url(prefix: str) -> Callable[[dict, str], str]:
    return lambda world, side: f"{prefix}/{world[side]['case_id']}"


LOGIN_REDIRECT = Outcome(303, "/inloggen")
FORBIDDEN = Outcome(403)


def page(ok: Outcome, allowed: tuple[str, ...] = ROLES[1:]) -> Callable[[str, str], Outcome]:
    """An HTML page: anonymous visitors go to the login; roles outside ``allowed`` get 403."""
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return LOGIN_REDIRECT
        return ok if role in allowed else FORBIDDEN
    return expect


def api(ok: Outcome, allowed: tuple[str, ...]) -> Callable[[str, str], Outcome]:
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return Outcome(401)
        return ok if role in allowed else FORBIDDEN
    return expect


def case_detail(json: bool) -> Callable[[str, str], Outcome]:
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return Outcome(401) if json else LOGIN_REDIRECT
        if role == "admin":
            return FORBIDDEN
        if side == "other":
            return Outcome(404)
        hidden = ("{own_pseudonym}",) if role == "contract_manager" else ()
        return Outcome(200, contains=("{own_case_number}",), absent=hidden)
    return expect


def public(outcome: Outcome) -> Callable[[str, str], Outcome]:
    return lambda role, side: outcome


def _unique_organisation(world: dict, side: str) -> dict:
    return {"name": f"Matrix organisatie {next(_unique)}", "kind": "subcontractor"}


def _unique_user(world: dict, side: str) -> dict:
    number = next(_unique)
    return {"display_name": f"Matrix persoon {number}", "email": f"matrix{number}@example.nl",
            "organisation_id": str(world[side]["subcontractor_org"]), "role": "subcontractor",
            "password": "een-goed-wachtwoord"}


LISTED = Outcome(200, contains=("{own_case_number}",))
SCHEMA_OK = public(Outcome(200))

EXPECTATIONS: dict[tuple[str, str], RouteCase] = {
    ("GET", "/"): RouteCase(fixed("/"), page(Outcome(200, contains=("Mijn werk",)))),
    ("GET", "/health"): RouteCase(fixed("/health"), public(Outcome(200))),
    ("GET", "/inloggen"): RouteCase(fixed("/inloggen"), public(Outcome(200, contains=("Inloggen bij Inzicht",)))),
    ("POST", "/inloggen"): RouteCase(
        fixed("/inloggen"), public(Outcome(400, contains=("onjuist",))),
        form=lambda world, side: {"email": "niemand@example.nl", "password": "fout"}),
    ("GET", "/inloggen/tweede-stap"): RouteCase(fixed("/inloggen/tweede-stap"), public(Outcome(303, "/inloggen"))),
    ("POST", "/inloggen/tweede-stap"): RouteCase(
        fixed("/inloggen/tweede-stap"), public(Outcome(400, contains=("verlopen",))),
        form=lambda world, side: {"code": "123456"}),
    ("POST", "/uitloggen"): RouteCase(
        fixed("/uitloggen"), page(Outcome(303, "/inloggen?uitgelogd=1")), form=lambda w, s: {}, own_login=True),
    ("POST", "/uitloggen/overal"): RouteCase(
        fixed("/uitloggen/overal"), page(Outcome(303, "/inloggen?uitgelogd=overal")), form=lambda w, s: {},
        own_login=True),
    ("GET", "/account"): RouteCase(fixed("/account"), page(Outcome(200, contains=("Mijn account",)))),
    ("GET", "/account/tweestapsverificatie"): RouteCase(
        fixed("/account/tweestapsverificatie"), page(Outcome(200, contains=("secret=",)))),
    ("POST", "/account/tweestapsverificatie"): RouteCase(
        fixed("/account/tweestapsverificatie"), page(Outcome(303, "/account/tweestapsverificatie")),
        form=lambda world, side: {"code": "123456"}, own_login=True),
    ("GET", "/beheer"): RouteCase(fixed("/beheer"), page(Outcome(200, contains=("Beheer",)), ("admin",))),
    ("POST", "/beheer/organisaties"): RouteCase(
        fixed("/beheer/organisaties"), page(Outcome(303, "/beheer?aangemaakt=organisatie"), ("admin",)),
        form=_unique_organisation),
    ("POST", "/beheer/gebruikers"): RouteCase(
        fixed("/beheer/gebruikers"), page(Outcome(303, "/beheer?aangemaakt=gebruiker"), ("admin",)),
        form=_unique_user),
    ("GET", "/beheer/audit"): RouteCase(
        fixed("/beheer/audit"),
        page(Outcome(200, contains=("{own_reader}",), absent=("{other_reader}",)), ("contract_manager",))),
    ("GET", "/casussen"): RouteCase(fixed("/casussen"), page(LISTED, CASE_READERS)),
    ("GET", "/casussen/{case_id:int}"): RouteCase(case_url("/casussen"), case_detail(json=False)),
    ("GET", "/api/v1/cases"): RouteCase(fixed("/api/v1/cases"), api(LISTED, CASE_READERS), api=True),
    ("GET", "/api/v1/cases/{case_id:int}"): RouteCase(case_url("/api/v1/cases"), case_detail(json=True), api=True),
    ("GET", "/static/{file_path:path}"): RouteCase(fixed("/static/css/portal.css"), public(Outcome(200))),
    ("GET", "/api/schema"): RouteCase(fixed("/api/schema"), SCHEMA_OK),
    ("GET", "/api/schema/elements"): RouteCase(fixed("/api/schema/elements"), SCHEMA_OK),
    ("GET", "/api/schema/rapidoc"): RouteCase(fixed("/api/schema/rapidoc"), SCHEMA_OK),
    ("GET", "/api/schema/redoc"): RouteCase(fixed("/api/schema/redoc"), SCHEMA_OK),
    ("GET", "/api/schema/swagger"): RouteCase(fixed("/api/schema/swagger"), SCHEMA_OK),
    ("GET", "/api/schema/openapi.yml"): RouteCase(fixed("/api/schema/openapi.yml"), SCHEMA_OK),
    ("GET", "/api/schema/openapi.yaml"): RouteCase(fixed("/api/schema/openapi.yaml"), SCHEMA_OK),
    ("GET", "/api/schema/openapi.json"): RouteCase(fixed("/api/schema/openapi.json"), SCHEMA_OK),
    ("GET", "/api/schema/{path:str}"): RouteCase(fixed("/api/schema/onbekend"), public(Outcome(404))),
    ("GET", "/api/schema/oauth2-redirect.html"): RouteCase(fixed("/api/schema/oauth2-redirect.html"), SCHEMA_OK),
}


def app_routes(app) -> set[tuple[str, str]]:
    return {(method, route.path) for route in app.routes
            for method in getattr(route, "methods", ()) if method not in IGNORED_METHODS}


async def _build_world():
    """Two complete contracts, A and B; every person used as an actor is on side A (plus spares for
    the routes that end a session)."""
    world: dict = {"people": {}, "spares": {}}
    platform = await factories.organisation("platform", "Platformbeheer")
    for side, label in (("own", "Noord"), ("other", "Zuid")):
        municipality = await factories.organisation("municipality", f"Gemeente {label}")
        main = await factories.organisation("main_contractor", f"Hoofdaannemer {label}")
        sub = await factories.organisation("subcontractor", f"Onderaannemer {label}")
        contract = await factories.contract(municipality, main, name=f"Contract {label}")
        await factories.subcontract(contract, sub)
        case = await factories.case(contract, status="allocation_requested", subcontractor=sub.id)
        await factories.event(case, "allocation_requested", sub)
        reader = await factories.user(main, "coordinator", display_name=f"Lezer {label}")
        world[side] = {"case_id": case.id, "case_number": case.case_number, "pseudonym": case.pseudonym,
                       "subcontractor_org": sub.id, "reader": reader, "reader_name": reader.display_name}
        if side == "own":
            organisations = {"admin": platform, "contract_manager": municipality, "coordinator": main,
                             "subcontractor": sub}
            for role, org in organisations.items():
                world["people"][role] = await factories.user(org, role, display_name=f"Actor {role}")
                world["spares"][role] = await factories.user(org, role, display_name=f"Reserve {role}")
    world["markers"] = {
        "own_case_number": world["own"]["case_number"], "own_pseudonym": world["own"]["pseudonym"],
        "own_reader": world["own"]["reader_name"], "other_reader": world["other"]["reader_name"],
    }
    return world


async def _audit_reads(app, world):
    """Both sides' coordinators read their own case, so the audit trails have entries on both sides."""
    for side in SIDES:
        async with factories.logged_in(app, world[side]["reader"], address="192.0.2.200") as http:
            assert (await http.get(f"/api/v1/cases/{world[side]['case_id']}")).status_code == 200


async def _call(http: httpx.AsyncClient, route: RouteCase, world: dict, side: str) -> httpx.Response:
    url = route.url(world, side)
    headers = {"accept": "application/json"} if route.api else {"accept": "text/html"}
    if route.form is not None:
        data = {"_csrf_token": await factories.csrf_token(http), **route.form(world, side)}
        return await http.post(url, data=data, headers=headers)
    return await http.get(url, headers=headers)


def _check(response: httpx.Response, expected: Outcome, world: dict, cell: str) -> None:
    assert response.status_code == expected.status, f"{cell}: {response.status_code} {response.text[:300]}"
    if expected.location is not None:
        assert response.headers.get("location", "").startswith(expected.location), (
            f"{cell}: location {response.headers.get('location')}")
    text = response.text
    for marker in expected.contains:
        assert marker.format(**world["markers"]) in text, f"{cell}: {marker} missing"
    for marker in expected.absent:
        assert marker.format(**world["markers"]) not in text, f"{cell}: {marker} leaked"
    # side B's case never reaches anyone on side A, whatever the route
    assert world["other"]["case_number"] not in text, f"{cell}: the other organisation's case leaked"
    assert world["other"]["pseudonym"] not in text, f"{cell}: the other organisation's pseudonym leaked"


async def test_every_route_for_every_role_and_organisation(app, capsys):
    routes = app_routes(app)
    missing = routes - EXPECTATIONS.keys()
    assert not missing, f"routes without an entry in the authorization matrix: {sorted(missing)}"
    stale = EXPECTATIONS.keys() - routes
    assert not stale, f"matrix entries for routes that do not exist: {sorted(stale)}"

    world = await _build_world()
    await _audit_reads(app, world)
    addresses = (f"10.9.{n // 250}.{n % 250 + 1}" for n in itertools.count())
    checked = 0
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {
            "anonymous": await stack.enter_async_context(factories.http_client(app, next(addresses)))}
        for role, person in world["people"].items():
            clients[role] = await stack.enter_async_context(factories.logged_in(app, person, address=next(addresses)))
        for (method, path), route in sorted(EXPECTATIONS.items()):
            for role in ROLES:
                for side in SIDES:
                    cell = f"{method} {path} as {role} ({side})"
                    expected = route.expect(role, side)
                    if route.own_login and role != "anonymous":
                        spare = world["spares"][role]
                        async with factories.logged_in(app, spare, address=next(addresses)) as http:
                            response = await _call(http, route, world, side)
                    else:
                        response = await _call(clients[role], route, world, side)
                    _check(response, expected, world, cell)
                    checked += 1
        # the long-lived sessions are still valid: no cell ended another role's session
        for role in ROLES[1:]:
            assert (await clients[role].get("/api/v1/cases")).status_code in (200, 403)
    # list routes return exactly the caller's own case
    async with factories.logged_in(app, world["people"]["subcontractor"], address=next(addresses)) as http:
        listed = (await http.get("/api/v1/cases")).json()
        assert [row["id"] for row in listed["cases"]] == [world["own"]["case_id"]] and listed["total"] == 1
    with capsys.disabled():
        print(f"\nauthorization matrix: {checked} cells checked "
              f"({len(EXPECTATIONS)} routes x {len(ROLES)} roles x {len(SIDES)} organisations)")
    assert checked == len(EXPECTATIONS) * len(ROLES) * len(SIDES)
