"""Free text: every free-text field shows the warning not to write names or BSNs, and the portal refuses a
BSN-shaped number that passes the elfproef before saving, with the typed text kept and a Dutch message that
never repeats the number. Case notes (form, API, CSV import), signals (raise, comment, step), reports (draft,
autosave, submit, comment, return)."""

import json
from datetime import date

import pytest

from portal.accounts import api_keys
from portal.cases import imports
from portal.cases.tables import Case, CaseEvent
from portal.lib.pseudonym import BSN_IN_TEXT_MESSAGE, FREE_TEXT_WARNING
from portal.reports import service as reports_service
from portal.reports.tables import Report, ReportComment
from portal.signals.tables import Signal, SignalComment
from tests import factories

BSN_IN_TEXT = "Mevrouw (bsn 1112.22.333) belde"
BSN_DIGITS = "111222333"
WARNING = "Schrijf hier geen namen, adressen of BSN"


@pytest.fixture
async def world(db):
    w = await factories.world("Tekst", case_prefix="TXT", start_date=date(2025, 1, 1))
    contract, main, sub = w.contract, w.main, w.sub
    case = await factories.case(contract, status="in_care", subcontractor=sub.id)
    await factories.event(case, "in_care", sub, action="start_care")
    signal = Signal(contract=contract.id, rule="stalled", severity="medium", dedup_key="stalled:tekst:1",
                    case=case.id, owner_organisation=main.id, subcontractor=sub.id, title="Te lang in zorg",
                    detail="Al lang", status="open")
    await signal.save()
    period = await factories.quarter_report_period(contract)
    users = {"coordinator": w.coordinator, "sub": w.sub_user, "manager": w.manager}
    actors = {name: w.actor(person) for name, person in users.items()}
    report = await reports_service.start_report(actors["sub"], period.id)
    return {"contract": contract, "case": case, "signal": signal, "period": period, "report_id": report["id"],
            "users": users, "actors": actors}


def _refused(response, typed: str | None = None) -> None:
    assert response.status_code == 422, response.text[:400]
    assert "lijkt op een BSN" in response.text or "op een BSN lijkt" in response.text
    if typed is not None:
        # what was typed comes back in its field, so the person can remove the number; the error never repeats it
        assert typed in response.text
    assert BSN_DIGITS not in BSN_IN_TEXT_MESSAGE


async def test_the_warning_is_the_one_text_of_the_macro():
    from portal.settings import REPO_ROOT

    macro = (REPO_ROOT / "templates" / "_macros" / "privacy.html").read_text()
    assert FREE_TEXT_WARNING in macro


async def test_every_free_text_field_shows_the_warning(app, world):
    report_page = f"/leercyclus/rapportages/{world['report_id']}"
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        for url, fields in (("/casussen/nieuw", ("note",)), (f"/casussen/{world['case'].id}", ("hold-note",)),
                            (f"/signalen/{world['signal'].id}", ("body",)), ("/signalen/nieuw", ("title", "detail"))):
            page = await http.get(url, headers={"accept": "text/html"})
            assert page.status_code == 200, url
            for field in fields:
                assert f'id="{field}-privacy"' in page.text and WARNING in page.text, (url, field)
    async with factories.logged_in(app, world["users"]["sub"]) as http:
        page = await http.get(report_page, headers={"accept": "text/html"})
        assert page.text.count('class="hint free-text-warning"') >= 4  # the narratives and the comment
        assert 'id="tekst-goed-privacy"' in page.text and 'id="body-privacy"' in page.text


async def test_signal_texts_are_refused_with_the_text_kept(app, world):
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        response = await factories.post_form(http, f"/signalen/{world['signal'].id}/reacties", {"body": BSN_IN_TEXT})
        _refused(response, "Mevrouw")
        assert "Mevrouw (bsn 1112.22.333) belde" in response.text
        response = await factories.post_form(http, f"/signalen/{world['signal'].id}/acties/acknowledge",
                                             {"text": f"Uitgezocht: {BSN_IN_TEXT}"})
        _refused(response, "Uitgezocht:")
        response = await factories.post_form(http, "/signalen/nieuw", {
            "contract_id": str(world["contract"].id), "title": "Zorg", "detail": BSN_IN_TEXT})
        _refused(response, "Mevrouw")
        response = await factories.post_form(http, "/signalen/nieuw", {
            "contract_id": str(world["contract"].id), "title": f"Over {BSN_DIGITS}", "detail": "Zorg"})
        assert response.status_code == 422
        # a number that fails the elfproef, a case number and a phone number are fine
        response = await factories.post_form(http, f"/signalen/{world['signal'].id}/reacties",
                                             {"body": "Zie TXT-2026-000123, bel 0612345678 of ref 123456789"})
        assert response.status_code == 303
    assert await SignalComment.count() == 1 and await Signal.count() == 1


