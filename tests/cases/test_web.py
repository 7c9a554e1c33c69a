"""The daily work through HTTP: the melding form, the case page and its action forms, the allocation board,
the waiting list, the subcontractor's inbox, and the case list with filters and keyset pages."""

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from portal.cases import service
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import StatusNorm
from portal.lib.formatting import AMSTERDAM
from portal.piccolo_app import ALL_TABLES
from tests import factories

BSN = "111222333"
OTHER_BSN = "123456782"
STALE = "gewijzigd door iemand anders"


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Webdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Web")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer Alfa")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer Beta")
    contract = await factories.contract(municipality, main, name="Contract Web", case_prefix="WEB",
                                        start_date=date(2025, 1, 1))
    await factories.subcontract(contract, sub_a, product_categories="02,07", capacity=3)
    await factories.subcontract(contract, sub_b, product_categories="02", capacity=10)
    return {
        "contract": contract, "org_a": sub_a, "org_b": sub_b, "main": main, "municipality": municipality,
        "coordinator": await factories.user(main, "coordinator"),
        "sub_a": await factories.user(sub_a, "subcontractor"),
        "sub_b": await factories.user(sub_b, "subcontractor"),
        "manager": await factories.user(municipality, "contract_manager"),
    }


def melding(world, **overrides) -> dict:
    return {"contract_id": str(world["contract"].id), "bsn": BSN, "neighbourhood": "Schalkwijk", "domain": "wmo",
            "product_category": "02", "urgency": "normal", "provision_type": "individual",
            "melding_date": "02-11-2026", "aanvraag_date": "", "note": "Belde zelf"} | overrides


async def version_of(case_id: int) -> int:
    return (await Case.select(Case.version).where(Case.id == case_id).first())["version"]


async def status_of(case_id: int) -> tuple[str, int | None]:
    row = await Case.select(Case.status, Case.subcontractor).where(Case.id == case_id).first()
    return row["status"], row["subcontractor"]


async def act(http, case_id: int, action: str, version: int | None = None, **fields):
    data = {"version": str(version if version is not None else await version_of(case_id)), **fields}
    return await factories.post_form(http, f"/casussen/{case_id}/acties/{action}", data)


async def register(world, http, **overrides) -> int:
    response = await factories.post_form(http, "/casussen/nieuw", melding(world, **overrides))
    assert response.status_code == 303, response.text[:800]
    match = re.fullmatch(r"/casussen/(\d+)\?gemeld=1", response.headers["location"])
    assert match
    return int(match.group(1))


async def assert_bsn_nowhere_in_the_database(*bsns: str) -> None:
    for table in ALL_TABLES:
        rows = await table.select()
        text = str(rows)
        for bsn in bsns:
            assert bsn not in text, f"BSN found in {table._meta.tablename}"


# --- the melding form ---------------------------------------------------------------------------------


async def test_register_a_melding_and_land_on_the_case_page(app, world):
    async with factories.logged_in(app, world["coordinator"]) as http:
        form = await http.get("/casussen/nieuw", headers={"accept": "text/html"})
        assert form.status_code == 200 and "Contract Web" in form.text
        assert 'name="bsn" type="text"' in form.text and 'autocomplete="off"' in form.text
        case_id = await register(world, http)
        page = await http.get(f"/casussen/{case_id}?gemeld=1", headers={"accept": "text/html"})
        assert page.status_code == 200
        number = (await Case.select(Case.case_number).where(Case.id == case_id).first())["case_number"]
        assert f"geregistreerd als casus {number}" in page.text
        assert "Gemeld" in page.text and "Onderzoek (Wmo art. 2.3.2)" in page.text
        for response in (form, page):
            assert BSN not in response.text
    assert await status_of(case_id) == ("registered", None)
    await assert_bsn_nowhere_in_the_database(BSN)


