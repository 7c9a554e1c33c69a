"""The right of access (AVG art. 15): the privacy role, one export of everything on a resident across the
municipality's contracts, the audit of who read it, and the audited request itself. Service and web."""

import csv
import io
import json
import zipfile
from datetime import date

import pytest

from portal.accounts import service as accounts_service
from portal.accounts.schemas import UserInput
from portal.accounts.tables import AuditEntry, User
from portal.cases import service as cases_service
from portal.cases.schemas import NewCase
from portal.cases.tables import Case
from portal.lib.errors import InvalidInput, NotPermitted
from portal.lib.pseudonym import pseudonymise
from portal.privacy import rules, service
from portal.settings import get_settings
from portal.signals.tables import Signal, SignalComment
from tests import factories

BSN = "111222333"
OTHER_BSN = "123456782"
actor_for = factories.actor_for


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Inzagedam")
    elsewhere = await factories.organisation("municipality", "Gemeente Elders")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Inzage")
    contracts = [await factories.contract(municipality, main, name="Contract Een", case_prefix="EEN",
                                          start_date=date(2025, 1, 1)),
                 await factories.contract(municipality, main, name="Contract Twee", case_prefix="TWE",
                                          start_date=date(2025, 1, 1)),
                 await factories.contract(elsewhere, main, name="Contract Elders", case_prefix="ELD",
                                          start_date=date(2025, 1, 1))]
    coordinator_user = await factories.user(main, "coordinator", display_name="Carla Coördinator")
    coordinator = actor_for(coordinator_user, main)
    cases = []
    for contract in contracts:
        created = await cases_service.register_case(coordinator, NewCase(
            contract_id=contract.id, bsn=BSN, neighbourhood="Centrum", domain="wmo", product_category="02",
            melding_date=date(2026, 3, 2), note=f"Aanmelding via wijkteam {contract.name}"))
        cases.append(created)
    stranger = await cases_service.register_case(coordinator, NewCase(
        contract_id=contracts[0].id, bsn=OTHER_BSN, neighbourhood="Noord", domain="wmo", product_category="02",
        melding_date=date(2026, 3, 2), note="Een andere inwoner"))
    # a signal about the first case, with a comment; and a read of the case (audited)
    signal = Signal(contract=contracts[0].id, rule="raised", severity="medium", dedup_key="raised:test:1",
                    case=cases[0]["id"], owner_organisation=municipality.id, title="Zorg over de wachttijd",
                    detail="De wachttijd loopt op")
    await signal.save()
    await SignalComment(signal=signal.id, author=coordinator_user.id, organisation=main.id,
                        body="We pakken dit deze week op").save()
    await cases_service.get_case(coordinator, cases[0]["id"])
    officer = await factories.user(municipality, "contract_manager", display_name="Olga Privacy",
                                   is_privacy_officer=True)
    manager = await factories.user(municipality, "contract_manager", display_name="Mark Manager")
    admin = await factories.user(await factories.organisation("platform", "Platform"), "admin")
    return {"municipality": municipality, "main": main, "contracts": contracts, "cases": cases, "stranger": stranger,
            "officer": officer, "manager": manager, "coordinator": coordinator, "coordinator_user": coordinator_user,
            "admin": admin, "signal": signal}


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


async def test_an_access_request_exports_everything_on_the_resident_in_the_municipality(world):
    officer = actor_for(world["officer"], world["municipality"])
    request = rules.parse_access_request(BSN, "AVG-verzoek 2026-017")
    export = await service.access_request(officer, request, get_settings().pseudonym_keys)
    files = unzip(export.content)
    assert set(files) == {"LEESMIJ.txt", "casussen.csv", "gebeurtenissen.csv", "signalen.csv", "signaalreacties.csv",
                          "inzage-log.csv", "gegevens.json", "overzicht.pdf"}
    numbers = [row["casusnummer"] for row in csv_rows(files["casussen.csv"])]
    own = [case["case_number"] for case in world["cases"][:2]]
    assert sorted(numbers) == sorted(own)  # both contracts of the municipality, not the other municipality's
    assert world["cases"][2]["case_number"] not in files["gegevens.json"].decode()
    assert world["stranger"]["case_number"] not in files["gegevens.json"].decode()
    events = csv_rows(files["gebeurtenissen.csv"])
    assert {row["notitie"] for row in events} == {"Aanmelding via wijkteam Contract Een",
                                                   "Aanmelding via wijkteam Contract Twee"}
    assert [row["titel"] for row in csv_rows(files["signalen.csv"])] == ["Zorg over de wachttijd"]
    assert [row["tekst"] for row in csv_rows(files["signaalreacties.csv"])] == ["We pakken dit deze week op"]
    log = csv_rows(files["inzage-log.csv"])
    reads = [row for row in log if row["handeling"] == "read"]
    assert [row["persoon"] for row in reads] == ["Carla Coördinator"]
    assert reads[0]["casusnummer"] == own[0]
    assert any(row["handeling"] == "create" for row in log)  # the registration itself
    data = json.loads(files["gegevens.json"])
    assert data["kenmerk"] == "AVG-verzoek 2026-017" and len(data["casussen"]) == 2
    assert files["overzicht.pdf"].startswith(b"%PDF-")
    assert export.cases == 2 and export.file_name.startswith("inzage-") and export.file_name.endswith(".zip")
    for content in files.values():  # the BSN is nowhere in the export
        assert BSN.encode() not in content


