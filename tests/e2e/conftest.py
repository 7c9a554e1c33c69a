"""End-to-end set-up: the real portal (uvicorn in a subprocess) on the test database with a small demo world,
driven by Debian's Chromium (/usr/bin/chromium) through the Python playwright package.

No browser is downloaded (never `playwright install`). A browser that cannot start fails these tests; they never
skip. Every page a test looks at is checked with axe-core (vendored in vendor/, see vendor/README.md) for WCAG
2.1 A and AA: zero violations.
"""

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(__file__).resolve().parent / "vendor"
CHROMIUM = os.environ.get("PORTAL_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
# axe-core 4.14.1 from the npm registry; the digest is the one in its own sri-history.json for that version.
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1366, "height": 768}
NARROW = {"width": 390, "height": 844}
DEMO_PASSWORD = "inzicht-demo-2026"
# Hengelo: a main contractor, 14 subcontractors, two savings levels; 300 cases fill every page without making
# each axe-core run slow (Haarlem's 50 subcontractors double the size of the dashboard's tables).
DEMO_SCENARIO, DEMO_CASES = "hengelo", 300
_screenshots: list[Path] = []


def screenshot_dir() -> Path:
    """Where the screenshots of the dashboards go, to look at: PORTAL_E2E_SCREENSHOTS=<dir>, else a fresh
    temporary directory (made on first use, so a run that deselects the e2e tests leaves nothing behind)."""
    if not _screenshots:
        chosen = os.environ.get("PORTAL_E2E_SCREENSHOTS")
        _screenshots.append(Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="inzicht-e2e-shots-")))
        _screenshots[0].mkdir(parents=True, exist_ok=True)
    return _screenshots[0]


def axe_source() -> str:
    source = (VENDOR / "axe.min.js").read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, "tests/e2e/vendor/axe.min.js is not axe-core 4.14.1"
    return source.decode()


AXE = axe_source()


@dataclass
class World:
    """What the tests need to know about the seeded demo world."""

    base_url: str
    contract_id: int
    category: str  # a product category both subcontractors of the flow deliver
    emails: dict[str, str]  # contract_manager, coordinator, subcontractor, other_subcontractor, admin
    organisations: dict[str, str] = field(default_factory=dict)  # role -> organisation name
    export_id: int = 0  # a large export of the coordinator, still in the queue


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _seed() -> dict:
    """Haarlem at a small size, one signal scan (the signals the contract manager sees), both flow
    subcontractors delivering one shared category, and a queued export for the progress page."""
    from portal.accounts.tables import Organisation, User
    from portal.contracts.tables import Contract, Subcontract
    from portal.demo.generator import load_demo
    from portal.demo.scenarios import SCENARIOS
    from portal.exports.tables import ExportJob
    from portal.signals.service import run_scan

    await load_demo(scenario=DEMO_SCENARIO, cases=DEMO_CASES, seed=2026, reset=True)
    await run_scan()
    contract = await Contract.select(Contract.id).first()
    domain = SCENARIOS[DEMO_SCENARIO].mail_domain
    emails = {"contract_manager": f"contractmanager@{domain}.demo", "coordinator": f"coordinator@{domain}.demo",
              "subcontractor": f"onderaannemer1@{domain}.demo", "other_subcontractor": f"onderaannemer2@{domain}.demo",
              "admin": f"beheer@{domain}.demo"}
    organisations = {}
    for role, email in emails.items():
        user = await User.select(User.id, User.organisation).where(User.email == email).first()
        org = await Organisation.select(Organisation.name).where(Organisation.id == user["organisation"]).first()
        organisations[role] = org["name"]
        if role in ("subcontractor", "other_subcontractor"):
            sub = await Subcontract.select(Subcontract.id, Subcontract.product_categories).where(
                Subcontract.subcontractor == user["organisation"]).first()
            categories = set(sub["product_categories"].split(",")) | {"02"}
            await Subcontract.update({Subcontract.product_categories: ",".join(sorted(categories))}).where(
                Subcontract.id == sub["id"])
        if role == "coordinator":
            job = ExportJob(user=user["id"], kind="cases", format="csv", params=json.dumps({}), rows_total=DEMO_CASES)
            await job.save()
            export_id = job.id
    return {"contract_id": contract["id"], "category": "02", "emails": emails, "organisations": organisations,
            "export_id": export_id}


