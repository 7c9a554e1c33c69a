"""Signal pages through the real app: inbox filters and counts, detail, actions as forms with CSRF, raise."""

from datetime import timedelta

import pytest

from portal.signals import service
from portal.signals.tables import Signal, SignalComment
from tests import factories
from tests.signals.test_service import at, working_days_ago


@pytest.fixture
async def web_world(app):
    municipality = await factories.organisation("municipality", "Gemeente Webdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Web")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer Alfa")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer Beta")
    contract = await factories.contract(municipality, main, name="Contract Web")
    await factories.subcontract(contract, sub_a)
    await factories.subcontract(contract, sub_b)
    since = working_days_ago(15)
    case_a = await factories.case(contract, status="allocation_requested", subcontractor=sub_a.id,
                                  status_since=at(since), melding_date=since)
    case_b = await factories.case(contract, status="accepted", subcontractor=sub_b.id,
                                  status_since=at(since - timedelta(days=3)), melding_date=since - timedelta(days=3))
    await service.run_scan()
    signal_a = await Signal.select().where(Signal.case == case_a.id).first()
    signal_b = await Signal.select().where(Signal.case == case_b.id).first()
    return {
        "app": app, "contract": contract, "case_a": case_a, "case_b": case_b, "signal_a": signal_a,
        "signal_b": signal_b,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "sub_a": await factories.user(sub_a, "subcontractor"),
        "sub_b": await factories.user(sub_b, "subcontractor"),
    }


