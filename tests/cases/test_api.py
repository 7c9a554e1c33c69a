"""The JSON write API over HTTP: bearer keys, every error class, idempotent retries, CSRF, the key page."""

import asyncio
from datetime import date

import pytest

from portal.accounts import api_keys
from portal.accounts.rules import Actor, Role
from portal.accounts.tables import ApiKey, AuditEntry, IdempotencyRecord
from portal.cases.tables import Case, CaseEvent
from tests import factories

VALID_BSN = "111222333"


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Testdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Test")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer A")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer B")
    contract = await factories.contract(municipality, main, case_prefix="API", start_date=date(2025, 1, 1))
    await factories.subcontract(contract, sub_a, product_categories="02,07")
    await factories.subcontract(contract, sub_b, product_categories="02")
    people = {
        "coordinator": await factories.user(main, "coordinator"),
        "coordinator2": await factories.user(main, "coordinator"),
        "sub_a": await factories.user(sub_a, "subcontractor"),
        "sub_b": await factories.user(sub_b, "subcontractor"),
        "manager": await factories.user(municipality, "contract_manager"),
    }
    keys = {}
    for name in ("coordinator", "coordinator2", "sub_a", "sub_b"):
        keys[name] = (await api_keys.create_api_key_for(people[name].email, f"systeem {name}")).key
    return {"contract": contract, "org_a": sub_a, "org_b": sub_b, "people": people, "keys": keys}


def bearer(world, who: str, **headers) -> dict:
    return {"authorization": f"Bearer {world['keys'][who]}", **headers}


def melding(world, **overrides) -> dict:
    return {"contract_id": world["contract"].id, "bsn": VALID_BSN, "neighbourhood": "Centrum", "domain": "wmo",
            "product_category": "02", "melding_date": "2026-11-02"} | overrides


async def register(client, world, who="coordinator", **overrides):
    return await client.post("/api/v1/cases", json=melding(world, **overrides), headers=bearer(world, who))


async def step(client, world, who, case_id, action, version, **fields):
    return await client.post(f"/api/v1/cases/{case_id}/events", json={"action": action, "version": version, **fields},
                             headers=bearer(world, who))


async def test_register_and_events_through_bearer_keys(client, world):
    response = await register(client, world)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["case_number"].startswith("API-2026-") and created["version"] == 1
    assert created["status"] == "registered" and VALID_BSN not in response.text
    case_id = created["id"]
    assert (await step(client, world, "coordinator", case_id, "start_assessment", 1,
                       occurred_on="2026-11-03")).status_code == 201
    response = await step(client, world, "coordinator", case_id, "request_allocation", 2,
                          subcontractor_id=world["org_a"].id, occurred_on="2026-11-03")
    assert response.status_code == 201
    response = await step(client, world, "sub_a", case_id, "accept", 3)
    assert response.status_code == 201, response.text
    assert response.json() == {"id": case_id, "case_number": created["case_number"], "status": "accepted",
                               "status_label": "Geaccepteerd", "version": 4}
    events = await CaseEvent.select(CaseEvent.action, CaseEvent.actor_user).where(CaseEvent.case == case_id).order_by(
        CaseEvent.id)
    assert [e["action"] for e in events] == ["register", "start_assessment", "request_allocation", "accept"]
    assert events[-1]["actor_user"] == world["people"]["sub_a"].id
    # every API write is audited, and the origin names the key that was used
    entries = await AuditEntry.select().where(AuditEntry.object_type == "case", AuditEntry.action != "read")
    assert len(entries) == 4 and all(" api inz_" in entry["origin"] for entry in entries)
    assert VALID_BSN not in str(await AuditEntry.select())


async def test_reject_with_referred_nowhere(client, world):
    case_id = (await register(client, world)).json()["id"]
    await step(client, world, "coordinator", case_id, "start_assessment", 1)
    response = await step(client, world, "coordinator", case_id, "reject", 2, reason_code="L2",
                          beschikking_issued=True, objection_info_given=True, referred_nowhere=True)
    assert response.status_code == 201, response.text
    event = await CaseEvent.select().where(CaseEvent.action == "reject").first()
    assert event["referred_to"] == "nergens" and event["reason_code"] == "L2"
    both = await step(client, world, "coordinator", case_id, "close", 3, referred_to="Buurtkamer",
                      referred_nowhere=True)
    assert both.status_code == 422 and both.json()["field"] == "referred_to"


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"bsn": "123456789"}, "bsn", "elfproef"),
    ({"product_category": "99"}, "product_category", "productcategorie"),
    ({"neighbourhood": " "}, "neighbourhood", "wijk"),
    ({"melding_date": "2024-06-01"}, "melding_date", "looptijd"),
])
async def test_invalid_input_is_422_with_the_field_and_a_dutch_message(client, world, overrides, field, words):
    response = await register(client, world, **overrides)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field and body["code"] == "invalid_input" and words in body["detail"].lower()
    assert "123456789" not in response.text  # a BSN is never echoed
    assert await Case.count() == 0


