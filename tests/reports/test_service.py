"""Learning-cycle use cases against the database: drafts, validation, lifecycle, versions, consolidation,
computed figures and the object-level authorization."""

import json

import pytest

from portal.accounts.tables import AuditEntry
from portal.lib.errors import IllegalTransition, NotFound, NotPermitted
from portal.reports import service
from portal.reports.service import ReportInput, ReportInvalid
from portal.reports.tables import Report, ReportVersion
from tests.reports.conftest import GOOD_VALUES


async def _submitted(world, who="sub_a", values=None, sections=None):
    started = await service.start_report(world[who], world["period"].id)
    await service.submit(world[who], started["id"], ReportInput(values or GOOD_VALUES,
                                                                sections or {"goed": "Het ging goed."}))
    return started["id"]


async def test_a_report_keeps_its_template_version(world):
    started = await service.start_report(world["sub_a"], world["period"].id)
    again = await service.start_report(world["sub_a"], world["period"].id)
    assert started["id"] == again["id"] and started["created"] and not again["created"]
    row = await Report.select().where(Report.id == started["id"]).first()
    assert (row["kind"], row["status"], row["template"]) == ("subcontractor", "draft", world["template"].id)


async def test_nothing_is_lost_when_submission_fails(world):
    report_id = (await service.start_report(world["sub_a"], world["period"].id))["id"]
    typed = ReportInput({"inwoners_ondersteund": "veel", "nieuwe_hulpvragen": "999.999"},
                        {"geleerd": "Wat we leerden:\n- eerst bellen\n- dan pas schrijven"})
    with pytest.raises(ReportInvalid) as raised:
        await service.submit(world["sub_a"], report_id, typed)
    messages = " ".join(error["message"] for error in raised.value.errors)
    assert "Inwoners ondersteund" in messages and "Nieuwe hulpvragen" in messages and "plausibele bereik" in messages
    row = await Report.select().where(Report.id == report_id).first()
    draft = row["draft"] if isinstance(row["draft"], dict) else json.loads(row["draft"])
    assert draft["values"]["inwoners_ondersteund"] == "veel"
    assert draft["sections"]["geleerd"].endswith("dan pas schrijven")
    assert row["status"] == "draft" and await ReportVersion.count() == 0


async def test_lifecycle_submit_return_resubmit_accept_with_versions_and_diff(world):
    report_id = await _submitted(world)
    with pytest.raises(IllegalTransition):
        await service.save_draft(world["sub_a"], report_id, ReportInput({"nieuwe_hulpvragen": "1"}))
    with pytest.raises(NotPermitted):
        await service.accept_report(world["manager"], report_id)  # the coordinator reviews this one
    await service.return_report(world["coordinator"], report_id, "Graag de uren collectief toelichten.")
    row = await Report.select().where(Report.id == report_id).first()
    assert row["status"] == "returned" and "toelichten" in row["returned_reason"]
    await service.submit(world["sub_a"], report_id, ReportInput({**GOOD_VALUES, "nieuwe_hulpvragen": "60"},
                                                                {"goed": "Het ging goed.\nEn beter dan gedacht."}))
    await service.accept_report(world["coordinator"], report_id)
    versions = await ReportVersion.select().where(ReportVersion.report == report_id).order_by(ReportVersion.number)
    assert [v["number"] for v in versions] == [1, 2]
    page = await service.report_page(world["sub_a"], report_id)
    assert page["report"]["status"] == "accepted"
    assert page["diff"]["indicators"] == [{"name": "Nieuwe hulpvragen", "old": "56", "new": "60"}]
    assert page["diff"]["sections"][0]["rows"][0]["new"] == "En beter dan gedacht."
    actions = [e["action"] for e in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.object_type == "report")]
    assert actions.count("change") >= 4


async def test_computed_figures_come_from_the_cases_of_the_period(world):
    report_id = (await service.start_report(world["sub_a"], world["period"].id))["id"]
    page = await service.report_page(world["sub_a"], report_id)
    figures = {row["key"]: row["value"] for row in page["computed"]}
    assert figures["received"] == 3 and figures["accepted"] == 2 and figures["declined"] == 1
    assert figures["started"] == 2 and figures["median_wait_days"] == 7.0