def _start_portal(port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_LOGIN_ATTEMPTS_PER_MINUTE": "1000"}
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [sys.executable, "-m", "uvicorn", "portal.asgi:app", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_until_up(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the portal did not start (exit {process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the portal did not answer within 60 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
async def world(migrated_database, tmp_path_factory):
    """The seeded test database, served by a real uvicorn process on a free port (the same code and settings
    as `portal serve`, with the test environment of tests/conftest.py)."""
    seeded = await _seed()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("e2e-portal") / "portal.log"
    process = await asyncio.to_thread(_start_portal, port, log)
    try:
        await asyncio.to_thread(_wait_until_up, base_url, process, log)
        yield World(base_url=base_url, **seeded)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server_errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
        assert not server_errors, f"the portal logged errors during the e2e tests:\n{log.read_text()[-5000:]}"


@pytest.fixture(scope="package")
async def browser():
    """Debian's Chromium, headless. Fails (never skips) when it cannot start."""
    from playwright.async_api import async_playwright

    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt-get install chromium (the e2e tests need it)"
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


class Person:
    """One logged-in person in a browser context of their own (their cookies, their viewport)."""

    def __init__(self, context, page, world: World):
        self.context, self.page, self.world = context, page, world

    async def open(self, path: str, viewport: dict | None = None):
        if viewport:
            await self.page.set_viewport_size(viewport)
        response = await self.page.goto(self.world.base_url + path)
        assert response is not None and response.status == 200, f"GET {path}: {response and response.status}"
        return self.page

    async def close(self) -> None:
        await self.context.close()


async def log_in(browser, world: World, role: str, viewport: dict = DESKTOP) -> Person:
    """Through the real login form, as a person types it."""
    context = await browser.new_context(viewport=viewport, locale="nl-NL", timezone_id="Europe/Amsterdam")
    context.set_default_timeout(15_000)
    await context.add_init_script(script=AXE)  # axe-core in every page this person opens (cheaper than per check)
    page = await context.new_page()
    await page.goto(world.base_url + "/inloggen")
    await page.get_by_label("E-mailadres").fill(world.emails[role])
    await page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await page.wait_for_url(world.base_url + "/")
    return Person(context, page, world)


@pytest.fixture
async def people(browser, world):
    """log_in for a test; every context is closed afterwards."""
    opened: list[Person] = []

    async def open_as(role: str, viewport: dict = DESKTOP) -> Person:
        person = await log_in(browser, world, role, viewport)
        opened.append(person)
        return person

    yield open_as
    for person in opened:
        await person.close()


async def assert_accessible(page, where: str) -> None:
    """axe-core over the whole page for WCAG 2.1 A and AA: no violations. On a narrow screen also: the page
    itself does not scroll sideways (wide tables scroll inside their own box)."""
    violations = await page.evaluate(
        """async (tags) => {
          const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
          return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}));
        }""", WCAG_TAGS)
    width = page.viewport_size["width"]
    assert not violations, f"axe-core, {where} at {width} px:\n" + json.dumps(violations, indent=2, ensure_ascii=False)
    scroll_width, inner_width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{where} at {width} px scrolls sideways: {scroll_width} > {inner_width}"


def pytest_terminal_summary(terminalreporter) -> None:
    if _screenshots:
        shots = sorted(_screenshots[0].glob("*.png"))
        terminalreporter.write_line(f"e2e: {len(shots)} screenshots of the dashboards in {_screenshots[0]}")