async def test_illegal_transition_and_stale_version_are_409_with_their_own_code(client, world):
    case_id = (await register(client, world)).json()["id"]
    illegal = await step(client, world, "coordinator", case_id, "start_care", 1)
    assert illegal.status_code == 409 and illegal.json()["code"] == "illegal_transition"
    assert "kan niet" in illegal.json()["detail"]
    assert (await step(client, world, "coordinator", case_id, "start_assessment", 1)).status_code == 201
    stale = await step(client, world, "coordinator", case_id, "withdraw", 1)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert "gewijzigd door iemand anders" in stale.json()["detail"]
    assert (await Case.select(Case.status).where(Case.id == case_id).first())["status"] == "assessment"


async def test_unknown_case_is_404_and_wrong_role_is_403(client, world):
    missing = await step(client, world, "coordinator", 999_999, "start_assessment", 1)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert "bestaat niet" in missing.json()["detail"]
    as_sub = await register(client, world, who="sub_a")
    assert as_sub.status_code == 403 and "Onderaannemer" in as_sub.json()["detail"]
    other_main = await factories.organisation("main_contractor")
    stranger = await factories.user(other_main, "coordinator")
    key = (await api_keys.create_api_key_for(stranger.email, "vreemd")).key
    foreign = await client.post("/api/v1/cases", json=melding(world), headers={"authorization": f"Bearer {key}"})
    assert foreign.status_code == 404
    assert await Case.count() == 0


async def test_a_subcontractor_cannot_touch_another_subcontractors_case(client, world):
    case_id = (await register(client, world)).json()["id"]
    await step(client, world, "coordinator", case_id, "start_assessment", 1)
    await step(client, world, "coordinator", case_id, "request_allocation", 2, subcontractor_id=world["org_a"].id)
    response = await step(client, world, "sub_b", case_id, "accept", 3)
    assert response.status_code == 404 and "Onderaannemer A" not in response.text
    assert (await Case.select(Case.status).where(Case.id == case_id).first())["status"] == "allocation_requested"


@pytest.mark.parametrize("body", [b"{niet: json", b"[1, 2]", b'{"contract_id": "een"}', b'{"contract_id": true}',
                                  b"", b'{"contract_id": 1, "bsn": 111222333}', b'{"onbekend": 1}'])
async def test_malformed_json_and_wrong_types_are_400_not_500(client, world, body):
    for url in ("/api/v1/cases", "/api/v1/cases/1/events"):
        response = await client.post(url, content=body, headers=bearer(world, "coordinator",
                                                                       **{"content-type": "application/json"}))
        assert response.status_code == 400, (url, response.text)
        assert response.json()["detail"].startswith(("De invoer is niet geldig", "De body is geen geldige JSON"))


async def test_wrong_types_name_the_field_in_dutch(client, world):
    response = await step(client, world, "coordinator", 1, "start_assessment", "twee")
    assert response.status_code == 400
    assert response.json()["detail"] == "De invoer is niet geldig: version: verwacht een geheel getal, niet tekst."


