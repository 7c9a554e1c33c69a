"""Issue #8.6: every page of each role's navigation, the dashboards of all three parties and the detail pages
behind them, in Chromium at 1366x768 and on a narrow phone screen (390x844): axe-core finds no WCAG 2.1 A/AA
violation and the page never scrolls sideways. Screenshots of the dashboards go to screenshot_dir()."""

import asyncio
import re

import pytest

from tests.e2e.conftest import AXE, DESKTOP, NARROW, assert_accessible, screenshot_dir

pytestmark = pytest.mark.e2e

VIEWPORTS = [pytest.param(DESKTOP, id="1366x768"), pytest.param(NARROW, id="390x844")]


def _extra_pages(role: str, world) -> list[str | tuple[str, str]]:
    """Pages outside the main navigation; (list page, pattern) means: the first link on that list matching it."""
    case = ("/casussen", r"/casussen/\d+")
    return {
        "contract_manager": [case, f"/besparingen/{world.contract_id}",
                             ("/leercyclus", r"/leercyclus/perioden/\d+"), ("/signalen", r"/signalen/\d+"),
                             "/account"],
        "coordinator": [case, "/casussen/nieuw", f"/exports/{world.export_id}",
                        ("/leercyclus", r"/leercyclus/perioden/\d+")],
        "subcontractor": ["/dashboard", case, "/signalen/nieuw", ("/leercyclus", r"/leercyclus/rapportages/\d+")],
        "admin": ["/account"],
    }[role]


async def _first_link(person, list_page: str, pattern: str) -> str:
    page = await person.open(list_page)
    hrefs = await page.locator("main a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    found = next((href for href in hrefs if re.fullmatch(pattern, href)), None)
    assert found, f"no link like {pattern} on {list_page}"
    return found


async def _tour(people, world, role: str, viewport: dict) -> list[str]:
    """Every page of the role's navigation and its extra pages, each checked; the dashboards photographed."""
    person = await people(role, viewport)
    page = person.page  # Mijn werk, straight after logging in
    navigation = await page.locator("nav[aria-label='Hoofdnavigatie'] a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert "/" in navigation and len(navigation) >= (2 if role == "admin" else 5), navigation
    paths: list[str] = []
    for item in navigation + _extra_pages(role, world):
        path = await _first_link(person, *item) if isinstance(item, tuple) else item
        if path == "/dashboard" and role in ("contract_manager", "coordinator"):
            path = f"/dashboard/{world.contract_id}"  # with one contract /dashboard shows this very page
        if path not in paths:
            paths.append(path)
    size = f"{viewport['width']}x{viewport['height']}"
    for path in paths:
        page = await person.open(path)
        await assert_accessible(page, f"{path} ({role})")
        if path.startswith("/dashboard"):
            name = f"{role}-{path.strip('/').replace('/', '-')}-{size}.png"
            await page.screenshot(path=screenshot_dir() / name, full_page=True)
    if role == "coordinator":  # the export still in the queue: no meta refresh, a button to refresh by hand
        page = await person.open(f"/exports/{world.export_id}")
        assert await page.locator("meta[http-equiv='refresh']").count() == 0
        assert await page.get_by_role("link", name="Vernieuwen").is_visible()
        assert await page.locator("#export-status[role='status']").count() == 1
    return paths


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_every_page_of_every_role_passes_axe(people, world, viewport):
    """The four roles side by side (two cores: the portal renders one page while Chromium checks another)."""
    roles = ["contract_manager", "coordinator", "subcontractor", "admin"]
    checked = dict(zip(roles, await asyncio.gather(*(_tour(people, world, role, viewport) for role in roles)),
                       strict=True))
    assert f"/dashboard/{world.contract_id}" in checked["contract_manager"]
    assert f"/dashboard/{world.contract_id}" in checked["coordinator"]
    assert "/dashboard" in checked["subcontractor"] and "/inbox" in checked["subcontractor"]
    assert "/beheer" in checked["admin"]
    assert sum(len(paths) for paths in checked.values()) >= 30, checked


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_the_login_page_passes_axe(browser, world, viewport):
    context = await browser.new_context(viewport=viewport)
    await context.add_init_script(script=AXE)
    page = await context.new_page()
    try:
        await page.goto(world.base_url + "/casussen")  # not logged in: sent to the login form
        assert page.url.startswith(world.base_url + "/inloggen")
        await assert_accessible(page, "/inloggen")
    finally:
        await context.close()


async def test_the_checks_find_what_they_look_for(browser):
    """The checker itself: axe-core reports a missing alt text and a missing label, and a page wider than the
    screen is caught."""
    context = await browser.new_context(viewport=NARROW)
    await context.add_init_script(script=AXE)
    page = await context.new_page()
    try:
        await page.set_content('<!doctype html><html lang="nl"><title>t</title><main><img src="x.png">'
                               '<input type="text"></main></html>')
        with pytest.raises(AssertionError, match=r"(?s)image-alt.*label|label.*image-alt"):
            await assert_accessible(page, "a broken page")
        await page.set_content('<!doctype html><html lang="nl"><title>t</title><main><h1>Breed</h1>'
                               '<div style="width: 900px">breed</div></main></html>')
        with pytest.raises(AssertionError, match="scrolls sideways"):
            await assert_accessible(page, "a wide page")
    finally:
        await context.close()


async def test_the_export_progress_page_updates_itself_without_reloading(people, world):
    """No meta refresh (WCAG 2.2.1): the status region is updated in place by a script; the page stays."""
    from datetime import UTC, datetime

    from playwright.async_api import expect

    from portal.accounts.tables import User
    from portal.exports.tables import ExportJob

    owner = await User.select(User.id).where(User.email == world.emails["coordinator"]).first()
    job = ExportJob(user=owner["id"], kind="signals", format="xlsx", rows_total=40)
    await job.save()
    coordinator = await people("coordinator")
    page = await coordinator.open(f"/exports/{job.id}")
    await assert_accessible(page, "export in de wachtrij")
    region = page.locator("#export-status[role='status']")
    await expect(region).to_contain_text("In de wachtrij")
    await page.evaluate("window.stillTheSamePage = true")
    await ExportJob.update({ExportJob.status: "done", ExportJob.rows_done: 40, ExportJob.file_name: "e2e.xlsx",
                            ExportJob.finished_at: datetime.now(UTC)}).where(ExportJob.id == job.id)
    await expect(region).to_contain_text("Klaar", timeout=10_000)
    await expect(region.get_by_role("link", name="Download het bestand")).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage === true")  # updated in place, not reloaded
    await assert_accessible(page, "export klaar")