async def test_an_invalid_melding_keeps_every_typed_value_but_the_bsn(app, world):
    async with factories.logged_in(app, world["coordinator"]) as http:
        wrong = melding(world, product_category="", melding_date="31-02-2026", neighbourhood="Zuid-West",
                        note="Graag snel contact")
        response = await factories.post_form(http, "/casussen/nieuw", wrong)
        assert response.status_code == 422
        assert 'role="alert"' in response.text and 'href="#product_category"' in response.text
        assert 'href="#melding_date"' in response.text
        assert 'value="Zuid-West"' in response.text and "Graag snel contact" in response.text
        assert 'value="31-02-2026"' in response.text
        assert BSN not in response.text
        # an invalid BSN is refused, and not echoed either
        response = await factories.post_form(http, "/casussen/nieuw", melding(world, bsn="123456789"))
        assert response.status_code == 422 and "elfproef" in response.text and "123456789" not in response.text
        # a date outside the contract, found by the service: still 422 with the values kept
        response = await factories.post_form(http, "/casussen/nieuw", melding(world, bsn=OTHER_BSN,
                                                                              melding_date="01-06-2024"))
        assert response.status_code == 422 and "looptijd" in response.text and OTHER_BSN not in response.text
        assert 'value="Schalkwijk"' in response.text
    assert await Case.count() == 0
    await assert_bsn_nowhere_in_the_database(BSN, OTHER_BSN, "123456789")


async def test_only_coordinators_register(app, world):
    async with factories.logged_in(app, world["sub_a"]) as http:
        assert (await http.get("/casussen/nieuw", headers={"accept": "text/html"})).status_code == 403
        assert (await factories.post_form(http, "/casussen/nieuw", melding(world))).status_code == 403
    assert await Case.count() == 0


# --- the action forms ---------------------------------------------------------------------------------


async def test_every_action_through_its_form(app, world):
    org_a, org_b = world["org_a"].id, world["org_b"].id
    async with factories.logged_in(app, world["coordinator"]) as coordinator, \
            factories.logged_in(app, world["sub_a"], address="198.51.100.1") as sub_a, \
            factories.logged_in(app, world["sub_b"], address="198.51.100.2") as sub_b:
        case_id = await register(world, coordinator)
        steps = [
            (coordinator, "start_assessment", {}, ("assessment", None)),
            (coordinator, "request_allocation", {"subcontractor_id": str(org_a)}, ("allocation_requested", org_a)),
            (sub_a, "decline", {"reason_code": "L3", "note": "vol"}, ("allocation_requested", None)),
            (coordinator, "place_on_waiting_list", {}, ("waiting_list", None)),
            (coordinator, "request_allocation", {"subcontractor_id": str(org_b)}, ("allocation_requested", org_b)),
            (sub_b, "accept", {}, ("accepted", org_b)),
            (sub_b, "hold", {"note": "Inwoner in het ziekenhuis"}, ("on_hold", org_b)),
            (sub_b, "resume", {}, ("accepted", org_b)),
            (sub_b, "start_care", {}, ("in_care", org_b)),
            (sub_b, "end_care", {"end_reason": "19"}, ("ended", org_b)),
            (coordinator, "close", {}, ("closed", org_b)),
            (coordinator, "reopen", {"note": "Inwoner meldt zich opnieuw"}, ("reopened", org_b)),
            (coordinator, "withdraw", {"reason_code": "L2", "objection_info_given": "ja"}, ("withdrawn", org_b)),
        ]
        for http, action, fields, expected in steps:
            page_before = await http.get(f"/casussen/{case_id}", headers={"accept": "text/html"})
            assert f"/acties/{action}" in page_before.text, f"{action} not offered"
            response = await act(http, case_id, action, **fields)
            assert response.status_code == 303, (action, response.text[:600])
            assert response.headers["location"] == f"/casussen/{case_id}?gedaan={action}"
            assert await status_of(case_id) == expected, action
        page = await coordinator.get(f"/casussen/{case_id}?gedaan=withdraw", headers={"accept": "text/html"})
        assert "Gelukt: &#39;Intrekken&#39; is vastgelegd." in page.text or "Gelukt: 'Intrekken'" in page.text
        assert "L3 Geen capaciteit" in page.text and "19 Volgens plan beëindigd" in page.text

        # reject and refer to a collective provision from the assessment
        rejected = await register(world, coordinator, bsn=OTHER_BSN)
        await act(coordinator, rejected, "start_assessment")
        response = await act(coordinator, rejected, "reject", reason_code="L1", beschikking_issued="ja",
                             objection_info_given="nee", verwezen="naar", referred_to="Buurtcentrum De Brug")
        assert response.status_code == 303 and await status_of(rejected) == ("rejected", None)
        referred = await register(world, coordinator)
        await act(coordinator, referred, "start_assessment")
        response = await act(coordinator, referred, "refer_collective", verwezen="naar", referred_to="Wijkteam",
                             objection_info_given="ja")
        assert response.status_code == 303 and await status_of(referred) == ("referred_collective", None)
        nowhere = await register(world, coordinator)
        await act(coordinator, nowhere, "start_assessment")
        response = await act(coordinator, nowhere, "reject", reason_code="5", beschikking_issued="nee",
                             objection_info_given="nee", verwezen="nergens")
        assert response.status_code == 303
        page = await coordinator.get(f"/casussen/{rejected}", headers={"accept": "text/html"})
        assert "L1 Algemene voorziening volstaat" in page.text and "Buurtcentrum De Brug" in page.text
        assert "Beschikking afgegeven: ja" in page.text and "Gewezen op bezwaar: nee" in page.text
    events = await CaseEvent.select(CaseEvent.action, CaseEvent.reason_code, CaseEvent.referred_to).where(
        CaseEvent.case == case_id).order_by(CaseEvent.id)
    assert [event["action"] for event in events] == ["register", *(step[1] for step in steps)]
    reject = await CaseEvent.select().where(CaseEvent.case == nowhere, CaseEvent.action == "reject").first()
    assert (reject["referred_to"], reject["reason_code"], reject["beschikking_issued"]) == ("nergens", "5", False)
    await assert_bsn_nowhere_in_the_database(BSN, OTHER_BSN)


