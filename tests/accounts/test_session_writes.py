"""A page view does not write the session back unless it changed or its renewal is due: the expiry still
slides for an active person, at ten minutes' grain, and logging in or out always writes."""

import pytest

from portal.accounts import auth
from portal.accounts.tables import SessionRecord
from tests import factories

HTML = {"accept": "text/html"}
NOW = 1_800_000_000.0


@pytest.mark.parametrize("session, as_loaded, now, rotated, expected", [
    ({"uid": 1, "renewed": int(NOW)}, {"uid": 1, "renewed": int(NOW)}, NOW + 60, False, False),
    ({"uid": 1, "renewed": int(NOW)}, {"uid": 1, "renewed": int(NOW)}, NOW + auth.SESSION_RENEW_INTERVAL, False,
     True),
    ({"uid": 1, "renewed": int(NOW)}, {"uid": 1, "renewed": int(NOW)}, NOW + 60, True, True),  # new id at login
    ({"uid": 1, "renewed": int(NOW), "flash": "x"}, {"uid": 1, "renewed": int(NOW)}, NOW + 60, False, True),
    ({"uid": 1}, {"uid": 1}, NOW, False, True),  # never renewed: written once to start the clock
    ({"uid": 1}, None, NOW, False, True),  # nothing was loaded: a new session
])
def test_which_sessions_are_written(session, as_loaded, now, rotated, expected):
    assert auth.session_needs_writing(session, as_loaded, now, rotated=rotated) is expected


async def _record(session_id: str) -> dict:
    return await SessionRecord.select(SessionRecord.data, SessionRecord.expires_at).where(
        SessionRecord.key == f"sessions:{session_id}").first()


async def test_page_views_leave_the_stored_session_alone_until_renewal_is_due(app, monkeypatch):
    person = await factories.user(await factories.organisation("main_contractor"), "coordinator")
    async with factories.logged_in(app, person) as http:
        session_id = http.cookies[factories.SESSION_COOKIE]
        await http.get("/", headers=HTML)
        stored = await _record(session_id)
        for _ in range(3):
            response = await http.get("/", headers=HTML)
            assert response.status_code == 200
            assert not [c for c in response.headers.get_list("set-cookie")
                        if c.startswith(f"{factories.SESSION_COOKIE}=")]
        assert await _record(session_id) == stored
        monkeypatch.setattr(auth, "SESSION_RENEW_INTERVAL", 0)  # renewal due: the expiry slides on
        assert (await http.get("/", headers=HTML)).status_code == 200
        renewed = await _record(session_id)
        assert renewed["expires_at"] > stored["expires_at"]
        # still one and the same session, and it still works
        assert http.cookies[factories.SESSION_COOKIE] == session_id
        assert (await http.get("/", headers=HTML)).status_code == 200
