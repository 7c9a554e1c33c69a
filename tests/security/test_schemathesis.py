"""Schemathesis over the OpenAPI schema at /api/schema: every API operation, called by every role with API
access, with data generated from the schema (valid and invalid), against a real portal server (uvicorn on a
free port, on the test database). Checks: no server error, every response documented (status code, content
type) and conforming to its documented schema.

Who has API access: coordinators and subcontractors by API key (``Authorization: Bearer``); contract
managers and admins by their browser session (cookie + CSRF header) on the read routes. Each of the four is
run over every operation.

The examples are derandomised (the same on every run, so CI never fails by chance) and bounded
(``EXAMPLES`` per operation, role and generation mode, no shrinking), which keeps one pass under ~60 s on the
2-core machine. ``SCHEMATHESIS_EXAMPLES=200`` (and ``SCHEMATHESIS_RANDOM=1``) explores further by hand.
"""

import asyncio
import os
import socket
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.accounts import api_keys
from tests import factories

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
DERANDOMIZE = os.environ.get("SCHEMATHESIS_RANDOM") != "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
REPO = Path(__file__).resolve().parents[2]
VALID_BSN = "111222333"
ACTIONS = ["start_assessment", "request_allocation", "accept", "decline", "start_care", "end_care", "reject",
           "refer_collective", "withdraw", "hold", "resume", "close", "reopen"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def world(app):
    """Two contracts; side A has a person of every role. Cases in several states, so that generated ids and
    filters sometimes hit a real, visible object."""
    municipality = await factories.organisation("municipality", "Gemeente Fuzzdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Fuzz")
    sub = await factories.organisation("subcontractor", "Onderaannemer Fuzz")
    other_sub = await factories.organisation("subcontractor", "Onderaannemer Anders")
    contract = await factories.contract(municipality, main, name="Contract Fuzz")
    await factories.subcontract(contract, sub)
    await factories.subcontract(contract, other_sub)
    other_contract = await factories.contract(None, await factories.organisation("main_contractor"))
    cases = [
        await factories.case(contract, "registered"),
        await factories.case(contract, "assessment"),
        await factories.case(contract, "allocation_requested", subcontractor=sub.id),
        await factories.case(contract, "in_care", subcontractor=sub.id),
        await factories.case(other_contract, "registered"),
    ]
    await factories.event(cases[2], "allocation_requested", sub)
    await factories.event(cases[3], "allocation_requested", sub)
    people = {
        "coordinator": await factories.user(main, "coordinator"),
        "subcontractor": await factories.user(sub, "subcontractor"),
        "contract_manager": await factories.user(municipality, "contract_manager"),
        "admin": await factories.user(await factories.organisation("municipality", "Beheer"), "admin"),
    }
    keys = {role: (await api_keys.create_api_key_for(people[role].email, "fuzz")).key
            for role in ("coordinator", "subcontractor")}
    return {"app": app, "people": people, "keys": keys, "contract_id": contract.id,
            "case_ids": [row.id for row in cases], "melding": date(2026, 3, 2)}


@pytest.fixture
async def server(world):
    """A real portal process on the test database (the app under the `world` fixture stays idle)."""
    port = _free_port()
    log_path = Path(os.environ["PORTAL_VAR_DIR"]) / f"uvicorn-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "portal.asgi:app", "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", cwd=REPO, env=dict(os.environ), stdout=log,
            stderr=asyncio.subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{base}/health/live", timeout=2)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, "the portal server stopped; see " + str(log_path)
                assert time.monotonic() < deadline, "the portal server did not start"
                await asyncio.sleep(0.2)
        yield {"base": base, "log": log_path}
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


def _session_headers(base: str, email: str) -> dict[str, str]:
    """Log in through the form; the API then takes the session cookie and the CSRF token as a header."""
    with requests.Session() as http:
        http.get(f"{base}/inloggen", headers={"accept": "text/html"}, timeout=30)
        token = http.cookies[factories.CSRF_COOKIE]
        response = http.post(f"{base}/inloggen", data={"_csrf_token": token, "email": email,
                                                       "password": factories.PASSWORD},
                             headers={"accept": "text/html"}, allow_redirects=False, timeout=30)
        assert response.status_code == 303 and response.headers["location"] == "/", response.text[:300]
        cookies = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
        return {"Cookie": cookies, "X-CSRFToken": http.cookies[factories.CSRF_COOKIE]}


def _fuzz(base: str, world: dict, credentials: dict[str, dict[str, str]]) -> tuple[list[str], Counter]:
    """Run every operation for every role; return the failures (as text) and the status codes seen."""
    schema = schemathesis.openapi.from_url(f"{base}/api/schema/openapi.json", timeout=30)
    # the health probes take no input and answer the same to everyone: not worth examples
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/api/")]
    assert len(operations) >= 7, [op.label for op in operations]
    failures: list[str] = []
    seen: Counter = Counter()
    real_ids = st.sampled_from(world["case_ids"])

    def campaign(operation, role: str, headers: dict[str, str]):
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=EXAMPLES * 2, derandomize=DERANDOMIZE, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy, real_case=real_ids, use_real=st.booleans(), action=st.sampled_from(ACTIONS))
        def run(case, real_case, use_real, action):
            # half of the cases name a real case or contract, so the checks behind the 404 run too
            if use_real and isinstance(case.path_parameters, dict):
                if "case_id" in case.path_parameters:
                    case.path_parameters["case_id"] = real_case
                if "contract_id" in case.path_parameters:
                    case.path_parameters["contract_id"] = world["contract_id"]
            if use_real and isinstance(case.body, dict):
                # valid where a random value almost never is (the elfproef, the code lists), so the generated
                # rest (texts, dates, flags) reaches the service and the database
                if "contract_id" in case.body:
                    case.body.update(contract_id=world["contract_id"], bsn=VALID_BSN, domain="wmo",
                                     product_category="02")
                if "action" in case.body:
                    case.body.update(action=action, version=1)
            try:
                response = case.call(base_url=base, headers=headers, timeout=60)
            except requests.RequestException as exc:
                failures.append(f"{role} {operation.label}: no response ({exc!r})")
                return
            seen[(operation.label, response.status_code)] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (AssertionError, FailureGroup) as exc:  # one failure, or several at once
                found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
                kinds = ", ".join(sorted({f"{getattr(item, 'code', '')} {getattr(item, 'title', '')}".strip()
                                          for item in found}))
                failures.append(f"{role} {operation.label} -> {response.status_code} [{kinds}]: "
                                f"{response.text[:300]}\n  reproduce: {case.as_curl_command()[:600]}")

        return run

    for operation in operations:
        for role, headers in credentials.items():
            campaign(operation, role, headers)()
    return failures, seen