@pytest.fixture
async def assessed(app, world):
    """A case in assessment, and a logged-in coordinator."""
    case = await factories.case(world["contract"], status="assessment")
    return case.id


@pytest.mark.parametrize(("fields", "message", "field"), [
    ({"beschikking_issued": "ja", "objection_info_given": "ja", "verwezen": "nergens", "referred_to": "Typed"},
     "Kies een reden", "reject-reason_code"),
    ({"reason_code": "L2", "beschikking_issued": "ja", "objection_info_given": "ja"},
     "nergens", "reject-referred_to"),
    ({"reason_code": "L2", "beschikking_issued": "ja", "objection_info_given": "ja", "verwezen": "naar"},
     "Nergens naartoe", "reject-referred_to"),
    ({"reason_code": "X9", "beschikking_issued": "ja", "objection_info_given": "ja", "verwezen": "nergens",
      "referred_to": "Typed"}, "Onbekende reden van afwijzing", "reject-reason_code"),
    ({"reason_code": "L2", "objection_info_given": "ja", "verwezen": "nergens", "referred_to": "Typed"},
     "beschikking", "reject-beschikking_issued"),
])
async def test_a_rejection_needs_every_answer(app, world, assessed, fields, message, field):
    async with factories.logged_in(app, world["coordinator"]) as http:
        response = await act(http, assessed, "reject", note="Mijn toelichting", **fields)
    assert response.status_code == 422
    assert message in response.text and f'href="#{field}"' in response.text
    assert "Mijn toelichting" in response.text  # typed values are kept
    if fields.get("referred_to"):
        assert 'value="Typed"' in response.text
    assert await status_of(assessed) == ("assessment", None)
    assert await version_of(assessed) == 1


async def test_illegal_transition_and_stale_version(app, world, assessed):
    async with factories.logged_in(app, world["coordinator"]) as http:
        illegal = await act(http, assessed, "close")
        assert illegal.status_code == 409 and "kan niet" in illegal.text
        stale = await act(http, assessed, "start_assessment", version=1)
        assert stale.status_code == 409  # registered -> assessment is not possible from assessment
        response = await act(http, assessed, "place_on_waiting_list", version=1)
        assert response.status_code == 303
        stale = await act(http, assessed, "request_allocation", version=1, subcontractor_id=str(world["org_a"].id))
        assert stale.status_code == 409
        assert STALE in stale.text and "Laad de casus opnieuw" in stale.text
        assert f'href="/casussen/{assessed}"' in stale.text
        wrong_sub = await act(http, assessed, "request_allocation", subcontractor_id=str(world["org_b"].id + 999))
        assert wrong_sub.status_code == 422
    assert await status_of(assessed) == ("waiting_list", None)