async def test_the_request_is_audited_with_the_pseudonym_per_contract_never_the_bsn(world):
    officer = actor_for(world["officer"], world["municipality"])
    await service.access_request(officer, rules.parse_access_request(BSN, "Verzoek 9"), get_settings().pseudonym_keys)
    pseudonym = pseudonymise(BSN, get_settings().pseudonym_keys)
    entries = await AuditEntry.select().where(AuditEntry.action == "inzage")
    assert sorted(entry["contract_id"] for entry in entries) == sorted(c.id for c in world["contracts"][:2])
    for entry in entries:
        assert entry["object_type"] == "resident" and entry["object_id"] == pseudonym
        assert entry["user"] == world["officer"].id and "Verzoek 9" in entry["purpose"]
    everything = json.dumps(await AuditEntry.select(), default=str)
    assert BSN not in everything
    # a second request finds the first one in its log (who asked for this resident before)
    export = await service.access_request(officer, rules.parse_access_request(BSN, "Verzoek 10"),
                                          get_settings().pseudonym_keys)
    log = csv_rows(unzip(export.content)["inzage-log.csv"])
    assert [row["doel"] for row in log if row["handeling"] == "inzage"][:2] == [
        "inzageverzoek AVG art. 15: Verzoek 9"] * 2


async def test_a_resident_without_cases_gets_an_empty_export_and_the_request_is_still_audited(world):
    officer = actor_for(world["officer"], world["municipality"])
    export = await service.access_request(officer, rules.parse_access_request("100000010", "Verzoek leeg"),
                                          get_settings().pseudonym_keys)
    assert export.cases == 0 and csv_rows(unzip(export.content)["casussen.csv"]) == []
    assert await AuditEntry.count().where(AuditEntry.action == "inzage") == 2


async def test_only_a_contract_manager_with_the_privacy_role_may_ask(world):
    manager = actor_for(world["manager"], world["municipality"])
    request = rules.parse_access_request(BSN, "Verzoek 1")
    with pytest.raises(NotPermitted):
        await service.access_request(manager, request, get_settings().pseudonym_keys)
    with pytest.raises(NotPermitted):
        await service.access_request(world["coordinator"], request, get_settings().pseudonym_keys)
    # an officer whose account was deactivated loses the role with it
    await User.update({User.is_active: False}).where(User.id == world["officer"].id)
    with pytest.raises(NotPermitted):
        await service.access_request(actor_for(world["officer"], world["municipality"]), request,
                                     get_settings().pseudonym_keys)
    assert await AuditEntry.count().where(AuditEntry.action == "inzage") == 0


async def test_the_privacy_role_is_given_by_an_admin_and_only_to_contract_managers(world):
    admin = actor_for(world["admin"], await factories.organisation("platform"))
    await service.set_privacy_officer(admin, world["manager"].id, True)
    assert (await User.select(User.is_privacy_officer).where(User.id == world["manager"].id).first())[
        "is_privacy_officer"] is True
    with pytest.raises(InvalidInput):
        await service.set_privacy_officer(admin, world["coordinator_user"].id, True)
    with pytest.raises(NotPermitted):
        await service.set_privacy_officer(actor_for(world["officer"], world["municipality"]), world["manager"].id,
                                          False)
    created = await accounts_service.create_user(admin, UserInput(
        email="nieuw@inzagedam.nl", display_name="Nieuwe Privacy", organisation_id=world["municipality"].id,
        role="contract_manager", privacy_officer=True), "een-heel-goed-wachtwoord")
    assert (await User.select(User.is_privacy_officer).where(User.id == created).first())["is_privacy_officer"]
    with pytest.raises(InvalidInput):
        await accounts_service.create_user(admin, UserInput(
            email="coord@inzagedam.nl", display_name="Geen Privacy", organisation_id=world["main"].id,
            role="coordinator", privacy_officer=True), "een-heel-goed-wachtwoord")


# --- web ---------------------------------------------------------------------------------------------


