"""BSN-free guarantee: cases are created through every entry point (the melding form, the JSON API, the CSV
import on the web page and the API), an access request is made, the signal scan, an export and the retention
job run through real Redis (arq, database 15), and then the BSN digits are searched in a full dump of the
database, in every application log record (DEBUG and up, the portal's, Litestar's, uvicorn's and arq's
loggers), in every key and value in Redis, in the responses and in the files the portal wrote. Zero hits."""

import asyncio
import io
import logging
import os
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from portal.accounts import api_keys
from portal.cases.tables import Case
from portal.exports import service as exports_service
from portal.lib.pseudonym import validate_bsn
from portal.lib.queue import enqueue
from portal.privacy.jobs import apply_retention
from portal.settings import Settings, get_settings
from portal.signals.jobs import scan_signals
from tests import factories

REDIS_URL = os.environ["PORTAL_TEST_REDIS_URL"]
# Valid BSNs (elfproef) with irregular digits, so a hit can only be the BSN itself.
FORM_BSN, API_BSN, CSV_BSN = "582037463", "462839175", "371628453"
ALL_BSNS = (FORM_BSN, API_BSN, CSV_BSN)
LOGGERS = ("", "portal", "litestar", "uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker", "arq.jobs",
           "piccolo", "httpx", "asyncio")


@pytest.fixture
def all_logs(caplog):
    """caplog at DEBUG on the root logger and directly on the named loggers (some do not propagate)."""
    caplog.set_level(logging.DEBUG)
    attached = []
    for name in LOGGERS[1:]:
        logger = logging.getLogger(name)
        if caplog.handler not in logger.handlers:
            logger.addHandler(caplog.handler)
            attached.append(logger)
        logger.setLevel(logging.DEBUG)
    yield caplog
    for logger in attached:
        logger.removeHandler(caplog.handler)


def _hits(blob: bytes | str, where: str) -> list[str]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [f"{bsn} in {where}" for bsn in ALL_BSNS if bsn.encode() in data]