async def test_subcontractors_act_only_on_their_own_allocation(app, world):
    case = await factories.case(world["contract"], status="allocation_requested", subcontractor=world["org_a"].id)
    await factories.event(case, "allocation_requested", world["org_a"])
    async with factories.logged_in(app, world["sub_b"]) as http:
        assert (await act(http, case.id, "accept")).status_code == 404
    async with factories.logged_in(app, world["sub_a"]) as http:
        response = await act(http, case.id, "decline")  # no reason
        assert response.status_code == 422 and "Kies een reden" in response.text
        response = await act(http, case.id, "accept", terug="/inbox")
        assert response.status_code == 303 and response.headers["location"].startswith("/inbox?gedaan=accept")
        response = await act(http, case.id, "start_care", terug="https://evil.example")
        assert response.headers["location"] == f"/casussen/{case.id}?gedaan=start_care"


async def test_the_contract_manager_reads_without_action_forms(app, world):
    case = await factories.case(world["contract"], status="assessment")
    async with factories.logged_in(app, world["manager"]) as http:
        page = await http.get(f"/casussen/{case.id}", headers={"accept": "text/html"})
        assert page.status_code == 200 and case.case_number in page.text
        assert "/acties/" not in page.text and "<form method=\"post\" action=\"/casussen" not in page.text
        assert case.pseudonym not in page.text
        assert (await act(http, case.id, "reject")).status_code == 403
        for url in ("/toewijzen", "/wachtlijst"):
            board = await http.get(url, headers={"accept": "text/html"})
            assert board.status_code == 200 and "/acties/" not in board.text
        assert (await http.get("/inbox", headers={"accept": "text/html"})).status_code == 403
    assert await status_of(case.id) == ("assessment", None)


# --- board, waiting list, inbox -----------------------------------------------------------------------


def days_ago(days: int, hour: int = 9) -> datetime:
    """``hour`` o'clock (Amsterdam) ``days`` Amsterdam days ago: the pages count days between Amsterdam dates."""
    return datetime.combine(service.today_nl() - timedelta(days=days), time(hour), tzinfo=AMSTERDAM).astimezone(UTC)


