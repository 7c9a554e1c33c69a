"""Oversized and malformed input: every answer is a 4xx with a Dutch message, and nothing is half-written.

Bodies beyond the request limit (413), 1 MB text fields, invalid UTF-8, wrong content types, malformed JSON,
CSV files of binary junk or beyond their row and size limits, NUL characters (PostgreSQL cannot store them in
text), impossible dates and negative or enormous numbers, through the HTML forms and through the JSON API.
"""

import asyncio
import io
import json
import re

import pytest

from portal.accounts import api_keys
from portal.accounts.tables import AuditEntry
from portal.app import REQUEST_MAX_BODY_SIZE
from portal.cases.tables import Case, CaseEvent
from portal.lib.csv_import import MAX_BYTES, MAX_ROWS
from portal.reports.tables import Report, ReportComment, ReportVersion
from portal.savings.tables import SavingsActual
from portal.signals.tables import Signal, SignalComment
from tests import factories
from tests.reports.conftest import GOOD_VALUES
from tests.reports.conftest import world as learning_world

world = learning_world  # the learning-cycle world (a contract, a period, people of every role), reused

HTML = {"accept": "text/html"}
JSON = {"accept": "application/json"}
BSN = "111222333"  # passes the elfproef
MEGABYTE_NOTE = "Lange toelichting. " * 55_000  # about 1 MB
DUTCH = re.compile(r"\b(de|het|een|niet|of|van|is|in|uw|vul|kies|te)\b", re.IGNORECASE)


async def _counts() -> dict[str, int]:
    return {"cases": await Case.count(), "events": await CaseEvent.count(), "signals": await Signal.count(),
            "comments": await SignalComment.count(), "reports": await Report.count(),
            "versions": await ReportVersion.count(), "report_comments": await ReportComment.count(),
            "actuals": await SavingsActual.count(),
            "audit": await AuditEntry.count()}


