"""Pseudonym key rotation: every pseudonym re-keyed in one transaction (p -> HMAC(new, p)); afterwards a
resident is still found by BSN through the whole key chain (re-report, access request), the old key alone no
longer maps; a rotation with the wrong keys changes nothing; the command never prints a key."""

import asyncio
import json
import os
import sys
from datetime import date

import pytest

from portal.accounts.tables import AuditEntry
from portal.cases import service as cases_service
from portal.cases.schemas import NewCase
from portal.cases.tables import Case
from portal.lib.pseudonym import key_check, pseudonymise, tombstone
from portal.privacy import rules, service
from portal.privacy.tables import PseudonymKeyState
from portal.settings import REPO_ROOT, get_settings
from portal.signals.tables import Signal
from tests import factories
from tests.privacy.test_access import csv_rows, unzip

BSN = "111222333"
NEW_KEY = "nieuwe-pseudoniemsleutel-" + "n" * 32
actor_for = factories.actor_for


@pytest.fixture
def restore_settings():
    yield
    get_settings.cache_clear()


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Sleuteldam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Sleutel")
    contract = await factories.contract(municipality, main, name="Contract Sleutel", start_date=date(2025, 1, 1))
    coordinator = actor_for(await factories.user(main, "coordinator"), main)
    first = await cases_service.register_case(coordinator, NewCase(
        contract_id=contract.id, bsn=BSN, neighbourhood="Centrum", domain="wmo", product_category="02"))
    other = await cases_service.register_case(coordinator, NewCase(
        contract_id=contract.id, bsn="123456782", neighbourhood="Centrum", domain="wmo", product_category="02"))
    # the first case was closed recently, so a new melding for the same resident is a re-report
    await Case.update({Case.status: "closed"}).where(Case.id == first["id"])
    stone = await factories.case(contract, status="closed", pseudonym=tombstone())
    officer = await factories.user(municipality, "contract_manager", is_privacy_officer=True)
    return {"contract": contract, "coordinator": coordinator, "first": first, "other": other, "stone": stone,
            "officer": actor_for(officer, municipality)}


async def _pseudonyms() -> dict[int, str]:
    return {row["id"]: row["pseudonym"] for row in await Case.select(Case.id, Case.pseudonym)}


def _use_chain(monkeypatch, previous: list[str], current: str) -> None:
    monkeypatch.setenv("PORTAL_PSEUDONYM_PREVIOUS_KEYS", ",".join(previous))
    monkeypatch.setenv("PORTAL_PSEUDONYM_KEY", current)
    get_settings.cache_clear()


async def test_after_a_rotation_a_resident_is_still_found_and_the_old_key_no_longer_maps(
        world, monkeypatch, restore_settings):
    old_key = os.environ["PORTAL_PSEUDONYM_KEY"]
    await service.access_request(world["officer"], rules.parse_access_request(BSN, "Voor rotatie"),
                                 get_settings().pseudonym_keys)
    before = await _pseudonyms()
    result = await service.rotate_pseudonym_key(get_settings().pseudonym_keys, NEW_KEY.encode())
    assert (result.pseudonyms, result.cases, result.layers) == (2, 2, 2)
    after = await _pseudonyms()
    assert after[world["stone"].id] == before[world["stone"].id]  # a tombstone links to no one: left alone
    assert after[world["first"]["id"]] != before[world["first"]["id"]]
    assert not set(after.values()) & {before[world["first"]["id"]], before[world["other"]["id"]]}
    # the old key alone no longer maps the BSN to anything stored
    assert pseudonymise(BSN, old_key.encode()) not in after.values()

    _use_chain(monkeypatch, [old_key], NEW_KEY)
    assert get_settings().pseudonym_keys == (old_key.encode(), NEW_KEY.encode())
    again = await cases_service.register_case(world["coordinator"], NewCase(
        contract_id=world["contract"].id, bsn=BSN, neighbourhood="Centrum", domain="wmo", product_category="02"))
    rows = await _pseudonyms()
    assert rows[again["id"]] == rows[world["first"]["id"]]  # the re-report is linked to the earlier case
    assert await Signal.count().where(Signal.rule == "re_report", Signal.case == again["id"]) == 1
    export = await service.access_request(world["officer"], rules.parse_access_request(BSN, "Na rotatie"),
                                          get_settings().pseudonym_keys)
    assert export.cases == 2
    log = csv_rows(unzip(export.content)["inzage-log.csv"])  # the request before the rotation is found too
    assert [row["doel"] for row in log if row["handeling"] == "inzage"] == ["inzageverzoek AVG art. 15: Voor rotatie"]
    state = await PseudonymKeyState.select().first()
    assert state["layers"] == 2 and state["key_check"] == key_check(get_settings().pseudonym_keys)
    entry = await AuditEntry.select().where(AuditEntry.object_type == "pseudonym_key").first()
    recorded = json.loads(entry["new_values"]) if isinstance(entry["new_values"], str) else entry["new_values"]
    assert recorded == {"pseudonyms": 2, "cases": 2, "layers": 2}
    assert old_key not in json.dumps(await AuditEntry.select(), default=str)
    assert NEW_KEY not in json.dumps(await AuditEntry.select(), default=str)


