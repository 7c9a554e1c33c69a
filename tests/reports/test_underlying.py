"""As the contract says: the municipality reads the consolidated contract report and, only when the contract
says so, the underlying subcontractor reports. The setting is the contract manager's, audited, and holds for
pages, lists, the consolidation page, exports (PDF, XLSX, CSV) and the API."""

import io
from itertools import count

from openpyxl import load_workbook

from portal.accounts import policy
from portal.accounts.policy import ContractFacts, ReportFacts
from portal.accounts.rules import Actor, OrganisationKind, Role
from portal.accounts.tables import AuditEntry
from portal.contracts.tables import Contract
from tests import factories
from tests.reports.conftest import GOOD_VALUES
from tests.reports.test_web import form_values, start

HTML = {"accept": "text/html"}
_addresses = (f"198.51.100.{n}" for n in count(120))


def _actor(role: Role, org: int) -> Actor:
    kind = {Role.CONTRACT_MANAGER: OrganisationKind.MUNICIPALITY, Role.COORDINATOR: OrganisationKind.MAIN_CONTRACTOR,
            Role.SUBCONTRACTOR: OrganisationKind.SUBCONTRACTOR}[role]
    return Actor(1, org, kind, role, "Iemand", "iemand@example.nl")


def test_policy_follows_the_contract_setting():
    for reads in (True, False):
        contract = ContractFacts(1, municipality_id=10, main_contractor_id=20, subcontractor_ids=frozenset({30}),
                                 municipality_reads_subcontractor_reports=reads)
        manager, coordinator = _actor(Role.CONTRACT_MANAGER, 10), _actor(Role.COORDINATOR, 20)
        sub_report, contract_report = ReportFacts(contract, 30, "subcontractor"), ReportFacts(contract, 20, "contract")
        assert policy.can_read_report(manager, contract_report)
        assert policy.can_read_report(manager, sub_report) is reads
        assert policy.can_read_report(coordinator, sub_report)
        assert policy.reads_underlying_reports(coordinator, contract)
        assert policy.reads_underlying_reports(manager, contract) is reads
        assert not policy.can_read_report(_actor(Role.CONTRACT_MANAGER, 11), contract_report)


async def _reports(app, world) -> tuple[int, int]:
    """Anker submits its report; the coordinator consolidates and submits the contract report."""
    async with factories.logged_in(app, world["users"]["sub_a"], address=next(_addresses)) as sub:
        report_id = await start(sub, world)
        done = await factories.post_form(sub, f"/leercyclus/rapportages/{report_id}/indienen",
                                         form_values(GOOD_VALUES, {"goed": "Alleen voor de hoofdaannemer"}))
        assert done.status_code == 303
    async with factories.logged_in(app, world["users"]["coordinator"], address=next(_addresses)) as coordinator:
        contract_report = await start(coordinator, world)
        done = await factories.post_form(coordinator, f"/leercyclus/rapportages/{contract_report}/indienen",
                                         form_values(sections={"goed": "Samen verder."}))
        assert done.status_code == 303
    return report_id, contract_report


async def _set(http, world, answer: str):
    return await factories.post_form(http, f"/leercyclus/contracten/{world['contract'].id}/inzage",
                                     {"underlying": answer})