def _refused(response, *statuses: int) -> str:
    """A 4xx (one of ``statuses`` when given) with a Dutch message; returns the message."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:500])
    if response.headers.get("content-type", "").startswith("application/json"):
        message = response.json()["detail"]
    else:
        message = re.sub(r"<[^>]+>", " ", response.text)
    assert DUTCH.search(message), message[:500]
    assert "Internal Server Error" not in message and "Traceback" not in message
    return message


def _intake(world, **fields) -> dict:
    values = {"contract_id": str(world["contract"].id), "bsn": BSN, "neighbourhood": "Centrum", "domain": "wmo",
              "product_category": "02", "urgency": "normal", "provision_type": "individual",
              "melding_date": "02-03-2026", "note": ""}
    return {**values, **fields}


def _api_case(world, **fields) -> dict:
    return {"contract_id": world["contract"].id, "bsn": BSN, "neighbourhood": "Centrum", "domain": "wmo",
            "product_category": "02", **fields}


async def _key(world, who: str = "coordinator") -> dict[str, str]:
    key = (await api_keys.create_api_key_for(world["users"][who].email, "abuse")).key
    return {"Authorization": f"Bearer {key}"}


# --- bodies beyond the request limit: 413 before anything is read ---------------------------------------


async def test_a_body_beyond_the_limit_is_413_with_a_dutch_message_and_nothing_is_written(app, world):
    huge = "x" * (REQUEST_MAX_BODY_SIZE + 1024)
    before = await _counts()
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        form = await factories.post_form(http, "/casussen/nieuw", _intake(world, note=huge))
        assert "te groot" in _refused(form, 413)
        headers = await _key(world)
        api = await http.post("/api/v1/cases", json=_api_case(world, note=huge), headers=headers)
        assert "te groot" in _refused(api, 413) and api.json()["code"] == "too_large"
        csv = await http.post("/api/v1/imports?dry_run=false", content=huge.encode(),
                              headers={**headers, "content-type": "text/csv"})
        assert "te groot" in _refused(csv, 413)

        async def chunks():  # no Content-Length: the limit holds on the bytes that arrive
            for _ in range(REQUEST_MAX_BODY_SIZE // (1024 * 1024) + 2):
                yield b"y" * (1024 * 1024)

        streamed = await http.post("/api/v1/imports?dry_run=false", content=chunks(),
                                   headers={**headers, "content-type": "text/csv"})
        assert "te groot" in _refused(streamed, 413)
    after = await _counts()
    assert after["cases"] == before["cases"] and after["events"] == before["events"]


# --- 1 MB in a text field ----------------------------------------------------------------------------------


async def test_a_megabyte_of_text_in_a_form_field_is_refused_and_nothing_is_written(app, world):
    case = await factories.case(world["contract"], "registered")
    signal = Signal(contract=world["contract"].id, rule="raised", severity="medium", dedup_key="abuse-1",
                    title="Een signaal", owner_organisation=world["main"].id)
    await signal.save()
    before = await _counts()
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        intake = await factories.post_form(http, "/casussen/nieuw", _intake(world, note=MEGABYTE_NOTE))
        _refused(intake, 422)
        hold = await factories.post_form(http, f"/casussen/{case.id}/acties/start_assessment",
                                         {"version": "1", "note": MEGABYTE_NOTE})
        _refused(hold, 422)
        comment = await factories.post_form(http, f"/signalen/{signal.id}/reacties", {"body": MEGABYTE_NOTE})
        _refused(comment, 422)
        api = await http.post("/api/v1/cases", json=_api_case(world, note=MEGABYTE_NOTE), headers=await _key(world))
        _refused(api, 422)
        assert api.json()["field"] == "note"
    async with factories.logged_in(app, world["users"]["sub_a"]) as http:
        response = await factories.post_form(http, f"/leercyclus/perioden/{world['period'].id}/rapportage")
        report_id = int(response.headers["location"].rsplit("/", 1)[1])
        before["reports"] += 1
        submit = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/indienen",
                                           {**{f"waarde-{k}": v for k, v in GOOD_VALUES.items()},
                                            "tekst-goed": MEGABYTE_NOTE})
        _refused(submit, 422)
        for fields in ({"title": MEGABYTE_NOTE, "detail": "Kort."}, {"title": "Kort", "detail": MEGABYTE_NOTE}):
            raised = await factories.post_form(http, "/signalen/nieuw",
                                               {"contract_id": str(world["contract"].id), **fields})
            _refused(raised, 422)
        good = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/indienen",
                                         {f"waarde-{k}": v for k, v in GOOD_VALUES.items()})
        assert good.status_code == 303
        before["versions"] += 1
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        comment = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/reacties",
                                            {"section": "", "body": MEGABYTE_NOTE})
        _refused(comment, 422)
        returned = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/terugsturen",
                                             {"reason": MEGABYTE_NOTE})
        _refused(returned, 422)
    async with factories.logged_in(app, world["users"]["manager"]) as http:
        actual = await factories.post_form(http, f"/besparingen/{world['contract'].id}/werkelijk", {
            "van": "01-01-2026", "tot": "31-03-2026", "bedrag": "1.000,00", "bron": "ledger",
            "toelichting": MEGABYTE_NOTE})
        _refused(actual, 422)
    after = await _counts()
    assert {k: v for k, v in after.items() if k != "audit"} == {k: v for k, v in before.items() if k != "audit"}
    assert await Case.select(Case.version).where(Case.id == case.id).first() == {"version": 1}
    assert (await Report.select(Report.status).where(Report.id == report_id).first())["status"] == "submitted"


# --- invalid UTF-8, wrong content types, malformed JSON -----------------------------------------------------


async def test_invalid_utf8_wrong_content_types_and_malformed_json_are_4xx_in_dutch(app, world):
    before = await _counts()
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        token = await factories.csrf_token(http)
        headers = await _key(world)
        raw_form = (f"_csrf_token={token}&contract_id={world['contract'].id}&bsn={BSN}&neighbourhood=".encode()
                    + b"\xff\xfe\xc3(" + b"&domain=wmo&product_category=02&melding_date=02-03-2026")
        form = await http.post("/casussen/nieuw", content=raw_form,
                               headers={**HTML, "content-type": "application/x-www-form-urlencoded"})
        assert "UTF-8" in _refused(form, 400)

        bad_utf8 = await http.post("/api/v1/cases", content=b'{"contract_id": 1, "bsn": "\xff\xfe"}',
                                   headers={**headers, "content-type": "application/json"})
        _refused(bad_utf8, 400, 422)
        for body in (b"{", b"[1, 2", b'{"contract_id": }', b"null", b"nan", b'"text"', b"", b"\x00\x01\x02"):
            malformed = await http.post("/api/v1/cases", content=body,
                                        headers={**headers, "content-type": "application/json"})
            _refused(malformed, 400, 422)
            assert malformed.json()["code"] in ("bad_request", "invalid_input"), body
        as_form = await http.post("/api/v1/cases", data=_api_case(world), headers=headers)
        _refused(as_form, 400, 415, 422)
        as_xml = await http.post("/api/v1/cases", content=b"<case><bsn>1</bsn></case>",
                                 headers={**headers, "content-type": "application/xml"})
        _refused(as_xml, 400, 415, 422)
        event_as_text = await http.post("/api/v1/cases/1/events", content=b"action=accept",
                                        headers={**headers, "content-type": "text/plain"})
        _refused(event_as_text, 400, 404, 415, 422)
        # a form endpoint sent JSON (with a valid CSRF header): refused, never a 500
        json_form = await http.post("/casussen/nieuw", json=_intake(world),
                                    headers={**HTML, "x-csrftoken": token})
        assert 400 <= json_form.status_code < 500, json_form.text[:300]
        # a wrong method on an API path
        wrong_method = await http.put("/api/v1/cases", json=_api_case(world), headers=headers)
        assert wrong_method.status_code == 405 and wrong_method.json()["detail"].startswith("Deze methode")
    after = await _counts()
    assert after["cases"] == before["cases"] and after["events"] == before["events"]


# --- CSV: binary junk, too many rows, too many bytes -------------------------------------------------------

CSV_HEADER = "regel_type;referentie;contract;bsn;wijk;domein;productcategorie;meldingsdatum\n"


async def _import(http, headers, content: bytes, dry_run: bool = False):
    return await http.post(f"/api/v1/imports?dry_run={'true' if dry_run else 'false'}", content=content,
                           headers={**headers, "content-type": "text/csv"})


async def test_csv_junk_and_files_beyond_the_limits_are_refused_whole(app, world):
    headers = await _key(world)
    before = await _counts()
    async with factories.http_client(app) as http:
        junk = bytes(range(256)) * 64
        _refused(await _import(http, headers, junk), 422)
        nul = (CSV_HEADER + f"melding;r1;{world['contract'].id};{BSN};Cent\x00rum;wmo;02;02-03-2026\n").encode()
        response = await _import(http, headers, nul)
        assert "NUL" in _refused(response, 422)
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
        _refused(await _import(http, headers, png), 422)

        row = f"melding;r{{n}};{world['contract'].id};{BSN};Centrum;wmo;02;02-03-2026\n"
        many = CSV_HEADER + "".join(row.format(n=n) for n in range(MAX_ROWS + 1))
        assert len(many.encode()) < MAX_BYTES
        response = await _import(http, headers, many.encode())
        assert str(MAX_ROWS) in _refused(response, 422)

        # 100.000 rows: beyond the size limit of the importer (and under the request limit)
        hundred_k = CSV_HEADER + "".join(row.format(n=n) for n in range(100_000))
        assert MAX_BYTES < len(hundred_k.encode()) < REQUEST_MAX_BODY_SIZE
        response = await _import(http, headers, hundred_k.encode())
        assert "MB" in _refused(response, 422)
        # the same through the upload page
        async with factories.logged_in(app, world["users"]["coordinator"]) as browser:
            token = await factories.csrf_token(browser)
            page = await browser.post("/casussen/import", data={"_csrf_token": token},
                                      files={"bestand": ("groot.csv", io.BytesIO(hundred_k.encode()), "text/csv")},
                                      headers=HTML)
            assert "MB" in _refused(page, 422)
    after = await _counts()
    assert after["cases"] == before["cases"] and after["events"] == before["events"]


# --- NUL characters: the same 4xx on SQLite and PostgreSQL ---------------------------------------------------


async def test_nul_characters_are_refused_before_anything_is_written(app, world):
    case = await factories.case(world["contract"], "registered")
    signal = Signal(contract=world["contract"].id, rule="raised", severity="medium", dedup_key="abuse-2",
                    title="Een signaal", owner_organisation=world["main"].id)
    await signal.save()
    before = await _counts()
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        headers = await _key(world)
        for fields in ({"neighbourhood": "Cent\x00rum"}, {"note": "een\x00notitie"}):
            response = await factories.post_form(http, "/casussen/nieuw", _intake(world, **fields))
            assert "NUL" in _refused(response, 422)
        action = await factories.post_form(http, f"/casussen/{case.id}/acties/start_assessment",
                                           {"version": "1", "note": "nul\x00byte"})
        assert "NUL" in _refused(action, 422)
        comment = await factories.post_form(http, f"/signalen/{signal.id}/reacties", {"body": "a\x00b"})
        assert "NUL" in _refused(comment, 422)
        for fields in ({"note": "een\x00notitie"}, {"neighbourhood": "Cent\x00rum"}, {"bsn": "11122\x002333"}):
            api = await http.post("/api/v1/cases", json=_api_case(world, **fields), headers=headers)
            assert "NUL" in _refused(api, 422) and api.json()["code"] == "invalid_input"
        event = await http.post(f"/api/v1/cases/{case.id}/events", headers=headers,
                                json={"action": "start_assessment", "version": 1, "note": "x\x00"})
        assert "NUL" in _refused(event, 422)
        for url in ("/casussen?zoek=a%00b", "/api/v1/cases?wijk=%00", "/signalen?regel=%00"):
            listed = await http.get(url, headers=HTML if not url.startswith("/api") else headers)
            assert "NUL" in _refused(listed, 422)
    after = await _counts()
    assert {k: v for k, v in after.items() if k != "audit"} == {k: v for k, v in before.items() if k != "audit"}
    assert (await Case.select(Case.version).where(Case.id == case.id).first())["version"] == 1


# --- impossible dates and numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["31-02-2026", "00-01-2026", "32-13-2026", "29-02-2027", "01-01-99999999999999999999",
                                   "1-1-1", "--", "٢٢-١١-٢٠٢٦x"])
async def test_impossible_dates_in_the_intake_form_are_422_in_dutch(app, world, typed):
    cases_before = await Case.count()
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        response = await factories.post_form(http, "/casussen/nieuw", _intake(world, melding_date=typed))
        assert "dd-mm-jjjj" in _refused(response, 422)
    assert await Case.count() == cases_before


async def test_impossible_dates_and_enormous_numbers_through_the_api_are_4xx(app, world):
    cases_before = await Case.count()
    headers = await _key(world)
    async with factories.http_client(app) as http:
        for date_text in ("2026-02-31", "31-02-2026", "99999-01-01", "2026-13-01", ""):
            response = await http.post("/api/v1/cases", json=_api_case(world, melding_date=date_text),
                                       headers=headers)
            _refused(response, 400, 422)
        for number in (2**31, 2**63, 2**70, -1, 0, 1e308):
            response = await http.post("/api/v1/cases", json=_api_case(world, contract_id=number), headers=headers)
            _refused(response, 400, 404, 422)
            event = await http.post("/api/v1/cases/1/events", headers=headers,
                                    json={"action": "start_assessment", "version": number})
            _refused(event, 400, 404, 422)
        for path_id in (2**31, 2**63, 2**80):
            response = await http.get(f"/api/v1/cases/{path_id}", headers=headers)
            _refused(response, 404, 422)
            response = await http.get(f"/api/v1/contracts/{path_id}/savings", headers=headers)
            _refused(response, 403, 404, 422)
    async with factories.logged_in(app, world["users"]["coordinator"]) as browser:
        for path_id in (2**31, 2**63, 2**80):
            page = await browser.get(f"/casussen/{path_id}", headers=HTML)
            _refused(page, 404, 422)
            page = await browser.get(f"/signalen/{path_id}", headers=HTML)
            _refused(page, 404, 422)
    assert await Case.count() == cases_before


ENORMOUS = ["-5", "-0,5", "99999999999999999999999999", "1e308", "1E5", "NaN", "Infinity", "1.2.3,4,5",
            "9" * 5000]


async def test_negative_and_enormous_report_indicators_are_refused_with_every_typed_value_kept(app, world):
    async with factories.logged_in(app, world["users"]["sub_a"]) as http:
        response = await factories.post_form(http, f"/leercyclus/perioden/{world['period'].id}/rapportage")
        report_id = int(response.headers["location"].rsplit("/", 1)[1])
        accepted = []
        for typed in ENORMOUS:
            values = {**GOOD_VALUES, "nieuwe_hulpvragen": typed}
            submit = await factories.post_form(http, f"/leercyclus/rapportages/{report_id}/indienen",
                                               {f"waarde-{k}": v for k, v in values.items()})
            if submit.status_code == 303:
                accepted.append(typed)
            else:
                _refused(submit, 422)
        assert not accepted
        autosave = await http.post(f"/leercyclus/rapportages/{report_id}/autosave",
                                   data={"_csrf_token": await factories.csrf_token(http),
                                         "waarde-nieuwe_hulpvragen": "9" * 5000}, headers=JSON)
        assert autosave.status_code < 500, autosave.text[:300]
    assert await ReportVersion.count() == 0


async def test_negative_and_enormous_savings_amounts_are_refused(app, world):
    contract_id = world["contract"].id
    async with factories.logged_in(app, world["users"]["manager"]) as http:
        accepted = []
        for typed in [*ENORMOUS, "-1.000,00", "1.000.000.000.000.000,00", "5,999"]:
            actual = await factories.post_form(http, f"/besparingen/{contract_id}/werkelijk", {
                "van": "01-01-2026", "tot": "31-03-2026", "bedrag": typed, "bron": "ledger"})
            _refused(actual, 422)
            investment = await factories.post_form(http, f"/besparingen/{contract_id}/investeringen", {
                "datum": "01-02-2026", "bedrag": typed, "omschrijving": "Opbouw wijkteams"})
            if investment.status_code == 303:
                accepted.append(typed)
            else:
                _refused(investment, 422)
        assert not accepted
        for typed in ("31-02-2026", "01-01-99999999999999999999"):
            actual = await factories.post_form(http, f"/besparingen/{contract_id}/werkelijk", {
                "van": typed, "tot": "31-03-2026", "bedrag": "1.000,00", "bron": "ledger"})
            _refused(actual, 422)
    assert await SavingsActual.count() == 0


async def test_many_concurrent_malformed_requests_leave_the_portal_answering(app, world):
    cases_before = await Case.count()
    headers = await _key(world)
    async with factories.http_client(app) as http:
        bodies = [b"{", json.dumps(_api_case(world, melding_date="2026-02-31")).encode(), b"\xff" * 100,
                  json.dumps(_api_case(world, note="x\x00")).encode()] * 10
        answers = await asyncio.gather(*(http.post("/api/v1/cases", content=body, headers={
            **headers, "content-type": "application/json"}) for body in bodies))
        assert all(400 <= answer.status_code < 500 for answer in answers), [a.status_code for a in answers]
        assert (await http.get("/health/live")).status_code == 200
    assert await Case.count() == cases_before