async def test_a_rotation_with_the_wrong_keys_changes_nothing(world):
    await service.check_pseudonym_keys(get_settings().pseudonym_keys)  # what a portal start records
    before = await _pseudonyms()
    with pytest.raises(service.KeyMismatch):
        await service.rotate_pseudonym_key([b"een-verkeerde-oude-sleutel-van-32-tekens"], NEW_KEY.encode())
    assert await _pseudonyms() == before
    with pytest.raises(service.KeyMismatch):
        await service.check_pseudonym_keys([NEW_KEY.encode()])
    assert await service.check_pseudonym_keys(get_settings().pseudonym_keys)


async def test_rotating_twice_chains_three_keys(world):
    chain = get_settings().pseudonym_keys
    second, third = b"tweede-sleutel-" + b"2" * 32, b"derde-sleutel-" + b"3" * 32
    await service.rotate_pseudonym_key(chain, second)
    await service.rotate_pseudonym_key((*chain, second), third)
    rows = await _pseudonyms()
    assert rows[world["first"]["id"]] == pseudonymise(BSN, (*chain, second, third))


async def test_the_command_rekeys_and_never_prints_a_key(world):
    old_key = os.environ["PORTAL_PSEUDONYM_KEY"]
    before = await _pseudonyms()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portal.cli", "rotate-pseudonym-key", "--yes", cwd=str(REPO_ROOT),
        env={**os.environ, "PORTAL_NEW_PSEUDONYM_KEY": NEW_KEY},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    text = out.decode() + err.decode()
    assert process.returncode == 0, text
    assert "2 pseudoniemen" in text and "PORTAL_PSEUDONYM_PREVIOUS_KEYS" in text
    assert NEW_KEY not in text and old_key not in text
    after = await _pseudonyms()
    assert after[world["first"]["id"]] == pseudonymise(BSN, (old_key.encode(), NEW_KEY.encode()))
    assert after[world["stone"].id] == before[world["stone"].id]
    # without a new key (and with keys from the environment) the command refuses and changes nothing
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portal.cli", "rotate-pseudonym-key", "--yes", cwd=str(REPO_ROOT),
        env={key: value for key, value in os.environ.items() if key != "PORTAL_NEW_PSEUDONYM_KEY"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode != 0 and "PORTAL_NEW_PSEUDONYM_KEY" in err.decode()
    assert await _pseudonyms() == after


async def test_a_start_with_other_keys_is_logged_and_refused_in_production(world, caplog):
    from portal.settings import Settings

    await service.check_pseudonym_keys(get_settings().pseudonym_keys)
    wrong = Settings(pseudonym_key="een-andere-sleutel-" + "z" * 32, environment="test")
    await service.check_keys_at_start(wrong)
    assert "passen niet bij de database" in caplog.text
    production = Settings(pseudonym_key="een-andere-sleutel-" + "z" * 32, secret_key="s" * 40,
                          environment="production")
    with pytest.raises(RuntimeError):
        await service.check_keys_at_start(production)
