"""Issue #10.5 through the real UI in Chromium, as the three parties click and type it: a coordinator registers
and allocates a case, the subcontractor declines it, the coordinator re-allocates it and the other
subcontractor accepts and starts; a subcontractor writes and submits a learning-cycle report; the contract
manager sees the signals and the savings verdict. Every page on the way is checked with axe-core."""

import pytest

from portal.lib.formatting import format_date, today_nl
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e

BSN = "111222333"  # passes the elfproef; only its pseudonym is stored


async def _act(page, action: str, label: str, choose: dict | None = None) -> None:
    """Open the action's panel on the case page (when folded), choose its answers and press its button."""
    panel = page.locator(f"#actie-{action}")
    if await panel.get_attribute("open") is None:
        await panel.locator("summary").click()
    for field, value in (choose or {}).items():
        select = panel.locator(f"select[name='{field}']")
        if value is None:  # the first real choice of the list
            value = await select.locator("option:not([value=''])").first.get_attribute("value")
        await select.select_option(value)
    await panel.get_by_role("button", name=label).click()
    await page.wait_for_load_state()


async def _timeline(page) -> list[tuple[str, str]]:
    """(handeling, status) per row of the case's timeline, as the page shows them."""
    rows = page.locator("table[aria-labelledby='tijdlijn'] tbody tr")
    return [(" ".join((await row.locator("td").nth(1).inner_text()).split()),
             " ".join((await row.locator("td").nth(2).inner_text()).split())) for row in await rows.all()]


async def _open_from_inbox(page, case_number: str) -> None:
    await page.get_by_role("link", name=case_number).first.click()
    await page.wait_for_load_state()
    await assert_accessible(page, f"casus {case_number} (onderaannemer)")


async def test_allocate_decline_reallocate_and_start_a_case(people, world):
    coordinator = await people("coordinator")
    page = await coordinator.open("/casussen/nieuw")
    await assert_accessible(page, "/casussen/nieuw")
    await page.get_by_label("BSN van de inwoner").fill(BSN)
    await page.get_by_label("Wijk").fill("Schalkwijk")
    await page.get_by_label("Productcategorie (WMO020)").select_option(world.category)
    await page.get_by_label("Datum melding").fill(format_date(today_nl()))
    await page.get_by_role("button", name="Melding registreren").click()
    await page.wait_for_url(f"{world.base_url}/casussen/*")
    case_url = page.url.split("?")[0]
    case_number = (await page.locator("h1").inner_text()).removeprefix("Casus ").strip()
    assert BSN not in await page.content()
    await assert_accessible(page, "casus na registratie")

    await _act(page, "start_assessment", "Onderzoek starten")
    await _act(page, "request_allocation", "Toewijzing vragen",
               {"subcontractor_id": await _option_for(page, world.organisations["subcontractor"])})
    assert "Toewijzing gevraagd" in await page.locator(".case-status").inner_text()
    await assert_accessible(page, "casus na toewijzing")

    # the subcontractor finds the request in its inbox and declines it, with a reason
    first = await people("subcontractor")
    page = await first.open("/inbox")
    await assert_accessible(page, "/inbox")
    await _open_from_inbox(page, case_number)
    await _act(page, "decline", "Weigeren", {"reason_code": None})
    assert "Toewijzing gevraagd" in await page.locator(".case-status").inner_text()

    # back on the coordinator's allocation board: re-allocate to the other subcontractor
    page = await coordinator.open("/toewijzen")
    await assert_accessible(page, "/toewijzen")
    row = page.locator("tr", has=page.get_by_role("link", name=case_number))
    select = row.get_by_label(f"Onderaannemer voor {case_number}")
    await select.select_option(await _option_for(row, world.organisations["other_subcontractor"]))
    await row.get_by_role("button", name="Toewijzen").click()
    await page.wait_for_load_state()

    # the other subcontractor accepts and starts the support
    second = await people("other_subcontractor")
    page = await second.open("/inbox")
    await _open_from_inbox(page, case_number)
    await _act(page, "accept", "Accepteren")
    await _act(page, "start_care", "Levering starten")
    assert "Levering gestart" in await page.locator(".case-status").inner_text()
    await assert_accessible(page, "casus na start levering (onderaannemer)")

    # the coordinator sees the whole story on the case page
    page = await coordinator.open(case_url.removeprefix(world.base_url))
    await assert_accessible(page, "casus met volledige tijdlijn")
    assert "Levering gestart" in await page.locator(".case-status").inner_text()
    assert world.organisations["other_subcontractor"] in await page.locator(".ball").inner_text()
    steps = await _timeline(page)
    assert [action for action, _ in steps] == EXPECTED_ACTIONS, steps
    assert steps[-1][1].endswith("Levering gestart")
    details = await page.locator("table[aria-labelledby='tijdlijn'] tbody").inner_text()
    assert world.organisations["subcontractor"] in details and world.organisations["other_subcontractor"] in details
    assert "Reden:" in details  # the decline carries its reason