async def test_inbox_shows_counts_and_filters_through_the_url(web_world):
    async with factories.logged_in(web_world["app"], web_world["manager"]) as http:
        page = await http.get("/signalen", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "Blijft liggen" in page.text and web_world["case_a"].case_number in page.text
        assert "2 signalen gevonden" in page.text
        assert 'href="/signalen"' in page.text and 'aria-current="page"' in page.text  # navigation
        none = await http.get("/signalen?regel=report_overdue", headers={"accept": "text/html"})
        assert "0 signalen gevonden" in none.text and web_world["case_a"].case_number not in none.text
        high = await http.get("/signalen?ernst=high&status=alle", headers={"accept": "text/html"})
        assert 'value="high" selected' in high.text and web_world["case_a"].case_number in high.text
        assert web_world["case_b"].case_number not in high.text  # under twice its norm of 10 working days: low
        bad = await http.get("/signalen?regel=onzin", headers={"accept": "text/html"})
        assert bad.status_code == 422 and "Onbekende signaalregel" in bad.text
        data = (await http.get("/api/v1/signals?regel=stalled")).json()
        assert data["total"] == 2
        assert {row["rule"]: row["count"] for row in data["counts_by_rule"]}["stalled"] == 2


async def test_a_subcontractor_sees_only_its_own_signals(web_world):
    async with factories.logged_in(web_world["app"], web_world["sub_a"]) as http:
        page = await http.get("/signalen", headers={"accept": "text/html"})
        assert web_world["case_a"].case_number in page.text and web_world["case_b"].case_number not in page.text
        other = await http.get(f"/signalen/{web_world['signal_b']['id']}", headers={"accept": "text/html"})
        assert other.status_code == 404
        data = (await http.get("/api/v1/signals")).json()
        assert [row["id"] for row in data["signals"]] == [web_world["signal_a"]["id"]]


async def test_detail_shows_case_link_thread_and_the_allowed_actions_as_forms(web_world):
    signal_id = web_world["signal_a"]["id"]
    async with factories.logged_in(web_world["app"], web_world["sub_a"]) as http:
        page = await http.get(f"/signalen/{signal_id}", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert f'href="/casussen/{web_world["case_a"].id}"' in page.text
        assert f'action="/signalen/{signal_id}/acties/acknowledge"' in page.text
        assert f'action="/signalen/{signal_id}/acties/resolve"' not in page.text
        assert 'name="_csrf_token"' in page.text
        # without the CSRF token the form is refused
        refused = await http.post(f"/signalen/{signal_id}/acties/acknowledge", data={"text": "x"},
                                  headers={"accept": "text/html"})
        assert refused.status_code == 403
        empty = await factories.post_form(http, f"/signalen/{signal_id}/acties/acknowledge", {"text": " "})
        assert empty.status_code == 422 and "Schrijf een toelichting" in empty.text
        done = await factories.post_form(http, f"/signalen/{signal_id}/acties/acknowledge",
                                         {"text": "Wij plannen het gesprek deze week."})
        assert done.status_code == 303 and done.headers["location"] == f"/signalen/{signal_id}?gedaan=acknowledge"
        again = await http.get(done.headers["location"], headers={"accept": "text/html"})
        assert "Toegelicht" in again.text and "Wij plannen het gesprek deze week." in again.text
        illegal = await factories.post_form(http, f"/signalen/{signal_id}/acties/acknowledge", {"text": "Nog eens"})
        assert illegal.status_code == 409
    async with factories.logged_in(web_world["app"], web_world["manager"]) as http:
        comment = await factories.post_form(http, f"/signalen/{signal_id}/reacties", {"body": "Dank voor de uitleg."})
        assert comment.status_code == 303
        resolved = await factories.post_form(http, f"/signalen/{signal_id}/acties/resolve", {"text": "Opgelost."})
        assert resolved.status_code == 303
    row = await Signal.select().where(Signal.id == signal_id).first()
    assert row["status"] == "resolved"
    assert await SignalComment.count().where(SignalComment.signal == signal_id) == 3


async def test_raise_a_confidential_signal_through_the_form(web_world):
    async with factories.logged_in(web_world["app"], web_world["sub_a"]) as http:
        form = await http.get("/signalen/nieuw", headers={"accept": "text/html"})
        assert form.status_code == 200 and "Vertrouwelijk" in form.text and "Contract Web" in form.text
        missing = await factories.post_form(http, "/signalen/nieuw", {
            "contract_id": str(web_world["contract"].id), "title": "", "detail": "Tekst"})
        assert missing.status_code == 422 and "Geef het signaal een titel" in missing.text
        created = await factories.post_form(http, "/signalen/nieuw", {
            "contract_id": str(web_world["contract"].id), "title": "Te weinig capaciteit afgesproken",
            "detail": "Wij krijgen structureel meer aanvragen dan de afgesproken capaciteit.",
            "case_number": web_world["case_a"].case_number, "confidential": "1"})
        assert created.status_code == 303
        signal_id = int(created.headers["location"].split("/")[2].split("?")[0])
    async with factories.logged_in(web_world["app"], web_world["coordinator"]) as http:
        page = await http.get(f"/signalen/{signal_id}", headers={"accept": "text/html"})
        assert page.status_code == 200 and "Vertrouwelijk signaal van een onderaannemer" in page.text
        assert "capaciteit" not in page.text and web_world["case_a"].case_number not in page.text
        assert "/reacties" not in page.text
        inbox = await http.get("/signalen", headers={"accept": "text/html"})
        assert "Vertrouwelijk signaal van een onderaannemer" in inbox.text and "capaciteit" not in inbox.text
        api = await http.get("/api/v1/signals")
        assert "capaciteit" not in api.text
    async with factories.logged_in(web_world["app"], web_world["manager"]) as http:
        page = await http.get(f"/signalen/{signal_id}", headers={"accept": "text/html"})
        assert "Te weinig capaciteit afgesproken" in page.text


async def test_the_inbox_shows_the_latest_digest(web_world):
    from portal.lib.calendar_nl import add_working_days

    await service.send_digests(add_working_days(service.today_nl(), 10))
    async with factories.logged_in(web_world["app"], web_world["sub_b"]) as http:
        page = await http.get("/signalen", headers={"accept": "text/html"})
        assert "Uw overzicht van" in page.text and f"/signalen/{web_world['signal_b']['id']}" in page.text