async def test_the_form_page_and_a_download(app, world):
    async with factories.logged_in(app, world["officer"]) as http:
        page = await http.get("/beheer/inzage", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert 'inputmode="numeric"' in page.text and 'autocomplete="off"' in page.text
        assert "Contract Een" in page.text and "Contract Elders" not in page.text
        response = await factories.post_form(http, "/beheer/inzage", {"bsn": "111 222 333", "kenmerk": "Web 1"})
        assert response.status_code == 200, response.text[:300]
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["cache-control"] == "no-store"
        assert "attachment" in response.headers["content-disposition"]
        numbers = [row["casusnummer"] for row in csv_rows(unzip(response.content)["casussen.csv"])]
        assert len(numbers) == 2


async def test_an_invalid_bsn_is_refused_in_dutch_and_never_echoed(app, world):
    async with factories.logged_in(app, world["officer"]) as http:
        response = await factories.post_form(http, "/beheer/inzage", {"bsn": "123456789", "kenmerk": "Web 2"})
        assert response.status_code == 422
        assert "elfproef" in response.text and "Web 2" in response.text
        assert "123456789" not in response.text
        response = await factories.post_form(http, "/beheer/inzage", {"bsn": BSN, "kenmerk": ""})
        assert response.status_code == 422 and BSN not in response.text and "kenmerk" in response.text.lower()
    assert await AuditEntry.count().where(AuditEntry.action == "inzage") == 0


async def test_without_the_privacy_role_the_page_is_forbidden(app, world):
    async with factories.logged_in(app, world["manager"]) as http:
        assert (await http.get("/beheer/inzage", headers={"accept": "text/html"})).status_code == 403
        response = await factories.post_form(http, "/beheer/inzage", {"bsn": BSN, "kenmerk": "Web 3"})
        assert response.status_code == 403 and "privacyrol" in response.text and BSN not in response.text


async def test_the_admin_page_shows_and_toggles_the_privacy_role(app, world):
    async with factories.logged_in(app, world["admin"]) as http:
        page = await http.get("/beheer", headers={"accept": "text/html"})
        assert f'/beheer/gebruikers/{world["manager"].id}/privacy' in page.text
        assert f'/beheer/gebruikers/{world["coordinator_user"].id}/privacy' not in page.text
        response = await factories.post_form(http, f"/beheer/gebruikers/{world['manager'].id}/privacy",
                                             {"privacy": "ja"})
        assert response.status_code == 303
        response = await factories.post_form(http, "/beheer/gebruikers", {
            "display_name": "Pim Privacy", "email": "pim@inzagedam.nl",
            "organisation_id": str(world["municipality"].id), "role": "contract_manager", "privacy_officer": "ja",
            "password": "een-heel-goed-wachtwoord"})
        assert response.status_code == 303
    rows = await User.select(User.email, User.is_privacy_officer).where(
        User.email.is_in([world["manager"].email, "pim@inzagedam.nl"]))
    assert all(row["is_privacy_officer"] for row in rows) and len(rows) == 2
    async with factories.logged_in(app, world["manager"]) as http:
        assert (await http.get("/beheer/inzage", headers={"accept": "text/html"})).status_code == 200


async def test_case_pseudonyms_of_the_world_match_the_settings_chain(world):
    """Sanity for the tests above: registration and access request use the same key chain."""
    rows = await Case.select(Case.pseudonym).where(Case.id.is_in([case["id"] for case in world["cases"]]))
    assert {row["pseudonym"] for row in rows} == {pseudonymise(BSN, get_settings().pseudonym_keys)}


async def test_the_audit_page_shows_the_request_without_the_whole_pseudonym(app, world):
    officer = actor_for(world["officer"], world["municipality"])
    await service.access_request(officer, rules.parse_access_request(BSN, "Verzoek audit"),
                                 get_settings().pseudonym_keys)
    pseudonym = pseudonymise(BSN, get_settings().pseudonym_keys)
    async with factories.logged_in(app, world["manager"]) as http:
        page = await http.get("/beheer/audit", headers={"accept": "text/html"})
    assert "inzage" in page.text and f"ref. {pseudonym[:8]}" in page.text and "Verzoek audit" in page.text
    assert pseudonym not in page.text and BSN not in page.text


async def test_the_command_line_creates_a_privacy_officer(world):
    import asyncio
    import os
    import sys

    from portal.settings import REPO_ROOT

    async def create(email: str, role: str, organisation_id: int) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portal.cli", "create-user", "--email", email, "--name", "Via Opdrachtregel",
            "--organisation-id", str(organisation_id), "--role", role, "--privacy", "--password-stdin",
            cwd=str(REPO_ROOT), env=dict(os.environ), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(b"een-heel-goed-wachtwoord\n"), timeout=120)
        return process.returncode, out.decode() + err.decode()

    code, text = await create("cli@inzagedam.nl", "contract_manager", world["municipality"].id)
    assert code == 0, text
    row = await User.select(User.is_privacy_officer).where(User.email == "cli@inzagedam.nl").first()
    assert row["is_privacy_officer"] is True
    code, text = await create("cli2@inzagedam.nl", "coordinator", world["main"].id)
    assert code != 0 and "Alleen een contractmanager" in text