async def test_consolidation_lists_missing_and_returned_and_totals(world):
    await _submitted(world, "sub_a")
    returned = await _submitted(world, "sub_b", {**GOOD_VALUES, "inwoners_ondersteund": "100",
                                                 "clienttevredenheid": "80"})
    await service.return_report(world["coordinator"], returned, "Cijfers kloppen niet met de casussen.")
    page = await service.period_page(world["coordinator"], world["period"].id)
    consolidation = page["consolidation"]
    assert consolidation["missing"] == ["Onderaannemer Cirkel"]
    assert consolidation["returned"] == ["Onderaannemer Brug"]
    totals = {t["key"]: t for t in consolidation["totals"]}
    assert totals["inwoners_ondersteund"]["value"] == 1234 and totals["inwoners_ondersteund"]["reports"] == 1
    contract_report = (await service.start_report(world["coordinator"], world["period"].id))["id"]
    await service.submit(world["coordinator"], contract_report, ReportInput({}, {"goed": "Samen geleerd."}))
    version = await ReportVersion.select().where(ReportVersion.report == contract_report).first()
    content = version["content"] if isinstance(version["content"], dict) else json.loads(
        version["content"])
    assert content["missing"] == ["Onderaannemer Cirkel"] and content["returned"] == ["Onderaannemer Brug"]
    with pytest.raises(NotPermitted):
        await service.accept_report(world["coordinator"], contract_report)
    await service.accept_report(world["manager"], contract_report)
    # the municipality reads the consolidated report and the underlying ones
    assert (await service.report_page(world["manager"], returned))["report"]["status"] == "returned"


async def test_a_subcontractor_never_sees_another_subcontractors_report(world):
    report_id = await _submitted(world, "sub_a")
    with pytest.raises(NotFound):
        await service.report_page(world["sub_b"], report_id)
    with pytest.raises(NotFound):
        await service.export_report_pdf(world["sub_b"], report_id)
    with pytest.raises(NotFound):
        await service.add_comment(world["sub_b"], report_id, None, "Hallo")
    listed = await service.list_reports(world["sub_b"])
    assert listed["reports"] == []
    name, content = await service.export_period(world["sub_b"], world["period"].id, "csv")
    assert b"Anker" not in content and b"1234" not in content


async def test_drafts_are_the_authors_own(world):
    report_id = (await service.start_report(world["sub_a"], world["period"].id))["id"]
    await service.save_draft(world["sub_a"], report_id, ReportInput({}, {"goed": "Geheim concept"}))
    page = await service.report_page(world["coordinator"], report_id)
    assert not page["editable"] and all(s["text"] == "" for s in page["sections"])
    with pytest.raises(NotPermitted):
        await service.save_draft(world["coordinator"], report_id, ReportInput({}, {"goed": "overschreven"}))


async def test_comments_from_all_three_parties(world):
    report_id = await _submitted(world)
    await service.add_comment(world["sub_a"], report_id, None, "Vragen zijn welkom.")
    await service.add_comment(world["coordinator"], report_id, "goed", "Mooi resultaat.")
    await service.add_comment(world["manager"], report_id, "goed", "Eens.")
    page = await service.report_page(world["manager"], report_id)
    section = next(s for s in page["sections"] if s["key"] == "goed")
    assert [c["body"] for c in section["comments"]] == ["Mooi resultaat.", "Eens."]
    assert [c["body"] for c in page["general_comments"]] == ["Vragen zijn welkom."]


async def test_a_new_template_version_leaves_started_reports_alone(world):
    report_id = (await service.start_report(world["sub_a"], world["period"].id))["id"]
    data = service.TemplateInput("quarter", "20", [{"name": "Wachtenden", "type": "integer", "unit": "82",
                                                    "required": True, "min": "0", "max": "500"}], ["Lessen"])
    saved = await service.save_template(world["manager"], world["contract"].id, data)
    assert saved["version"] == 2
    page = await service.report_page(world["sub_a"], report_id)
    assert page["report"]["template_version"] == 1 and len(page["fields"]) == 6
    with pytest.raises(NotPermitted):
        await service.save_template(world["coordinator"], world["contract"].id, data)