def _server_log(path: Path, failures: list[str]) -> str:
    if failures and os.environ.get("SCHEMATHESIS_REPORT"):  # every failure in full, for a look by hand
        Path(os.environ["SCHEMATHESIS_REPORT"]).write_text("\n\n".join(failures))
    return path.read_text(errors="replace")


async def test_every_api_operation_for_every_role_answers_as_documented(world, server):
    base = server["base"]
    credentials = {
        "coordinator": {"Authorization": f"Bearer {world['keys']['coordinator']}"},
        "subcontractor": {"Authorization": f"Bearer {world['keys']['subcontractor']}"},
        "contract_manager": await asyncio.to_thread(_session_headers, base,
                                                    world["people"]["contract_manager"].email),
        "admin": await asyncio.to_thread(_session_headers, base, world["people"]["admin"].email),
    }
    failures, seen = await asyncio.to_thread(_fuzz, base, world, credentials)
    server_log = await asyncio.to_thread(_server_log, server["log"], failures)
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:15]) + "\n\n" + server_log[-3000:]
    assert "Traceback" not in server_log, server_log[-3000:]
    # the run reached past the door: real objects were read and written, not only 4xx
    assert seen and sum(count for (label, status), count in seen.items() if status < 300) > 20, seen
    print(f"schemathesis: {sum(seen.values())} requests, by operation and status: "
          + ", ".join(f"{label} {status}: {count}" for (label, status), count in sorted(seen.items())))
    statuses = {status for _, status in seen}
    assert statuses <= {200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 422}, seen
