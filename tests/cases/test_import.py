"""The CSV import: dry run, all-or-nothing import, the lifecycle across rows, BSNs, and its HTTP routes."""

from datetime import date

import pytest

from portal.accounts import api_keys
from portal.accounts.tables import AuditEntry, IdempotencyRecord
from portal.cases import imports, service
from portal.cases.rules import TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case, CaseEvent
from portal.lib.errors import InvalidInput, NotPermitted
from portal.lib.formatting import format_date, today_nl
from tests import factories

BSN = "111222333"
OTHER_BSN = "123456782"
BAD_BSN = "123456789"


actor_for = factories.actor_for


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Importdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Import")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer A")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer B")
    contract = await factories.contract(municipality, main, case_prefix="IMP", start_date=date(2025, 1, 1))
    await factories.subcontract(contract, sub_a, product_categories="02,07")
    await factories.subcontract(contract, sub_b, product_categories="02")
    users = {"coordinator": await factories.user(main, "coordinator"),
             "sub_a": await factories.user(sub_a, "subcontractor"),
             "sub_b": await factories.user(sub_b, "subcontractor"),
             "manager": await factories.user(municipality, "contract_manager")}
    orgs = {"coordinator": main, "sub_a": sub_a, "sub_b": sub_b, "manager": municipality}
    actors = {name: actor_for(users[name], orgs[name], users[name].role) for name in users}
    return {"contract": contract, "org_a": sub_a, "org_b": sub_b, "users": users, **actors}


def melding(world, ref: str, **values) -> dict:
    return {"regel_type": "melding", "referentie": ref, "contract": str(world["contract"].id), "bsn": BSN,
            "wijk": "Centrum", "domein": "wmo", "productcategorie": "02", "meldingsdatum": "02-11-2026"} | values


def event(action: str, ref: str | None = None, case_number: str | None = None, **values) -> dict:
    return {"regel_type": "gebeurtenis", "referentie": ref or "", "zaaknummer": case_number or "", "actie": action,
            "datum": "03-11-2026"} | values