async def _database_dump() -> bytes:
    url = os.environ["PORTAL_DATABASE_URL"]
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        with sqlite3.connect(path) as connection:
            dumped = "\n".join(connection.iterdump())
        assert "INSERT INTO \"portal_case\"" in dumped
        return raw + dumped.encode()
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for the PostgreSQL dump"
    process = await asyncio.create_subprocess_exec(pg_dump, "--data-only", "--no-owner", "--dbname", url,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    if process.returncode != 0:  # e.g. a pg_dump older than the server: read every column of every table instead
        return await _select_everything()
    assert b"COPY public.portal_case" in out
    return out


async def _select_everything() -> bytes:
    tables = await Case.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    parts = []
    for row in tables:
        name = row["table_name"].replace('"', "")
        parts.append(repr(await Case.raw(f'SELECT * FROM "{name}"')))  # noqa: S608 (names from the catalogue)
    return "\n".join(parts).encode()


async def _redis_dump(pool) -> tuple[bytes, list[bytes]]:
    chunks: list[bytes] = []
    keys = [key async for key in pool.scan_iter(match="*", count=500)]
    for key in keys:
        chunks.append(key)
        kind = (await pool.type(key)).decode() if isinstance(await pool.type(key), bytes) else await pool.type(key)
        if kind == "string":
            chunks.append(await pool.get(key) or b"")
        elif kind == "hash":
            for field, value in (await pool.hgetall(key)).items():
                chunks += [field, value]
        elif kind == "list":
            chunks += await pool.lrange(key, 0, -1)
        elif kind == "set":
            chunks += list(await pool.smembers(key))
        elif kind == "zset":
            chunks += [member for member, _ in await pool.zrange(key, 0, -1, withscores=True)]
        chunks.append(await pool.dump(key) or b"")
    return b"\n".join(chunk if isinstance(chunk, bytes) else str(chunk).encode() for chunk in chunks), keys


def _csv(*lines: dict) -> bytes:
    from portal.cases import imports

    return ("\n".join([";".join(imports.COLUMNS), *(imports.example_line(**line) for line in lines)]) + "\n").encode()


@pytest.fixture
async def world(db):
    for bsn in ALL_BSNS:
        assert validate_bsn(bsn) == bsn
    municipality = await factories.organisation("municipality", "Gemeente Geheimdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Geheim")
    sub = await factories.organisation("subcontractor", "Onderaannemer Geheim")
    contract = await factories.contract(municipality, main, name="Contract Geheim", case_prefix="GHM")
    await factories.subcontract(contract, sub)
    coordinator = await factories.user(main, "coordinator")
    officer = await factories.user(municipality, "contract_manager", is_privacy_officer=True)
    key = (await api_keys.create_api_key_for(coordinator.email, "systeem")).key
    return {"contract": contract, "coordinator": coordinator, "officer": officer, "key": key, "main": main}


async def test_no_bsn_in_the_database_the_logs_redis_or_the_files(app, world, redis_pool, all_logs, monkeypatch):
    # exception messages (a validation error may repeat its input) are never logged outside debug mode
    assert not app.debug and (app.logging_config is None or app.logging_config.log_exceptions != "always")
    texts: list[tuple[str, bytes | str]] = []
    contract_id = str(world["contract"].id)
    melding = {"contract_id": contract_id, "neighbourhood": "Centrum", "domain": "wmo", "product_category": "02",
               "urgency": "normal", "provision_type": "individual", "melding_date": ""}
    async with factories.logged_in(app, world["coordinator"]) as http:
        # the form: first refused on another field (the page comes back without the BSN), then registered
        refused = await factories.post_form(http, "/casussen/nieuw", {**melding, "bsn": FORM_BSN,
                                                                      "product_category": "99"})
        assert refused.status_code == 422
        created = await factories.post_form(http, "/casussen/nieuw", {**melding, "bsn": FORM_BSN})
        assert created.status_code == 303, created.text[:300]
        texts += [("form refusal", refused.text), ("form", created.text)]
        # the CSV import page: a dry run, then the import
        for dry_run in ("ja", ""):
            upload = await http.post("/casussen/import", headers={"accept": "text/html"}, data={
                "_csrf_token": await factories.csrf_token(http), "proefimport": dry_run}, files={"bestand": (
                    "meldingen.csv", io.BytesIO(_csv({
                        "regel_type": "melding", "referentie": "M1", "contract": contract_id, "bsn": CSV_BSN,
                        "wijk": "Noord", "domein": "wmo", "productcategorie": "02", "meldingsdatum": "02-11-2026"})),
                    "text/csv")})
            assert upload.status_code == 200, upload.text[:300]
            texts.append(("import page", upload.text))
    bearer = {"authorization": f"Bearer {world['key']}"}
    async with factories.http_client(app) as http:
        api = await http.post("/api/v1/cases", headers={**bearer, "idempotency-key": "bsn-vrij-1"}, json={
            "contract_id": world["contract"].id, "bsn": API_BSN, "neighbourhood": "Zuid", "domain": "wmo",
            "product_category": "02"})
        assert api.status_code == 201, api.text
        wrong = await http.post("/api/v1/cases", headers=bearer, json={
            "contract_id": world["contract"].id, "bsn": int(API_BSN), "domain": "wmo", "product_category": "02"})
        assert wrong.status_code in (400, 422)
        dry = await http.post("/api/v1/imports?dry_run=true", headers={**bearer, "content-type": "text/csv"},
                              content=_csv({"regel_type": "melding", "referentie": "M9", "contract": contract_id,
                                            "bsn": CSV_BSN, "wijk": "Noord", "domein": "wmo",
                                            "productcategorie": "99", "meldingsdatum": "02-11-2026"}))
        assert dry.status_code in (200, 422), dry.text
        texts += [("api", api.text), ("api refusal", wrong.text), ("api import", dry.text)]
    async with factories.logged_in(app, world["officer"]) as http:
        export = await factories.post_form(http, "/beheer/inzage", {"bsn": FORM_BSN, "kenmerk": "Verzoek geheim"})
        assert export.status_code == 200 and export.headers["x-inzage-casussen"] == "1"
        with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
            texts += [(f"access export {name}", archive.read(name)) for name in archive.namelist()]
    assert await Case.count() == 3

    # jobs through real Redis: the scan, the retention job and a (forced) export job, run by an arq worker
    redis = Settings(redis_url=REDIS_URL)
    queued = [await enqueue(redis, scan_signals), await enqueue(redis, apply_retention)]
    monkeypatch.setattr(exports_service, "DIRECT_LIMIT", 0)
    coordinator = factories.actor_for(world["coordinator"], world["main"])
    assert isinstance(await exports_service.request_export(coordinator, "cases", "csv", {}, redis),
                      exports_service.Queued)
    before_worker, keys_before = await _redis_dump(redis_pool)
    assert any(key.startswith(b"arq:job:") for key in keys_before)
    worker = await factories.burst_worker(redis_pool)
    assert worker.jobs_complete == 3 and worker.jobs_failed == 0
    after_worker, keys_after = await _redis_dump(redis_pool)
    assert any(key.startswith(b"arq:result:") for key in keys_after) and all(job is not None for job in queued)

    # positive controls: each haystack really holds what it should, so zero hits means something
    dump = await _database_dump()
    case_numbers = [row["case_number"] for row in await Case.select(Case.case_number)]
    pseudonyms = [row["pseudonym"] for row in await Case.select(Case.pseudonym)]
    assert all(number.encode() in dump for number in case_numbers) and pseudonyms[0].encode() in dump
    assert b"scan_signals" in before_worker and b"apply_retention" in before_worker and b"run_export" in before_worker
    hits = []
    hits += _hits(dump, "the database dump")
    hits += _hits(before_worker, "Redis (queued jobs)") + _hits(after_worker, "Redis (results)")
    log_text = "\n".join(
        f"{record.name} {record.levelname} {record.getMessage()} {record.exc_text or ''} {record.args!r}"
        for record in all_logs.records)
    assert "/casussen/nieuw" in log_text and "/beheer/inzage" in log_text  # the loggers were really captured
    hits += _hits(log_text + all_logs.text, "the application logs")
    for where, text in texts:
        hits += _hits(text, f"the response of {where}")
    for path in get_settings().var_dir.rglob("*"):
        if path.is_file() and path.name != "dev-keys.json":
            hits += _hits(path.read_bytes(), f"the file {path.name}")
    assert hits == []