async def test_the_allocation_board(app, world):
    contract, org_a = world["contract"], world["org_a"]
    declined = await factories.case(contract, status="allocation_requested", status_since=days_ago(3))
    assessment = await factories.case(contract, status="assessment")
    head_normal = await factories.case(contract, status="waiting_list", urgency="normal", status_since=days_ago(40))
    second = await factories.case(contract, status="waiting_list", urgency="normal", status_since=days_ago(10))
    crisis = await factories.case(contract, status="waiting_list", urgency="crisis", product_category="07",
                                  status_since=days_ago(1))
    assigned = await factories.case(contract, status="allocation_requested", subcontractor=org_a.id)
    await factories.case(contract, status="accepted", subcontractor=org_a.id)
    await factories.case(contract, status="in_care", subcontractor=org_a.id)
    await factories.case(contract, status="ended", subcontractor=org_a.id)
    async with factories.logged_in(app, world["coordinator"]) as http:
        page = (await http.get("/toewijzen", headers={"accept": "text/html"})).text
    on_board = [number for number in re.findall(r">(T-\d{6})<", page)]
    assert on_board == [crisis.case_number, head_normal.case_number, declined.case_number]
    assert assessment.case_number not in page and second.case_number not in page
    assert assigned.case_number not in page
    assert f'action="/casussen/{declined.id}/acties/request_allocation"' in page
    # Alfa: capacity 3, load 3 (asked, accepted, in care; the ended case does not count)
    alfa = re.search(r"Onderaannemer Alfa</th>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'class="num">([^<]*)<', alfa)[:2] == ["3", "3"] and "vol" in alfa
    board = await service.allocation_board(
        factories_actor(world["coordinator"], world["main"], "coordinator"))
    loads = {row["name"]: row["load"] for row in board["contracts"][0]["subcontractors"]}
    assert loads == {"Onderaannemer Alfa": 3, "Onderaannemer Beta": 0}


def factories_actor(user, org, role):
    from portal.accounts.rules import Actor, Role

    return Actor(user_id=user.id, organisation_id=org.id, organisation_kind=org.kind, role=Role(role),
                 display_name=user.display_name, email=user.email)


async def test_allocating_from_the_board_returns_to_the_board(app, world):
    case = await factories.case(world["contract"], status="waiting_list")
    async with factories.logged_in(app, world["coordinator"]) as http:
        response = await act(http, case.id, "request_allocation", subcontractor_id=str(world["org_b"].id),
                             terug="/toewijzen")
        assert response.status_code == 303 and response.headers["location"].startswith("/toewijzen?gedaan=")
        page = await http.get(response.headers["location"], headers={"accept": "text/html"})
        assert "Gelukt" in page.text
    assert await status_of(case.id) == ("allocation_requested", world["org_b"].id)


async def test_the_waiting_list_orders_by_urgency_then_date(app, world):
    contract = world["contract"]
    normal_old = await factories.case(contract, status="waiting_list", urgency="normal", status_since=days_ago(30))
    high = await factories.case(contract, status="waiting_list", urgency="high", status_since=days_ago(5))
    crisis = await factories.case(contract, status="waiting_list", urgency="crisis", status_since=days_ago(1))
    normal_new = await factories.case(contract, status="waiting_list", urgency="normal", status_since=days_ago(2))
    other_category = await factories.case(contract, status="waiting_list", product_category="07",
                                          status_since=days_ago(8))
    await factories.case(contract, status="assessment")
    async with factories.logged_in(app, world["coordinator"]) as http:
        page = (await http.get("/wachtlijst", headers={"accept": "text/html"})).text
        filtered = (await http.get(f"/wachtlijst?contract={contract.id}&categorie=07",
                                   headers={"accept": "text/html"})).text
    numbers = re.findall(r">(T-\d{6})<", page)
    assert numbers == [crisis.case_number, high.case_number, normal_old.case_number, normal_new.case_number,
                       other_category.case_number]
    assert "30 dagen" in page and "gemiddelde wachttijd 9,5 dagen" in page  # (1 + 5 + 30 + 2) / 4
    assert "gemiddelde wachttijd 8,0 dagen" in page
    assert re.findall(r">(T-\d{6})<", filtered) == [other_category.case_number]


async def test_the_inbox_shows_own_requests_oldest_first_with_their_deadline(app, world):
    contract, org_a, org_b = world["contract"], world["org_a"], world["org_b"]
    recent = await factories.case(contract, status="allocation_requested", subcontractor=org_a.id,
                                  status_since=days_ago(1))
    old = await factories.case(contract, status="allocation_requested", subcontractor=org_a.id,
                               status_since=days_ago(20))
    accepted = await factories.case(contract, status="accepted", subcontractor=org_a.id)
    in_care = await factories.case(contract, status="in_care", subcontractor=org_a.id)
    others = await factories.case(contract, status="allocation_requested", subcontractor=org_b.id)
    async with factories.logged_in(app, world["sub_a"]) as http:
        page = (await http.get("/inbox", headers={"accept": "text/html"})).text
    numbers = re.findall(r">(T-\d{6})<", page)
    assert numbers[:2] == [old.case_number, recent.case_number]
    assert accepted.case_number in numbers and in_care.case_number in numbers
    assert others.case_number not in page
    assert "werkdagen te laat" in page
    assert f'action="/casussen/{recent.id}/acties/accept"' in page
    assert f'action="/casussen/{recent.id}/acties/decline"' in page
    assert f'action="/casussen/{accepted.id}/acties/start_care"' in page
    result = await service.inbox(factories_actor(world["sub_a"], org_a, "subcontractor"))
    first = result["requests"][0]
    assert first["days_left"] < 0 and first["deadline"] > service.local_date(old.status_since)


# --- the case list: filters and keyset pages ----------------------------------------------------------


async def test_keyset_pages_continue_without_overlap(app, world):
    contract = world["contract"]
    base = days_ago(200)
    ids = []
    for n in range(120):
        # pairs of cases share a status_since: the id breaks the tie
        case = await factories.case(contract, status="in_care", subcontractor=world["org_a"].id,
                                    status_since=base + timedelta(hours=n // 2))
        ids.append(case.id)
    async with factories.logged_in(app, world["coordinator"]) as http:
        for order in ("recent", "nummer"):
            seen: list[str] = []
            url = f"/api/v1/cases?volgorde={order}"
            pages = 0
            while url:
                body = (await http.get(url)).json()
                assert body["total"] == (120 if pages == 0 else None)
                seen += [row["id"] for row in body["cases"]]
                pages += 1
                url = f"/api/v1/cases?volgorde={order}&na={body['next']}" if body["next"] else None
            assert pages == 3 and len(seen) == len(set(seen)) == 120
            assert seen == (sorted(ids, reverse=True) if order == "recent" else sorted(ids))
        html = await http.get("/casussen", headers={"accept": "text/html"})
        assert html.status_code == 200 and "120 casussen gevonden" in html.text
        next_link = re.search(r'href="(/casussen\?[^"]*na=[^"]+)" rel="next"', html.text).group(1)
        page2 = await http.get(next_link.replace("&amp;", "&"), headers={"accept": "text/html"})
        first = set(re.findall(r'href="/casussen/(\d+)"', html.text))
        second = set(re.findall(r'href="/casussen/(\d+)"', page2.text))
        assert len(first) == len(second) == 50 and not first & second
        bad = await http.get("/api/v1/cases?na=kapot!")
        assert bad.status_code == 422


async def test_filters_through_the_query_string(app, world):
    contract, org_a, org_b = world["contract"], world["org_a"], world["org_b"]
    a_care = await factories.case(contract, status="in_care", subcontractor=org_a.id, neighbourhood="Centrum")
    b_care = await factories.case(contract, status="in_care", subcontractor=org_b.id, neighbourhood="Noord",
                                  product_category="07")
    stalled = await factories.case(contract, status="assessment", status_since=days_ago(90), neighbourhood="Noord")
    fresh = await factories.case(contract, status="assessment", status_since=days_ago(1), neighbourhood="Noord")

    async def listed(http, query: str) -> set[int]:
        response = await http.get(f"/api/v1/cases?{query}")
        assert response.status_code == 200, response.text
        return {row["id"] for row in response.json()["cases"]}

    async with factories.logged_in(app, world["coordinator"]) as http:
        assert await listed(http, "status=in_care") == {a_care.id, b_care.id}
        assert await listed(http, f"onderaannemer={org_b.id}") == {b_care.id}
        assert await listed(http, "categorie=07") == {b_care.id}
        assert await listed(http, "wijk=Noord") == {b_care.id, stalled.id, fresh.id}
        assert await listed(http, "te_laat=1") == {stalled.id}
        assert await listed(http, "te_laat=1&wijk=Centrum") == set()
        page = await http.get("/casussen?status=assessment&wijk=Noord&te_laat=1", headers={"accept": "text/html"})
        assert stalled.case_number in page.text and fresh.case_number not in page.text
        assert 'value="Noord"' in page.text and 'id="te_laat" name="te_laat" value="1" checked' in page.text
        assert (await http.get("/api/v1/cases?categorie=99")).status_code == 422
        # the contract's own norm wins over the default one
        await StatusNorm(contract=contract.id, status="assessment", max_working_days=200).save()
        assert await listed(http, "te_laat=1") == set()
    async with factories.logged_in(app, world["sub_a"]) as http:
        assert await listed(http, "") == {a_care.id}
        assert await listed(http, f"onderaannemer={org_b.id}") == set()
        page = await http.get("/casussen", headers={"accept": "text/html"})
        assert a_care.case_number in page.text and b_care.case_number not in page.text


async def test_navigation_per_role(app, world):
    expectations = {
        "coordinator": ({"/casussen", "/toewijzen", "/wachtlijst"}, {"/inbox"}),
        "manager": ({"/casussen", "/toewijzen", "/wachtlijst"}, {"/inbox"}),
        "sub_a": ({"/casussen", "/inbox"}, {"/toewijzen", "/wachtlijst"}),
    }
    for who, (shown, hidden) in expectations.items():
        async with factories.logged_in(app, world[who]) as http:
            page = (await http.get("/casussen", headers={"accept": "text/html"})).text
        nav = page.split('class="main-nav"', 1)[1].split("</nav>", 1)[0]
        links = set(re.findall(r'href="(/[a-z]+)"', nav))
        assert shown <= links and not hidden & links, who
        assert '<a href="/casussen" aria-current="page">' in nav