async def test_with_the_setting_off_the_manager_reads_only_the_contract_report(app, world):
    report_id, contract_report = await _reports(app, world)
    period = world["period"].id
    async with factories.logged_in(app, world["users"]["manager"], address=next(_addresses)) as manager:
        page = await manager.get(f"/leercyclus/contracten/{world['contract'].id}/sjabloon", headers=HTML)
        assert 'id="underlying-ja" name="underlying" value="ja" checked' in page.text  # the default: both
        saved = await _set(manager, world, "nee")
        assert saved.status_code == 303 and saved.headers["location"].endswith("inzage=nee#inzage")
        page = await manager.get(saved.headers["location"], headers=HTML)
        assert 'value="nee" checked' in page.text and "alleen de contractrapportage" in page.text
        # the subcontractor report: 404 everywhere
        for url in (f"/leercyclus/rapportages/{report_id}", f"/leercyclus/rapportages/{report_id}/pdf"):
            assert (await manager.get(url, headers=HTML)).status_code == 404, url
        comment = await factories.post_form(manager, f"/leercyclus/rapportages/{report_id}/reacties", {"body": "Hoi"})
        assert comment.status_code == 404
        # the contract report: still there, with its PDF
        page = await manager.get(f"/leercyclus/rapportages/{contract_report}", headers=HTML)
        assert page.status_code == 200 and "Samen verder." in page.text
        assert (await manager.get(f"/leercyclus/rapportages/{contract_report}/pdf")).status_code == 200
        # lists: the API, the overview and the consolidation page
        listed = (await manager.get("/api/v1/reports")).json()
        assert [row["id"] for row in listed["reports"]] == [contract_report]
        overview = await manager.get("/leercyclus", headers=HTML)
        assert f"/leercyclus/rapportages/{report_id}" not in overview.text
        assert f"/leercyclus/rapportages/{contract_report}" in overview.text
        assert "volgens het contract alleen de contractrapportage" in overview.text
        consolidation = await manager.get(f"/leercyclus/perioden/{period}", headers=HTML)
        assert consolidation.status_code == 200
        assert f"/leercyclus/rapportages/{report_id}" not in consolidation.text
        assert f"/leercyclus/rapportages/{contract_report}" in consolidation.text
        assert "Onderaannemer Anker" not in consolidation.text and "indicatoren.csv" not in consolidation.text
        # exports: no subcontractor rows
        csv = await manager.get(f"/leercyclus/perioden/{period}/indicatoren.csv")
        assert csv.status_code == 200 and "Anker" not in csv.content.decode()
        xlsx = await manager.get(f"/leercyclus/perioden/{period}/indicatoren.xlsx")
        rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
        assert len(rows) == 1 and rows[0][0] == "Onderaannemer"
    # the coordinator is not affected
    async with factories.logged_in(app, world["users"]["coordinator"], address=next(_addresses)) as coordinator:
        assert (await coordinator.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)).status_code == 200
        listed = (await coordinator.get("/api/v1/reports")).json()
        assert sorted(row["id"] for row in listed["reports"]) == sorted([report_id, contract_report])
    changed = await AuditEntry.select(AuditEntry.old_values, AuditEntry.new_values, AuditEntry.contract_id).where(
        AuditEntry.object_type == "contract", AuditEntry.action == "change")
    assert len(changed) == 1 and changed[0]["contract_id"] == world["contract"].id
    assert '"municipality_reads_subcontractor_reports": false' in changed[0]["new_values"]


async def test_with_the_setting_on_the_manager_reads_both(app, world):
    await Contract.update({Contract.municipality_reads_subcontractor_reports: False}).where(
        Contract.id == world["contract"].id)
    report_id, contract_report = await _reports(app, world)
    async with factories.logged_in(app, world["users"]["manager"], address=next(_addresses)) as manager:
        assert (await manager.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)).status_code == 404
        saved = await _set(manager, world, "ja")
        assert saved.status_code == 303
        page = await manager.get(f"/leercyclus/rapportages/{report_id}", headers=HTML)
        assert page.status_code == 200 and "Alleen voor de hoofdaannemer" in page.text
        assert (await manager.get(f"/leercyclus/rapportages/{report_id}/pdf")).status_code == 200
        assert (await manager.get(f"/leercyclus/rapportages/{contract_report}", headers=HTML)).status_code == 200
        listed = (await manager.get("/api/v1/reports")).json()
        assert sorted(row["id"] for row in listed["reports"]) == sorted([report_id, contract_report])
        consolidation = await manager.get(f"/leercyclus/perioden/{world['period'].id}", headers=HTML)
        assert f"/leercyclus/rapportages/{report_id}" in consolidation.text
        csv = await manager.get(f"/leercyclus/perioden/{world['period'].id}/indicatoren.csv")
        assert "Onderaannemer Anker" in csv.content.decode()
    stored = await Contract.select(Contract.municipality_reads_subcontractor_reports).where(
        Contract.id == world["contract"].id).first()
    assert stored["municipality_reads_subcontractor_reports"] is True


async def test_only_the_contract_manager_sets_it_and_bad_input_is_422(app, world):
    async with factories.logged_in(app, world["users"]["manager"], address=next(_addresses)) as manager:
        bad = await _set(manager, world, "misschien")
        assert bad.status_code == 422 and "ja of nee" in bad.text and 'aria-invalid="true"' in bad.text
        assert 'value="Inwoners ondersteund"' in bad.text  # the page around it is whole
    async with factories.logged_in(app, world["users"]["coordinator"], address=next(_addresses)) as coordinator:
        assert (await _set(coordinator, world, "nee")).status_code == 403
    stranger_org = await factories.organisation("municipality", "Gemeente Elders")
    stranger = await factories.user(stranger_org, "contract_manager")
    async with factories.logged_in(app, stranger, address=next(_addresses)) as other:
        assert (await _set(other, world, "nee")).status_code == 404
        assert (await _set(other, world, "misschien")).status_code == 404  # bad input tells a stranger nothing
    stored = await Contract.select(Contract.municipality_reads_subcontractor_reports).where(
        Contract.id == world["contract"].id).first()
    assert stored["municipality_reads_subcontractor_reports"] is True
    assert await AuditEntry.count().where(AuditEntry.object_type == "contract") == 0