async def test_an_idempotent_retry_returns_the_first_response_and_creates_one_case(client, world):
    headers = bearer(world, "coordinator", **{"idempotency-key": "melding-42"})
    first = await client.post("/api/v1/cases", json=melding(world), headers=headers)
    again = await client.post("/api/v1/cases", json=melding(world), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers.get("idempotent-replayed") == "true"
    assert await Case.count() == 1
    case_id = first.json()["id"]
    event_headers = bearer(world, "coordinator", **{"idempotency-key": "stap-1"})
    body = {"action": "start_assessment", "version": 1}
    one = await client.post(f"/api/v1/cases/{case_id}/events", json=body, headers=event_headers)
    two = await client.post(f"/api/v1/cases/{case_id}/events", json=body, headers=event_headers)
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert await CaseEvent.count().where(CaseEvent.case == case_id) == 2
    stored = await IdempotencyRecord.select().first()
    assert VALID_BSN not in str(stored)


async def test_the_same_key_with_another_body_is_422(client, world):
    headers = bearer(world, "coordinator", **{"idempotency-key": "k-1"})
    assert (await client.post("/api/v1/cases", json=melding(world), headers=headers)).status_code == 201
    other = await client.post("/api/v1/cases", json=melding(world, neighbourhood="Noord"), headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert "al gebruikt voor een ander verzoek" in other.json()["detail"]
    assert await Case.count() == 1


async def test_each_person_has_its_own_key_space(client, world):
    for who in ("coordinator", "coordinator2"):
        response = await client.post("/api/v1/cases", json=melding(world),
                                     headers=bearer(world, who, **{"idempotency-key": "zelfde"}))
        assert response.status_code == 201
    assert await Case.count() == 2


async def test_a_failed_request_stores_nothing_and_can_be_retried(client, world):
    headers = bearer(world, "coordinator", **{"idempotency-key": "k-2"})
    failed = await client.post("/api/v1/cases", json=melding(world, bsn="123456789"), headers=headers)
    assert failed.status_code == 422 and await IdempotencyRecord.count() == 0
    # the same key may now carry the corrected request
    assert (await client.post("/api/v1/cases", json=melding(world), headers=headers)).status_code == 201


async def test_an_expired_idempotency_key_is_forgotten(client, world):
    headers = bearer(world, "coordinator", **{"idempotency-key": "oud"})
    assert (await client.post("/api/v1/cases", json=melding(world), headers=headers)).status_code == 201
    await IdempotencyRecord.update({IdempotencyRecord.created_at: date(2026, 1, 1)}, force=True)
    assert (await client.post("/api/v1/cases", json=melding(world), headers=headers)).status_code == 201
    assert await Case.count() == 2


async def test_concurrent_duplicates_create_one_case(app, world):
    headers = bearer(world, "coordinator", **{"idempotency-key": "tegelijk"})
    async with factories.http_client(app) as one, factories.http_client(app) as two:
        responses = await asyncio.gather(
            one.post("/api/v1/cases", json=melding(world), headers=headers),
            two.post("/api/v1/cases", json=melding(world), headers=headers),
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([201, 201], [201, 409]), [r.text for r in responses]
    assert await Case.count() == 1
    winners = [r.json() for r in responses if r.status_code == 201]
    assert all(body == winners[0] for body in winners)


async def test_an_invalid_idempotency_key_is_422(client, world):
    response = await client.post("/api/v1/cases", json=melding(world),
                                 headers=bearer(world, "coordinator", **{"idempotency-key": "x" * 300}))
    assert response.status_code == 422 and response.json()["field"] == "Idempotency-Key"


async def test_a_cookie_session_post_needs_csrf_and_a_bearer_post_does_not(app, world):
    async with factories.logged_in(app, world["people"]["coordinator"]) as browser:
        refused = await browser.post("/api/v1/cases", json=melding(world), headers={"accept": "application/json"})
        assert refused.status_code == 403 and "formulier is verlopen" in refused.json()["detail"]
        token = await factories.csrf_token(browser)
        accepted = await browser.post("/api/v1/cases", json=melding(world), headers={"x-csrftoken": token})
        assert accepted.status_code == 201
    async with factories.http_client(app) as machine:
        assert (await machine.post("/api/v1/cases", json=melding(world),
                                   headers=bearer(world, "coordinator"))).status_code == 201
    assert await Case.count() == 2


async def test_a_bearer_header_never_falls_back_to_the_session(app, world):
    async with factories.logged_in(app, world["people"]["coordinator"]) as browser:
        token = await factories.csrf_token(browser)
        response = await browser.post("/api/v1/cases", json=melding(world),
                                      headers={"x-csrftoken": token, "authorization": "Bearer inz_onbekend"})
        assert response.status_code == 401
    assert await Case.count() == 0


async def test_revoked_unknown_and_malformed_keys_are_401(client, world):
    coordinator = world["people"]["coordinator"]
    actor = Actor(coordinator.id, world["contract"].main_contractor, "main_contractor", Role.COORDINATOR,
                  coordinator.display_name, coordinator.email)
    key_id = (await ApiKey.select(ApiKey.id).where(ApiKey.user == coordinator.id).first())["id"]
    await api_keys.revoke_api_key(actor, key_id)
    for authorization in (f"Bearer {world['keys']['coordinator']}", "Bearer inz_bestaat-niet", "Bearer",
                          "Basic dXNlcjpwYXNz"):
        response = await client.post("/api/v1/cases", json=melding(world), headers={"authorization": authorization})
        assert response.status_code == 401, authorization
        assert "niet ingelogd" in response.json()["detail"]
    assert await Case.count() == 0
    revoked = await AuditEntry.select().where(AuditEntry.object_type == "api_key", AuditEntry.action == "change")
    assert len(revoked) == 1


async def test_a_key_of_a_deactivated_person_is_refused(client, world):
    from portal.accounts.tables import User

    await User.update({User.is_active: False}).where(User.id == world["people"]["coordinator"].id)
    assert (await register(client, world)).status_code == 401


async def test_bearer_keys_read_the_api_too(client, world):
    case_id = (await register(client, world)).json()["id"]
    response = await client.get(f"/api/v1/cases/{case_id}", headers=bearer(world, "coordinator"))
    assert response.status_code == 200 and response.json()["case"]["id"] == case_id


async def test_the_openapi_schema_documents_the_write_routes(client):
    schema = (await client.get("/api/schema/openapi.json")).json()
    body = schema["paths"]["/api/v1/cases"]["post"]
    assert body["responses"]["201"] and body["responses"]["409"]
    components = schema["components"]["schemas"]
    assert "description" in components["NewCaseBody"]["properties"]["bsn"]
    assert "/api/v1/cases/{case_id}/events" in schema["paths"] and "/api/v1/imports" in schema["paths"]


# --- the key page ----------------------------------------------------------------------------------


async def test_the_key_page_creates_a_key_once_and_revokes_it(app, world):
    person = world["people"]["sub_a"]
    async with factories.logged_in(app, person) as browser:
        page = await browser.get("/account/api-sleutels", headers={"accept": "text/html"})
        assert page.status_code == 200 and "API-sleutels" in page.text
        created = await factories.post_form(browser, "/account/api-sleutels", {"actie": "aanmaken",
                                                                                "naam": "Ons zorgsysteem"})
        assert created.status_code == 200 and "eenmalig" in created.text
        assert created.headers["cache-control"] == "no-store"
        key = factories.hidden_value(created.text.replace('id="sleutel-waarde" ', ""), "") or \
            created.text.split('id="sleutel-waarde" value="')[1].split('"')[0]
        assert key.startswith("inz_")
        row = await ApiKey.select().where(ApiKey.name == "Ons zorgsysteem").first()
        assert row["key_hash"] == api_keys.hash_key(key) and key not in str(row)
        later = await browser.get("/account/api-sleutels", headers={"accept": "text/html"})
        assert key not in later.text and row["prefix"] in later.text
        async with factories.http_client(app) as machine:
            headers = {"authorization": f"Bearer {key}"}
            assert (await machine.get("/api/v1/cases", headers=headers)).status_code == 200
            revoked = await factories.post_form(browser, "/account/api-sleutels",
                                                {"actie": "intrekken", "sleutel": str(row["id"])})
            assert revoked.status_code == 303
            assert (await machine.get("/api/v1/cases", headers=headers)).status_code == 401
        without_token = await browser.post("/account/api-sleutels", data={"actie": "aanmaken", "naam": "x"},
                                           headers={"accept": "text/html"})
        assert without_token.status_code == 403
    audit = await AuditEntry.select(AuditEntry.action).where(AuditEntry.object_type == "api_key",
                                                             AuditEntry.user == person.id)
    assert sorted(entry["action"] for entry in audit) == ["change", "create", "create"]


async def test_another_persons_key_cannot_be_revoked(app, world):
    other = await ApiKey.select(ApiKey.id).where(ApiKey.user == world["people"]["sub_b"].id).first()
    async with factories.logged_in(app, world["people"]["sub_a"]) as browser:
        response = await factories.post_form(browser, "/account/api-sleutels",
                                             {"actie": "intrekken", "sleutel": str(other["id"])})
        assert response.status_code == 404
    assert (await ApiKey.select(ApiKey.revoked_at).where(ApiKey.id == other["id"]).first())["revoked_at"] is None


async def test_contract_managers_get_no_keys(app, world):
    async with factories.logged_in(app, world["people"]["manager"]) as browser:
        assert (await browser.get("/account/api-sleutels", headers={"accept": "text/html"})).status_code == 403
    with pytest.raises(Exception, match="coördinatoren en onderaannemers"):
        await api_keys.create_api_key_for(world["people"]["manager"].email, "niet")