EXPECTED_ACTIONS = ["Melding geregistreerd", "Onderzoek starten", "Toewijzing vragen", "Weigeren",
                    "Toewijzing vragen", "Accepteren", "Levering starten"]


async def _option_for(scope, organisation: str) -> str:
    """The value of the subcontractor option that names this organisation."""
    option = scope.locator("option", has_text=organisation).first
    value = await option.get_attribute("value")
    assert value, f"no allocation option for {organisation}"
    return value


async def test_a_subcontractor_writes_and_submits_a_report(people, world):
    writer = await people("subcontractor")
    page = await writer.open("/leercyclus")
    await assert_accessible(page, "/leercyclus (onderaannemer)")
    await page.get_by_role("button", name="Rapportage schrijven").first.click()
    await page.wait_for_url(f"{world.base_url}/leercyclus/rapportages/*")
    report_url = page.url.split("?")[0]
    await assert_accessible(page, "nieuwe rapportage")
    for field in await page.locator("input[id^='indicator-']").all():
        await field.fill("12")
    for index, text in enumerate(await page.locator("textarea[id^='tekst-']").all()):
        await text.fill(f"Deel {index + 1}: met de huisarts samen korter gewacht.\n- eerst het gesprek")
    await page.get_by_role("button", name="Concept opslaan").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "rapportage, concept opgeslagen")
    await page.get_by_role("button", name="Indienen").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "rapportage, ingediend")
    assert "Ingediend" in await page.locator(".case-head").inner_text()
    assert "versie 1" in await page.locator(".case-head").inner_text()
    assert "met de huisarts samen korter gewacht" in await page.locator("main").inner_text()

    # the coordinator, who reviews it, sees the submitted version
    reviewer = await people("coordinator")
    page = await reviewer.open(report_url.removeprefix(world.base_url))
    await assert_accessible(page, "rapportage bij de coördinator")
    assert "Ingediend" in await page.locator(".case-head").inner_text()
    assert await page.get_by_role("button", name="Accepteren").is_visible()


async def test_the_contract_manager_sees_the_signals_and_the_savings_verdict(people, world):
    manager = await people("contract_manager")
    page = await manager.open("/signalen")
    await assert_accessible(page, "/signalen (contractmanager)")
    inbox = await page.locator("main").inner_text()
    assert "Wettelijke termijn overschreden" in inbox and "Verslag te laat" in inbox
    await page.locator("main table a[href^='/signalen/']").first.click()
    await page.wait_for_load_state()
    await assert_accessible(page, "signaal (contractmanager)")

    page = await manager.open(f"/dashboard/{world.contract_id}")
    await assert_accessible(page, "dashboard (contractmanager)")
    assert await page.locator("#signalen tbody tr").count() >= 2
    page = await manager.open(f"/besparingen/{world.contract_id}")
    await assert_accessible(page, "besparingen (contractmanager)")
    verdict = page.locator(".verdict").first
    assert await verdict.is_visible()
    classes = await verdict.get_attribute("class")
    assert any(f"verdict-{kind}" in classes for kind in ("op_koers", "achter", "voor")), classes