def csv(*rows: dict, separator: str = ";") -> bytes:
    lines = [separator.join(imports.COLUMNS)]
    lines += [separator.join(row.get(column, "") for column in imports.COLUMNS) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def good_file(world) -> bytes:
    return csv(
        melding(world, "A", toelichting="via het wijkteam"),                                        # line 2
        event("start_assessment", "A"),                                                             # line 3
        event("request_allocation", "A", onderaannemer=str(world["org_a"].id)),                     # line 4
        melding(world, "B", bsn=OTHER_BSN, productcategorie="07", wijk="Noord"),                    # line 5
        event("start_assessment", "B"),                                                             # line 6
        event("reject", "B", reden="L1", beschikking="nee", bezwaarinformatie="ja",
              doorverwezen_naar="nergens"),                                                         # line 7
        event("close", "B", datum="04-11-2026"),                                                    # line 8
    )


async def counts() -> tuple[int, int]:
    return await Case.count(), await CaseEvent.count()


async def test_a_good_file_imports_every_case_and_event_with_its_history(world):
    result = await imports.import_cases(world["coordinator"], good_file(world), dry_run=False)
    assert result.ok, result.errors
    assert (result.rows, result.cases, result.events) == (7, 2, 5)
    assert [c["line"] for c in result.created] == [2, 5] and [c["referentie"] for c in result.created] == ["A", "B"]
    first, second = [await Case.select().where(Case.id == c["id"]).first() for c in result.created]
    assert (first["status"], first["subcontractor"], first["version"]) == ("allocation_requested",
                                                                           world["org_a"].id, 3)
    assert (second["status"], second["version"], second["beschikking_issued"]) == ("closed", 4, False)
    assert first["case_number"] == result.created[0]["case_number"]
    history = await CaseEvent.select(CaseEvent.action, CaseEvent.occurred_at).where(
        CaseEvent.case == second["id"]).order_by(CaseEvent.id)
    assert [e["action"] for e in history] == ["register", "start_assessment", "reject", "close"]
    assert service.local_date(history[-1]["occurred_at"]) == date(2026, 11, 4)
    summary = await AuditEntry.select().where(AuditEntry.object_type == "case_import")
    assert len(summary) == 1


async def test_a_dry_run_checks_everything_and_imports_nothing(world):
    result = await imports.import_cases(world["coordinator"], good_file(world), dry_run=True)
    assert result.ok and (result.cases, result.events) == (2, 5) and result.dry_run
    assert await counts() == (0, 0)


async def test_a_dry_run_lists_every_bad_row_with_line_column_and_reason(world):
    data = csv(
        melding(world, "A"),                                                                 # 2: fine
        melding(world, "B", bsn=BAD_BSN, domein="zorg", meldingsdatum="31-02-2026"),         # 3: three errors
        event("accept", "A"),                                                                # 4: lifecycle
        event("start_assessment", "Z"),                                                      # 5: unknown ref
        event("start_assessment", "A", beschikking="misschien"),                             # 6: ja/nee
        {"regel_type": "iets"},                                                              # 7: type
        event("start_assessment", "A", datum="01-01-2026"),                                  # 8: before melding
    )
    result = await imports.import_cases(world["coordinator"], data, dry_run=True)
    assert not result.ok
    found = {(e.line, e.column) for e in result.errors}
    assert found == {(3, "bsn"), (3, "domein"), (3, "meldingsdatum"), (4, "actie"), (5, "referentie"),
                     (6, "beschikking"), (7, "regel_type"), (8, "datum")}
    messages = {(e.line, e.column): e.message for e in result.errors}
    assert "elfproef" in messages[(3, "bsn")] and BAD_BSN not in str(result.as_dict())
    assert "kan niet 'Accepteren'" in messages[(4, "actie")]
    assert [e.line for e in result.errors] == sorted(e.line for e in result.errors)
    assert await counts() == (0, 0)
    # the same file for real: the same errors and still nothing imported
    real = await imports.import_cases(world["coordinator"], data, dry_run=False)
    assert {(e.line, e.column) for e in real.errors} == found and (real.cases, real.events) == (0, 0)
    assert await counts() == (0, 0)


async def test_one_bad_row_among_good_ones_imports_nothing(world):
    data = csv(melding(world, "A"), event("start_assessment", "A"), melding(world, "B"),
               event("end_care", "B", reden_einde="19"))
    result = await imports.import_cases(world["coordinator"], data, dry_run=False)
    assert [(e.line, e.column) for e in result.errors] == [(5, "actie")]
    assert await counts() == (0, 0)
    assert await AuditEntry.count().where(AuditEntry.object_type == "case") == 0


async def test_the_lifecycle_is_simulated_across_rows_in_file_order(world):
    data = csv(
        melding(world, "A"),
        event("start_assessment", "A"),
        event("accept", "A"),                                                    # 4: accept before the request
        event("request_allocation", "A", onderaannemer=str(world["org_b"].id)),  # 5: fine from assessment
        event("request_allocation", "A", onderaannemer=str(world["org_a"].id)),  # 6: already requested
        event("withdraw", "A", reden="L2", bezwaarinformatie="ja"),              # 7: fine
        event("close", "A"),                                                     # 8: fine
        event("start_assessment", "A"),                                          # 9: closed
    )
    result = await imports.import_cases(world["coordinator"], data, dry_run=True)
    assert [(e.line, e.column) for e in result.errors] == [(4, "actie"), (6, "actie"), (9, "actie")]
    assert "moet eerst antwoorden" in result.errors[1].message


async def test_allocation_checks_the_subcontractor_and_the_payload(world):
    stranger = await factories.organisation("subcontractor")
    data = csv(
        melding(world, "A", productcategorie="07"),
        event("start_assessment", "A"),
        event("request_allocation", "A", onderaannemer=str(world["org_b"].id)),  # 4: B does not deliver 07
        event("request_allocation", "A", onderaannemer=str(stranger.id)),        # 5: not in the contract
        event("request_allocation", "A"),                                        # 6: missing
        event("reject", "A", reden="L1"),                                        # 7: missing legal position
    )
    result = await imports.import_cases(world["coordinator"], data, dry_run=True)
    assert [(e.line, e.column) for e in result.errors] == [(4, "onderaannemer"), (5, "onderaannemer"),
                                                           (6, "onderaannemer"), (7, "beschikking")]
    assert "levert geen 'Dagbesteding'" in result.errors[0].message


async def test_events_for_existing_cases_by_case_number_start_from_their_current_state(world):
    case = await service.register_case(world["coordinator"], NewCase(
        contract_id=world["contract"].id, bsn=BSN, neighbourhood="Oost", domain="wmo", product_category="02",
        melding_date=date(2026, 11, 2)))
    case = await service.act_on_case(world["coordinator"], case["id"], CaseCommand("start_assessment", 1))
    await service.act_on_case(world["coordinator"], case["id"], CaseCommand(
        "request_allocation", 2, TransitionInput(subcontractor_id=world["org_a"].id)))
    today = format_date(today_nl())
    number = case["case_number"]
    # the subcontractor's own system sends its answer and the start of care
    data = csv(event("accept", case_number=number, datum=today), event("start_care", case_number=number, datum=today))
    other = await imports.import_cases(world["sub_b"], data, dry_run=True)
    assert [(e.line, e.column) for e in other.errors] == [(2, "zaaknummer"), (3, "zaaknummer")]
    assert number not in str(other.as_dict()) and "bestaat niet" in other.errors[0].message
    result = await imports.import_cases(world["sub_a"], data, dry_run=False)
    assert result.ok and (result.cases, result.events) == (0, 2)
    row = await Case.select().where(Case.id == case["id"]).first()
    assert (row["status"], row["version"]) == ("in_care", 5)
    events = await CaseEvent.select(CaseEvent.action, CaseEvent.actor_user).where(CaseEvent.case == case["id"])
    assert [e["action"] for e in events][-2:] == ["accept", "start_care"]
    assert events[-1]["actor_user"] == world["users"]["sub_a"].id
    # a subcontractor cannot register meldingen, and a contract manager cannot import at all
    refused = await imports.import_cases(world["sub_a"], csv(melding(world, "X")), dry_run=True)
    assert refused.errors[0].column == "regel_type"
    with pytest.raises(NotPermitted):
        await imports.import_cases(world["manager"], data, dry_run=True)


async def test_a_case_changed_meanwhile_is_a_stale_version_and_rolls_everything_back(world, monkeypatch):
    """A failure in row N rolls back rows 1..N-1, on SQLite and PostgreSQL alike (the services' transactions
    join the import's outer transaction)."""
    calls = {"n": 0}
    real_act = service.act_on_case

    async def failing_third_step(actor, case_id, command):
        calls["n"] += 1
        if calls["n"] == 3:
            raise InvalidInput("Kunstmatige fout op de derde stap.", field="note")
        return await real_act(actor, case_id, command)

    monkeypatch.setattr(service, "act_on_case", failing_third_step)
    result = await imports.import_cases(world["coordinator"], good_file(world), dry_run=False)
    assert [(e.line, e.column, e.message) for e in result.errors] == [
        (6, "toelichting", "Kunstmatige fout op de derde stap.")]
    assert calls["n"] == 3 and (result.cases, result.events) == (0, 0)
    assert await counts() == (0, 0)  # rows 2..5 were written, then rolled back with row 6
    assert await AuditEntry.count().where(AuditEntry.object_type.is_in(["case", "case_import"])) == 0


async def test_a_bsn_is_never_stored_or_echoed(world):
    result = await imports.import_cases(world["coordinator"], good_file(world), dry_run=False)
    assert result.ok and BSN not in str(result.as_dict()) and OTHER_BSN not in str(result.as_dict())
    for table in (Case, CaseEvent, AuditEntry, IdempotencyRecord):
        dump = str(await table.select())
        assert BSN not in dump and OTHER_BSN not in dump, table
    bad = await imports.import_cases(world["coordinator"], csv(melding(world, "A", bsn=BAD_BSN)), dry_run=True)
    assert [(e.line, e.column) for e in bad.errors] == [(2, "bsn")] and BAD_BSN not in bad.errors[0].message


@pytest.mark.parametrize(("data", "words"), [
    (b"", "leeg"),
    (b"\xff\xfe\x00x", "UTF-8"),
    (b"zaaknummer;actie\nA-1;accept\n", "ontbreken"),
    (b"regel_type;kleur\nmelding;rood\n", "Onbekende kolommen"),
    (b"regel_type;actie\nmelding;a;b\n", "velden"),
    (b'regel_type;actie\n"melding;accept\n', "geen geldige CSV"),
    (b"regel_type;actie\n", "geen regels"),
])
async def test_a_malformed_file_is_refused_as_a_whole(world, data, words):
    with pytest.raises(InvalidInput) as raised:
        await imports.import_cases(world["coordinator"], data, dry_run=True)
    assert words in raised.value.message and raised.value.field == "bestand"


# --- over HTTP -------------------------------------------------------------------------------------


async def key_for(world, who: str) -> dict:
    key = (await api_keys.create_api_key_for(world["users"][who].email, "import")).key
    return {"authorization": f"Bearer {key}"}


async def test_the_json_import_route_dry_runs_and_imports(client, world):
    headers = await key_for(world, "coordinator") | {"content-type": "text/csv"}
    dry = await client.post("/api/v1/imports", content=good_file(world), headers=headers)
    assert dry.status_code == 200
    assert dry.json() | {"created": []} == {"ok": True, "dry_run": True, "rows": 7, "errors": [],
                                            "imported": {"cases": 2, "events": 5}, "created": []}
    assert await counts() == (0, 0)
    real = await client.post("/api/v1/imports?dry_run=false", content=good_file(world), headers=headers)
    assert real.status_code == 201 and real.json()["imported"] == {"cases": 2, "events": 5}
    assert await counts() == (2, 7)
    assert BSN not in real.text


async def test_the_json_import_route_reports_bad_rows_and_malformed_files(client, world):
    headers = await key_for(world, "coordinator")
    bad = csv(melding(world, "A"), event("accept", "A"))
    refused = await client.post("/api/v1/imports?dry_run=false", content=bad,
                                headers=headers | {"content-type": "text/csv"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"line": 3, "column": "actie",
                                         "message": "Een casus met status 'Gemeld' kan niet 'Accepteren'."}]
    assert await counts() == (0, 0)
    malformed = await client.post("/api/v1/imports", content=b"\xff\xfe", headers=headers)
    assert malformed.status_code == 422 and "UTF-8" in malformed.json()["detail"]
    assert malformed.json()["field"] == "bestand"
    multipart = await client.post("/api/v1/imports", files={"bestand": ("import.csv", good_file(world), "text/csv")},
                                  headers=headers)
    assert multipart.status_code == 200 and multipart.json()["ok"]
    no_file = await client.post("/api/v1/imports", files={"iets": ("x.csv", b"x", "text/csv")}, headers=headers)
    assert no_file.status_code == 422
    invalid_flag = await client.post("/api/v1/imports?dry_run=misschien", content=good_file(world), headers=headers)
    assert invalid_flag.status_code == 400


async def test_the_json_import_route_is_idempotent(client, world):
    headers = await key_for(world, "coordinator") | {"content-type": "text/csv", "idempotency-key": "import-1"}
    first = await client.post("/api/v1/imports?dry_run=false", content=good_file(world), headers=headers)
    again = await client.post("/api/v1/imports?dry_run=false", content=good_file(world), headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert await counts() == (2, 7)
    other = await client.post("/api/v1/imports?dry_run=true", content=good_file(world), headers=headers)
    assert other.status_code == 422  # the same key for another request (the query differs)


async def test_the_upload_page_dry_runs_by_default_and_shows_the_bad_rows(app, world):
    async with factories.logged_in(app, world["users"]["coordinator"]) as browser:
        form = await browser.get("/casussen/import", headers={"accept": "text/html"})
        assert form.status_code == 200 and 'name="proefimport" type="checkbox" value="ja" checked' in form.text
        example = await browser.get("/casussen/import/voorbeeld.csv")
        assert example.status_code == 200 and example.headers["content-type"].startswith("text/csv")
        # the example file is itself a valid import for this coordinator
        assert (await imports.import_cases(world["coordinator"], example.content, dry_run=True)).ok
        token = await factories.csrf_token(browser)
        bad = csv(melding(world, "A", bsn=BAD_BSN), event("accept", "A"))
        page = await browser.post("/casussen/import", data={"_csrf_token": token, "proefimport": "ja"},
                                  files={"bestand": ("import.csv", bad, "text/csv")}, headers={"accept": "text/html"})
        assert page.status_code == 200 and "Foute regels" in page.text and "elfproef" in page.text
        assert BAD_BSN not in page.text
        done = await browser.post("/casussen/import", data={"_csrf_token": token},
                                  files={"bestand": ("import.csv", good_file(world), "text/csv")},
                                  headers={"accept": "text/html"})
        assert done.status_code == 200 and "Geïmporteerd: 2 meldingen en 5 stappen" in done.text
        empty = await browser.post("/casussen/import", data={"_csrf_token": token, "proefimport": "ja"},
                                   files={"bestand": ("leeg.csv", b"", "text/csv")}, headers={"accept": "text/html"})
        assert empty.status_code == 422 and "leeg" in empty.text
        upload = {"bestand": ("import.csv", good_file(world), "text/csv")}
        no_csrf = await browser.post("/casussen/import", files=upload, headers={"accept": "text/html"})
        assert no_csrf.status_code == 403
    assert await counts() == (2, 7)
