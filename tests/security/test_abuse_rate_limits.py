"""Rate limits hold under concurrent requests: the login limit per address, the lock-out per account (never
more than MAX_FAILED_LOGINS passwords checked, however many arrive at once) and the JSON API's limit per
person. Every refusal is a 429 (or the lock-out message) in Dutch, with RateLimit headers."""

import asyncio
from collections import Counter
from contextlib import asynccontextmanager

from portal.accounts import api_keys
from portal.accounts.rules import MAX_FAILED_LOGINS
from portal.accounts.service import LOCKED_MESSAGE, REFUSED_MESSAGE
from portal.accounts.tables import AuditEntry, User
from portal.app import create_app
from portal.settings import Settings
from tests import factories

HTML = {"accept": "text/html"}


@asynccontextmanager
async def portal(**overrides):
    """An app with its own settings, its lifespan on the test's loop (as the `app` fixture does)."""
    application = create_app(Settings(**overrides))
    started, stop = asyncio.Event(), asyncio.Event()

    async def run():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    await asyncio.wait_for(started.wait(), timeout=30)
    try:
        yield application
    finally:
        stop.set()
        await task


async def test_the_login_limit_per_address_holds_under_a_concurrent_burst(db):
    limit = 8
    async with portal(login_attempts_per_minute=limit) as app:
        person = await factories.user(await factories.organisation("main_contractor"), "coordinator")
        async with factories.http_client(app, "198.51.100.7") as http:
            token = await factories.csrf_token(http)
            answers = await asyncio.gather(*(http.post("/inloggen", headers=HTML, data={
                "_csrf_token": token, "email": f"onbekend{n}@example.nl", "password": "fout"}) for n in range(25)))
            statuses = Counter(answer.status_code for answer in answers)
            assert statuses[429] == 25 - limit, statuses  # exactly `limit` attempts were checked
            refused = next(answer for answer in answers if answer.status_code == 429)
            assert "Te veel pogingen" in refused.text and refused.headers["ratelimit-limit"] == str(limit)
            checked = await AuditEntry.count().where(AuditEntry.action == "login")
            assert checked == limit
            # the right password from the same address waits too
            late = await factories.login(http, person.email)
            assert late.status_code == 429
        # another address has a budget of its own
        async with factories.http_client(app, "198.51.100.8") as other:
            assert (await factories.login(other, person.email)).status_code == 303


async def test_the_account_lock_out_holds_under_concurrent_wrong_passwords(app):
    person = await factories.user(await factories.organisation("main_contractor"), "coordinator")

    async def attempt(n: int, typed: str = "fout-wachtwoord"):
        async with factories.http_client(app, f"192.0.2.{n}") as http:  # many addresses: the lock-out alone
            return await factories.login(http, person.email, typed)

    answers = await asyncio.gather(*(attempt(n) for n in range(1, 21)))
    texts = [answer.text for answer in answers]
    assert all(400 <= answer.status_code < 500 for answer in answers), [a.status_code for a in answers]
    refused = sum(REFUSED_MESSAGE in text for text in texts)
    locked = sum(LOCKED_MESSAGE.split(".")[0] in text for text in texts)
    assert refused + locked == 20 and refused == MAX_FAILED_LOGINS - 1, (refused, locked)
    checked = await AuditEntry.count().where(AuditEntry.action == "login", AuditEntry.result == "refused")
    assert checked == MAX_FAILED_LOGINS  # no more passwords were checked than the lock-out allows
    row = await User.select(User.locked_until).where(User.id == person.id).first()
    assert row["locked_until"] is not None
    # locked: even the right password is refused now, and no session is given
    right = await attempt(99, factories.PASSWORD)
    assert right.status_code != 303 and LOCKED_MESSAGE.split(".")[0] in right.text
    assert factories.SESSION_COOKIE not in right.cookies


async def test_the_api_limit_per_person_holds_under_a_concurrent_burst(db):
    limit = 10
    async with portal(api_requests_per_minute=limit) as app:
        main = await factories.organisation("main_contractor")
        first, second = await factories.user(main, "coordinator"), await factories.user(main, "coordinator")
        key = (await api_keys.create_api_key_for(first.email, "burst")).key
        other_key = (await api_keys.create_api_key_for(second.email, "ander")).key
        async with factories.http_client(app) as http:
            answers = await asyncio.gather(*(http.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"})
                                             for _ in range(30)))
            statuses = Counter(answer.status_code for answer in answers)
            assert statuses == {200: limit, 429: 30 - limit}, statuses
            refused = next(answer for answer in answers if answer.status_code == 429)
            body = refused.json()
            assert body["code"] == "too_many_requests" and body["detail"].startswith("Te veel verzoeken")
            assert refused.headers["ratelimit-limit"] == str(limit) and refused.headers["ratelimit-remaining"] == "0"
            # a second key of the same person shares the budget; another person has one of its own
            same_person = (await api_keys.create_api_key_for(first.email, "tweede")).key
            assert (await http.get("/api/v1/cases", headers={"Authorization": f"Bearer {same_person}"})
                    ).status_code == 429
            assert (await http.get("/api/v1/cases", headers={"Authorization": f"Bearer {other_key}"})
                    ).status_code == 200
            # writes count too, and a refused write changes nothing
            from portal.cases.tables import Case

            blocked = await http.post("/api/v1/cases", json={"contract_id": 1}, headers={
                "Authorization": f"Bearer {key}"})
            assert blocked.status_code == 429 and await Case.count() == 0