async def test_report_narratives_are_refused_on_save_autosave_and_submit(app, world):
    report = f"/leercyclus/rapportages/{world['report_id']}"
    async with factories.logged_in(app, world["users"]["sub"]) as http:
        response = await factories.post_form(http, f"{report}/concept", {"tekst-goed": BSN_IN_TEXT})
        _refused(response, "Mevrouw")
        assert "Mevrouw (bsn 1112.22.333) belde" in response.text  # the narrative as typed, in its textarea
        response = await factories.post_form(http, f"{report}/indienen", {"tekst-goed": BSN_IN_TEXT})
        _refused(response, "Mevrouw")
        autosave = await http.post(f"{report}/autosave", data={
            "_csrf_token": await factories.csrf_token(http), "tekst-goed": BSN_IN_TEXT},
            headers={"accept": "application/json"})
        assert autosave.status_code == 422 and autosave.json()["detail"] == BSN_IN_TEXT_MESSAGE
        assert autosave.json()["field"] == "tekst-goed"
        response = await factories.post_form(http, f"{report}/reacties", {"body": BSN_IN_TEXT})
        _refused(response, "Mevrouw")
        assert "Mevrouw (bsn 1112.22.333) belde" in response.text
    row = await Report.select(Report.draft, Report.status).where(Report.id == world["report_id"]).first()
    draft = json.loads(row["draft"]) if isinstance(row["draft"], str) else row["draft"]
    assert BSN_DIGITS not in json.dumps(draft).replace(".", "") and row["status"] == "draft"
    assert await ReportComment.count() == 0


async def test_a_return_reason_is_refused(world):
    from portal.lib.errors import InvalidInput
    from portal.reports.tables import Report as ReportTable

    await ReportTable.update({ReportTable.status: "submitted"}).where(ReportTable.id == world["report_id"])
    with pytest.raises(InvalidInput) as error:
        await reports_service.return_report(world["actors"]["coordinator"], world["report_id"],
                                            f"Graag aanvullen voor {BSN_IN_TEXT}")
    assert error.value.field == "reason" and error.value.message == BSN_IN_TEXT_MESSAGE


async def test_case_notes_are_refused_on_the_form_the_api_and_the_import(app, world):
    async with factories.logged_in(app, world["users"]["coordinator"]) as http:
        response = await factories.post_form(http, "/casussen/nieuw", {
            "contract_id": str(world["contract"].id), "bsn": "123456782", "neighbourhood": "Centrum",
            "domain": "wmo", "product_category": "02", "urgency": "normal", "provision_type": "individual",
            "melding_date": "", "note": BSN_IN_TEXT})
        _refused(response, "Mevrouw")
        assert "123456782" not in response.text  # the BSN field of the melding is not echoed either
        response = await factories.post_form(http, f"/casussen/{world['case'].id}/acties/hold",
                                             {"version": "1", "note": f"Op verzoek, {BSN_IN_TEXT}"})
        assert response.status_code == 422 and BSN_IN_TEXT_MESSAGE in response.text
    key = (await api_keys.create_api_key_for(world["users"]["coordinator"].email, "systeem")).key
    async with factories.http_client(app) as http:
        response = await http.post("/api/v1/cases", headers={"authorization": f"Bearer {key}"}, json={
            "contract_id": world["contract"].id, "bsn": "123456782", "neighbourhood": "Centrum", "domain": "wmo",
            "product_category": "02", "note": BSN_IN_TEXT})
        assert response.status_code == 422 and response.json()["detail"] == BSN_IN_TEXT_MESSAGE
        assert "123456782" not in response.text and BSN_DIGITS not in response.text.replace(".", "")
    assert await Case.count() == 1 and await CaseEvent.count() == 1


async def test_the_import_dry_run_names_line_and_column_of_a_bsn_in_free_text(world):
    rows = ";".join(imports.COLUMNS) + "\n" + imports.example_line(
        regel_type="melding", referentie="M1", contract=str(world["contract"].id), bsn="123456782", wijk="Centrum",
        domein="wmo", productcategorie="02", meldingsdatum="02-11-2026", toelichting=BSN_IN_TEXT) + "\n" + \
        imports.example_line(regel_type="gebeurtenis", zaaknummer=world["case"].case_number, actie="hold",
                             datum="03-11-2026", toelichting=f"Gepauzeerd {BSN_DIGITS}") + "\n"
    result = await imports.import_cases(world["actors"]["coordinator"], rows.encode(), dry_run=True)
    found = [(error.line, error.column) for error in result.errors if error.message == BSN_IN_TEXT_MESSAGE]
    assert found == [(2, "toelichting"), (3, "toelichting")]
    assert all(BSN_DIGITS not in error.message for error in result.errors)
    assert await Case.count() == 1
