"""The signal inbox export: exactly the rows the inbox shows for that person and filter, the scope checked
on the export path itself, confidential content hidden as on the page, formulas escaped."""

import pytest

from portal.signals.tables import Signal
from tests import factories
from tests.cases.test_exports import HTML, as_page, download, export_audits, table_rows


@pytest.fixture
async def world(app):
    municipality = await factories.organisation("municipality", "Gemeente Signaaldam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Signaal")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer Alfa")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer Beta")
    contract = await factories.contract(municipality, main, name="Contract Signaal")
    await factories.subcontract(contract, sub_a)
    await factories.subcontract(contract, sub_b)
    case_a = await factories.case(contract, status="in_care", subcontractor=sub_a.id)
    case_b = await factories.case(contract, status="in_care", subcontractor=sub_b.id)
    from portal.signals.service import today_nl

    today = today_nl()
    specs = [
        ("stalled", "high", "open", case_a, sub_a, "Casus A blijft liggen", False, -3),
        ("stalled", "low", "acknowledged", case_b, sub_b, "Casus B blijft liggen", False, 5),
        ("raised", "medium", "open", None, sub_b, "=Vertrouwelijk van Beta", True, 2),
        ("stalled", "medium", "resolved", case_a, sub_a, "@Opgelost bij Alfa", False, None),
    ]
    for n, (rule, severity, status, case, sub, title, confidential, due) in enumerate(specs):
        await Signal(contract=contract.id, rule=rule, severity=severity, status=status, dedup_key=f"export:{n}",
                     case=case.id if case else None, subcontractor=sub.id, owner_organisation=sub.id,
                     raised_by_organisation=sub.id if rule == "raised" else None, title=title,
                     confidential=confidential,
                     response_due=today.fromordinal(today.toordinal() + due) if due is not None else None).save()
    return {
        "app": app, "case_a": case_a, "case_b": case_b,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "sub_a": await factories.user(sub_a, "subcontractor"),
        "sub_b": await factories.user(sub_b, "subcontractor"),
    }


def _as_inbox(row: list[str]) -> list[str]:
    """An exported signal as the inbox row shows it."""
    title, confidential, rule, severity, status, contract, case, ball, due, late = row
    late_text = f" {late} dagen te laat" if late else ""
    return [title + (" Vertrouwelijk" if confidential == "ja" else ""), rule, severity, status, contract, case, ball,
            due + late_text]


QUERIES = ["", "?status=alle", "?status=alle&regel=stalled", "?ernst=medium&status=alle", "?te_laat=1"]


@pytest.mark.parametrize("who", ["coordinator", "manager", "sub_a", "sub_b"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_the_signal_export_holds_exactly_what_the_inbox_shows(world, who, fmt):
    async with factories.logged_in(world["app"], world[who]) as http:
        for query in QUERIES:
            page = await http.get(f"/signalen{query}", headers=HTML)
            shown = [row for row in table_rows(page.text) if len(row) == 8]
            rows, _ = await download(http, f"/signalen/export.{fmt}{query}")
            assert rows[0] == ["Signaal", "Vertrouwelijk", "Regel", "Ernst", "Status", "Contract", "Casus",
                               "Bal ligt bij", "Reactie uiterlijk", "Dagen te laat"]
            assert [_as_inbox(row) for row in as_page(rows[1:])] == shown, f"{who} {query}"
            if query == "?status=alle":
                assert len(shown) == {"coordinator": 4, "manager": 4, "sub_a": 2, "sub_b": 2}[who]


async def test_a_subcontractor_never_exports_another_subcontractors_signal(world):
    async with factories.logged_in(world["app"], world["sub_a"]) as http:
        for fmt in ("csv", "xlsx"):
            for query in ("?status=alle", "?status=alle&regel=raised", "?status=alle&ernst=low"):
                rows, content = await download(http, f"/signalen/export.{fmt}{query}")
                assert b"Casus B blijft liggen" not in content
                assert world["case_b"].case_number.encode() not in content
                assert b"Beta" not in content
                assert all(row[6] in ("", world["case_a"].case_number) for row in rows[1:])
    audits = await export_audits()
    assert len(audits) == 6 and {entry["object_type"] for entry in audits} == {"signals"}


async def test_signal_titles_are_escaped_against_formulas(world):
    async with factories.logged_in(world["app"], world["sub_b"]) as http:
        text = (await http.get("/signalen/export.csv?status=alle")).content.decode("utf-8-sig")
        assert "'=Vertrouwelijk van Beta" in text
    async with factories.logged_in(world["app"], world["sub_a"]) as http:
        text = (await http.get("/signalen/export.csv?status=alle")).content.decode("utf-8-sig")
        assert "'@Opgelost bij Alfa" in text


async def test_the_inbox_links_to_its_export_with_the_current_filters(world):
    async with factories.logged_in(world["app"], world["coordinator"]) as http:
        page = (await http.get("/signalen?regel=stalled&ernst=high&te_laat=1", headers=HTML)).text
        assert 'href="/signalen/export.csv?regel=stalled&amp;ernst=high&amp;status=actief&amp;te_laat=1"' in page
        assert 'href="/signalen/export.xlsx?regel=stalled&amp;ernst=high&amp;status=actief&amp;te_laat=1"' in page
