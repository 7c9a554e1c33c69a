"""Login, sessions, CSRF, lock-out, second factor, logout (everywhere), Beheer and the audit page, over HTTP."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pyotp

from portal.accounts import auth
from portal.accounts.store import DatabaseStore
from portal.accounts.tables import AuditEntry, SessionRecord, User
from portal.app import create_app
from portal.lib.formatting import format_date, today_nl
from portal.settings import Settings
from tests import factories

HTML = {"accept": "text/html"}


def _session_cookie_header(response: httpx.Response) -> str:
    headers = [value for value in response.headers.get_list("set-cookie")
               if value.startswith(f"{factories.SESSION_COOKIE}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def _without_tokens(html: str) -> str:
    return re.sub(r'name="_csrf_token" value="[^"]*"', "", html)


async def _person(kind: str = "main_contractor", role: str = "coordinator", **fields) -> User:
    return await factories.user(await factories.organisation(kind), role, **fields)


async def test_the_login_page_is_dutch_and_accessible(client):
    response = await client.get("/inloggen", headers=HTML)
    assert response.status_code == 200
    html = response.text
    assert "<h1>Inloggen bij Inzicht</h1>" in html
    assert '<label for="email">E-mailadres</label>' in html and '<label for="password">Wachtwoord</label>' in html
    assert 'autocomplete="current-password"' in html and "autofocus" in html
    assert 'name="_csrf_token"' in html
    # anonymous visitors of any page are sent to the login, and come back after it
    redirect = await client.get("/casussen?status=assessment")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/inloggen?volgende=%2Fcasussen%3Fstatus%3Dassessment"
    assert (await client.get("/api/v1/cases")).status_code == 401


async def test_login_succeeds_and_lands_on_mijn_werk(app, client):
    person = await _person()
    response = await factories.login(client, person.email.upper())  # e-mail addresses are case-insensitive
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = await client.get("/", headers=HTML)
    assert home.status_code == 200
    assert "<h1>Mijn werk</h1>" in home.text and person.display_name in home.text
    row = await User.select(User.last_login_at, User.failed_logins).where(User.id == person.id).first()
    assert row["last_login_at"] is not None and row["failed_logins"] == 0
    entry = await AuditEntry.select().where(AuditEntry.action == "login").order_by(
        AuditEntry.id, ascending=False).first()
    assert (entry["user"], entry["result"], entry["origin"]) == (person.id, "ok", "203.0.113.7")


async def test_login_goes_back_to_the_page_asked_for(client):
    person = await _person()
    response = await factories.post_form(client, "/inloggen", {
        "email": person.email, "password": factories.PASSWORD, "volgende": "/casussen"})
    assert response.headers["location"] == "/casussen"
    evil = await factories.post_form(client, "/inloggen", {
        "email": person.email, "password": factories.PASSWORD, "volgende": "//evil.example/"})
    assert evil.headers["location"] == "/"


async def test_a_failed_login_shows_an_error_summary_and_does_not_reveal_the_address(client):
    person = await _person()
    wrong = await factories.login(client, person.email, "verkeerd-wachtwoord")
    unknown = await factories.login(client, "onbekend@example.nl", "verkeerd-wachtwoord")
    assert wrong.status_code == unknown.status_code == 400
    assert "Het e-mailadres of het wachtwoord is onjuist." in wrong.text
    assert 'role="alert"' in wrong.text and '<a href="#email">' in wrong.text and 'aria-invalid="true"' in wrong.text
    assert "verkeerd-wachtwoord" not in wrong.text  # the password is never echoed
    assert _without_tokens(wrong.text).replace(person.email, "X") == _without_tokens(unknown.text).replace(
        "onbekend@example.nl", "X")
    assert factories.SESSION_COOKIE not in client.cookies


async def test_five_failures_lock_the_account_for_fifteen_minutes(client):
    person = await _person()
    for attempt in range(1, 6):
        response = await factories.login(client, person.email, f"fout-{attempt}")
        assert response.status_code == 400
    assert "15 minuten niet inloggen" in response.text
    locked = await factories.login(client, person.email)  # the right password, but locked
    assert locked.status_code == 400 and "15 minuten niet inloggen" in locked.text
    # the lock lives on the user row (so every portal process honours it) ...
    row = await User.select(User.locked_until).where(User.id == person.id).first()
    assert timedelta(minutes=14) < row["locked_until"] - datetime.now(UTC) <= timedelta(minutes=15)
    # ... and once it has run out, the right password works again
    await User.update({User.locked_until: datetime.now(UTC) - timedelta(seconds=1)}).where(User.id == person.id)
    assert (await factories.login(client, person.email)).status_code == 303
    # unknown addresses are 'locked' the same way, so the answers cannot tell them apart
    for _ in range(5):
        unknown = await factories.login(client, "niemand@example.nl", "fout")
    assert "15 minuten niet inloggen" in unknown.text


async def test_a_form_without_a_valid_csrf_token_is_refused(client):
    person = await _person()
    await client.get("/inloggen")
    missing = await client.post("/inloggen", data={"email": person.email, "password": factories.PASSWORD},
                                headers=HTML)
    assert missing.status_code == 403
    assert "formulier is verlopen" in missing.text
    forged = await client.post("/inloggen", headers=HTML, data={
        "email": person.email, "password": factories.PASSWORD, "_csrf_token": "0" * 128})
    assert forged.status_code == 403
    assert factories.SESSION_COOKIE not in client.cookies
    # logged in, a form posted without the token (as from another site) is refused and changes nothing
    await factories.login(client, person.email)
    cross_site = await client.post("/uitloggen/overal")
    assert cross_site.status_code == 403 and "formulier" in cross_site.json()["detail"]
    assert (await client.get("/", headers=HTML)).status_code == 200
    row = await User.select(User.session_generation).where(User.id == person.id).first()
    assert row["session_generation"] == 0


async def test_login_issues_a_new_session_id(app):
    person = await _person()
    store = DatabaseStore("sessions")
    planted = "a" * 64
    await store.set(planted, b'{"planted": true}', expires_in=3600)
    async with factories.http_client(app) as http:
        http.cookies.set(factories.SESSION_COOKIE, planted, domain="testserver.local")
        response = await factories.login(http, person.email)
        assert response.status_code == 303
        issued = http.cookies[factories.SESSION_COOKIE]
        assert issued != planted and len(issued) == 64
        assert await store.get(planted) is None  # the planted session is gone
        assert await store.get(issued) is not None
    async with factories.http_client(app) as attacker:
        attacker.cookies.set(factories.SESSION_COOKIE, planted, domain="testserver.local")
        assert (await attacker.get("/", headers=HTML)).status_code == 303


async def test_session_cookie_flags(client):
    person = await _person()
    response = await factories.login(client, person.email)
    header = _session_cookie_header(response)
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Secure" not in header  # tests run over plain http
    production = Settings(environment="production", secret_key="p" * 48, pseudonym_key="q" * 48)
    assert auth.session_config(production).secure and auth.csrf_config(production).cookie_secure
    assert not auth.session_config(Settings(environment="development")).secure
    # anonymous requests leave no session behind
    async_count = await SessionRecord.count().where(SessionRecord.key.like("sessions:%"))
    assert async_count == 1


async def test_logout_ends_the_session(client):
    person = await _person()
    await factories.login(client, person.email)
    session_id = client.cookies[factories.SESSION_COOKIE]
    response = await factories.post_form(client, "/uitloggen")
    assert response.status_code == 303 and response.headers["location"] == "/inloggen?uitgelogd=1"
    assert "Max-Age=0" in _session_cookie_header(response)
    assert await DatabaseStore("sessions").get(session_id) is None
    # replaying the old cookie does not help
    client.cookies.set(factories.SESSION_COOKIE, session_id, domain="testserver.local")
    assert (await client.get("/", headers=HTML)).status_code == 303
    page = await client.get("/inloggen?uitgelogd=1", headers=HTML)
    assert "U bent uitgelogd." in page.text


async def test_logout_everywhere_invalidates_every_other_session(app):
    person = await _person()
    async with (factories.logged_in(app, person) as laptop,
                factories.logged_in(app, person, address="192.0.2.9") as phone):
        assert (await phone.get("/api/v1/cases")).status_code == 200
        response = await factories.post_form(laptop, "/uitloggen/overal")
        assert response.headers["location"] == "/inloggen?uitgelogd=overal"
        assert (await phone.get("/api/v1/cases")).status_code == 401
        assert (await phone.get("/", headers=HTML)).status_code == 303
        row = await User.select(User.session_generation).where(User.id == person.id).first()
        assert row["session_generation"] == 1
        # a fresh login gets the new generation and works
        assert (await factories.login(phone, person.email)).status_code == 303
        assert (await phone.get("/api/v1/cases")).status_code == 200


async def _second_step(http: httpx.AsyncClient, code: str) -> httpx.Response:
    return await factories.post_form(http, "/inloggen/tweede-stap", {"code": code})


async def test_a_contract_that_requires_totp_forces_enrolment_at_login(client):
    municipality = await factories.organisation("municipality")
    await factories.contract(municipality, requires_totp=True)
    person = await factories.user(municipality, "contract_manager")
    response = await factories.login(client, person.email)
    assert response.headers.get("location") == "/inloggen/tweede-stap", response.text[-2000:]
    assert (await client.get("/", headers=HTML)).status_code == 303  # not logged in before the second step
    await factories.login(client, person.email)
    page = await client.get("/inloggen/tweede-stap", headers=HTML)
    secret = re.search(r"secret=([A-Z2-7]+)", page.text).group(1)
    assert "verplicht" in page.text and '<label for="code">' in page.text
    wrong = await _second_step(client, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 400 and "De code is onjuist" in wrong.text
    done = await _second_step(client, pyotp.TOTP(secret).now())
    assert done.status_code == 303, done.text[-3000:] and done.headers["location"] == "/"
    assert (await client.get("/", headers=HTML)).status_code == 200
    stored = await User.select(User.totp_secret).where(User.id == person.id).first()
    assert stored["totp_secret"] == secret
    # the next login asks for a code and shows no secret
    await factories.post_form(client, "/uitloggen")
    await factories.login(client, person.email)
    page = await client.get("/inloggen/tweede-stap", headers=HTML)
    assert "secret=" not in page.text
    assert (await _second_step(client, pyotp.TOTP(secret).now())).status_code == 303


async def test_wrong_codes_count_towards_the_lock_out(client):
    person = await _person(totp_secret=pyotp.random_base32())
    await factories.login(client, person.email)
    for _ in range(4):
        assert (await _second_step(client, "123456")).status_code == 400
    locked = await _second_step(client, "123456")
    assert "15 minuten niet inloggen" in locked.text


async def test_a_person_can_turn_on_totp_and_is_asked_for_it_from_then_on(app):
    person = await _person()
    async with factories.logged_in(app, person) as http:
        page = await http.get("/account/tweestapsverificatie", headers=HTML)
        secret = re.search(r"secret=([A-Z2-7]+)", page.text).group(1)
        refused = await factories.post_form(http, "/account/tweestapsverificatie", {"code": "12"})
        assert refused.status_code == 422 and "De code is onjuist" in refused.text
        done = await factories.post_form(http, "/account/tweestapsverificatie", {"code": pyotp.TOTP(secret).now()})
        assert done.headers["location"] == "/account?tweestap=aan"
        assert "Tweestapsverificatie staat aan." in (await http.get(done.headers["location"], headers=HTML)).text
    async with factories.http_client(app) as http:
        assert (await factories.login(http, person.email)).headers["location"] == "/inloggen/tweede-stap"


async def test_login_attempts_are_rate_limited_per_address(app):
    strict = create_app(Settings(login_attempts_per_minute=3))
    async with factories.http_client(strict, address="198.51.100.77") as http:
        statuses = [(await factories.login(http, "iemand@example.nl", "fout")).status_code for _ in range(4)]
        assert statuses == [400, 400, 400, 429]
        limited = await factories.login(http, "iemand@example.nl", "fout")
        assert "Te veel pogingen" in limited.text
        assert (await http.get("/inloggen")).status_code == 200  # only the attempts are limited


async def test_admin_manages_organisations_and_users_through_beheer(app):
    admin = await _person("platform", "admin")
    async with factories.logged_in(app, admin) as http:
        created = await factories.post_form(http, "/beheer/organisaties",
                                            {"name": "Wijkracht", "kind": "main_contractor"})
        assert created.headers["location"] == "/beheer?aangemaakt=organisatie"
        page = await http.get("/beheer?aangemaakt=organisatie", headers=HTML)
        assert "De organisatie is aangemaakt." in page.text and "Wijkracht" in page.text
        org_id = re.search(r'<option value="(\d+)" >Wijkracht', page.text).group(1)
        invalid = await factories.post_form(http, "/beheer/gebruikers", {
            "display_name": "Nieuwe Coördinator", "email": "geen-adres", "organisation_id": org_id,
            "role": "coordinator", "password": "een-goed-wachtwoord"})
        assert invalid.status_code == 422 and "geldig e-mailadres" in invalid.text
        assert 'href="#user-email"' in invalid.text and "een-goed-wachtwoord" not in invalid.text
        made = await factories.post_form(http, "/beheer/gebruikers", {
            "display_name": "Nieuwe Coördinator", "email": "nieuw@wijkracht.nl", "organisation_id": org_id,
            "role": "coordinator", "password": "een-goed-wachtwoord"})
        assert made.headers["location"] == "/beheer?aangemaakt=gebruiker"
    async with factories.http_client(app) as http:
        assert (await factories.login(http, "nieuw@wijkracht.nl", "een-goed-wachtwoord")).status_code == 303
        assert (await http.get("/beheer", headers=HTML)).status_code == 403
    changes = await AuditEntry.select(AuditEntry.action, AuditEntry.object_type).where(
        AuditEntry.action == "create").order_by(AuditEntry.id)
    assert [(c["action"], c["object_type"]) for c in changes] == [("create", "organisation"), ("create", "user")]


async def test_the_contract_manager_filters_the_audit_trail_by_dutch_dates(app):
    municipality = await factories.organisation("municipality")
    main = await factories.organisation("main_contractor")
    contract = await factories.contract(municipality, main)
    case = await factories.case(contract)
    coordinator = await factories.user(main, "coordinator")
    manager = await factories.user(municipality, "contract_manager")
    async with factories.logged_in(app, coordinator) as http:
        assert (await http.get(f"/casussen/{case.id}", headers=HTML)).status_code == 200
    today = format_date(today_nl())  # the audit page reads van/tot as Amsterdam dates
    async with factories.logged_in(app, manager) as http:
        page = await http.get(f"/beheer/audit?van={today}&tot={today}&casus={case.case_number}", headers=HTML)
        assert page.status_code == 200
        assert coordinator.display_name in page.text and f"case {case.id}" in page.text
        earlier = await http.get("/beheer/audit?tot=01-01-2020", headers=HTML)
        assert "Geen regels gevonden" in earlier.text
        invalid = await http.get("/beheer/audit?van=2026-01-01", headers=HTML)
        assert invalid.status_code == 422 and "dd-mm-jjjj" in invalid.text


async def test_a_contract_manager_requires_a_second_factor_on_their_contract(app, db):
    from portal.accounts.tables import AuditEntry
    from portal.contracts.tables import Contract

    municipality = await factories.organisation("municipality", "Gemeente Veilig")
    main = await factories.organisation("main_contractor")
    sub = await factories.organisation("subcontractor")
    contract = await factories.contract(municipality, main, name="Contract Veilig")
    await factories.subcontract(contract, sub)
    manager = await factories.user(municipality, "contract_manager")
    worker = await factories.user(sub, "subcontractor")
    other_manager = await factories.user(await factories.organisation("municipality"), "contract_manager")

    async with factories.logged_in(app, other_manager) as http:  # another municipality: not known
        refused = await factories.post_form(http, f"/beheer/beveiliging/{contract.id}", {"verplicht": "ja"})
        assert refused.status_code == 404
    async with factories.logged_in(app, manager) as http:
        page = await http.get("/beheer/beveiliging", headers={"accept": "text/html"})
        assert "Contract Veilig" in page.text and "Niet verplicht" in page.text
        bad = await factories.post_form(http, f"/beheer/beveiliging/{contract.id}", {"verplicht": "misschien"})
        assert bad.status_code == 422 and "ja of nee" in bad.text
        done = await factories.post_form(http, f"/beheer/beveiliging/{contract.id}", {"verplicht": "ja"})
        assert done.status_code == 303
    assert (await Contract.select(Contract.requires_totp).where(Contract.id == contract.id).first())["requires_totp"]
    entry = await AuditEntry.select().where(AuditEntry.object_type == "contract").first()
    assert entry["action"] == "change" and entry["user"] == manager.id

    # the subcontractor's next login asks for the second factor instead of opening the portal
    async with factories.http_client(app) as http:
        response = await factories.login(http, worker.email)
        assert response.status_code == 303 and response.headers["location"] != "/"
