"""Read models that combine the areas. Set-based queries only, scoped by the policy in SQL."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from portal.accounts import policy
from portal.accounts.rules import Actor, Role
from portal.accounts.tables import Organisation
from portal.cases.rules import CaseStatus
from portal.cases.tables import Case
from portal.contracts.tables import Contract, StatusNorm, Subcontract
from portal.db import read_transaction
from portal.lib.calendar_nl import add_working_days, working_days_between
from portal.lib.formatting import AMSTERDAM
from portal.reports.tables import Report, ReportPeriod
from portal.signals.rules import DEFAULT_STATUS_NORMS, SignalRule, SignalStatus
from portal.signals.tables import Signal

ITEMS_PER_SOURCE = 200
ALLOCATION_ANSWER_DAYS = 5  # iWmo OP274: accept or decline within 5 working days

# Which of a role's cases hold the ball in its court (DESIGN: "ball in court").
COORDINATOR_CASE_STATUSES = ("registered", "assessment", "waiting_list", "reopened")
SUBCONTRACTOR_CASE_STATUSES = ("allocation_requested", "accepted")


@dataclass(frozen=True)
class WorkItem:
    kind: str  # Casus, Signaal, Rapportage
    title: str
    detail: str
    link: str
    since: date
    due: date | None

    def overdue_days(self, today: date) -> int:
        """Working days past the due date (0 when not overdue)."""
        if self.due is None or self.due >= today:
            return 0
        return working_days_between(self.due, today)


def _local(moment: datetime | date) -> date:
    return moment.astimezone(AMSTERDAM).date() if isinstance(moment, datetime) else moment


async def _norms(contract_ids: list[int]) -> dict[tuple[int, str], int]:
    rows = await StatusNorm.select().where(StatusNorm.contract.is_in(contract_ids)) if contract_ids else []
    return {(row["contract"], row["status"]): row["max_working_days"] for row in rows}


async def _case_items(actor: Actor, today: date) -> list[WorkItem]:
    scope = policy.case_scope(actor)
    if actor.role is Role.COORDINATOR:
        waiting = Case.status.is_in(list(COORDINATOR_CASE_STATUSES)) | (
            (Case.status == "allocation_requested") & Case.subcontractor.is_null())
    elif actor.role is Role.SUBCONTRACTOR:
        waiting = Case.status.is_in(list(SUBCONTRACTOR_CASE_STATUSES)) & (Case.subcontractor == actor.organisation_id)
    else:
        return []
    rows = await Case.select(Case.id, Case.contract, Case.case_number, Case.status, Case.status_since,
                             Case.subcontractor, Case.product_category).where(scope, waiting).order_by(
        Case.status_since).limit(ITEMS_PER_SOURCE)
    norms = await _norms(sorted({row["contract"] for row in rows}))
    items = []
    for row in rows:
        status = CaseStatus(row["status"])
        since = _local(row["status_since"])
        if status is CaseStatus.ALLOCATION_REQUESTED and row["subcontractor"] is not None:
            days, what = ALLOCATION_ANSWER_DAYS, "Toewijzingsverzoek beantwoorden (accepteren of weigeren)"
        elif status is CaseStatus.ALLOCATION_REQUESTED:
            days, what = norms.get((row["contract"], status.value), DEFAULT_STATUS_NORMS[status]), \
                "Geweigerd: opnieuw toewijzen"
        else:
            days = norms.get((row["contract"], status.value), DEFAULT_STATUS_NORMS.get(status, 10))
            what = {"registered": "Onderzoek starten", "assessment": "Onderzoek afronden en besluiten",
                    "waiting_list": "Op de wachtlijst: toewijzen zodra er plek is",
                    "reopened": "Heropend: opnieuw beoordelen", "accepted": "Levering starten"}[status.value]
        items.append(WorkItem("Casus", row["case_number"], f"{status.label}: {what}", f"/casussen/{row['id']}",
                              since, add_working_days(since, days)))
    return items


async def _signal_items(actor: Actor, today: date) -> list[WorkItem]:
    if actor.role not in policy.CASE_READER_ROLES:
        return []
    mine = Signal.owner_organisation == actor.organisation_id
    statuses = [SignalStatus.OPEN.value]
    if actor.role is Role.CONTRACT_MANAGER:
        # escalations come to the municipality whoever owned the signal before
        statuses.append(SignalStatus.ESCALATED.value)
        mine = mine | (Signal.status == SignalStatus.ESCALATED.value)
    rows = await Signal.select(Signal.id, Signal.rule, Signal.title, Signal.status, Signal.created_at,
                               Signal.response_due, Signal.confidential, Signal.raised_by_organisation).where(
        policy.signal_scope(actor), mine, Signal.status.is_in(statuses)).order_by(
        Signal.response_due).limit(ITEMS_PER_SOURCE)
    items = []
    for row in rows:
        hidden = policy.signal_content_hidden(actor, row["confidential"], row["raised_by_organisation"])
        title = "Vertrouwelijk signaal" if hidden else row["title"]
        what = "Geëscaleerd: beoordelen" if row["status"] == SignalStatus.ESCALATED.value else "Reageren"
        items.append(WorkItem("Signaal", title, f"{SignalRule(row['rule']).label}: {what}",
                              f"/signalen/{row['id']}", _local(row["created_at"]), row["response_due"]))
    return items


async def _report_items(actor: Actor, today: date) -> list[WorkItem]:
    items: list[WorkItem] = []
    soon = today + timedelta(days=30)
    if actor.role is Role.SUBCONTRACTOR:
        contracts = Subcontract.select(Subcontract.contract).where(Subcontract.subcontractor == actor.organisation_id)
        periods = await ReportPeriod.select().where(ReportPeriod.contract.is_in(contracts),
                                                    ReportPeriod.ends_on < today, ReportPeriod.deadline <= soon)
        done = {row["period"]: row for row in await Report.select(Report.id, Report.period, Report.status).where(
            Report.organisation == actor.organisation_id, Report.kind == "subcontractor")}
        for period in periods:
            report = done.get(period["id"])
            if report and report["status"] in ("submitted", "accepted"):
                continue
            label = f"{_local(period['starts_on']):%d-%m-%Y} t/m {_local(period['ends_on']):%d-%m-%Y}"
            status = {None: "Nog niet begonnen", "draft": "Concept", "returned": "Teruggestuurd: aanpassen"}.get(
                report and report["status"], "Te schrijven")
            link = f"/leercyclus/rapportages/{report['id']}" if report else "/leercyclus"
            items.append(WorkItem("Rapportage", f"Leercyclus {label}", status, link, period["ends_on"],
                                  period["deadline"]))
        return items
    if actor.role is Role.COORDINATOR:
        review = (Report.kind == "subcontractor") & (Report.status == "submitted")
        own = (Report.kind == "contract") & Report.status.is_in(["draft", "returned"])
        scope = Report.contract.is_in(policy.coordinated_contract_ids(actor))
    elif actor.role is Role.CONTRACT_MANAGER:
        review = (Report.kind == "contract") & (Report.status == "submitted")
        own = None
        scope = Report.contract.is_in(policy.managed_contract_ids(actor))
    else:
        return items
    where = review | own if own is not None else review
    rows = await Report.select(Report.id, Report.kind, Report.status, Report.submitted_at, Report.updated_at,
                               Report.organisation.name.as_alias("organisation_name"),
                               Report.period.deadline.as_alias("deadline")).where(scope, where).order_by(
        Report.updated_at).limit(ITEMS_PER_SOURCE)
    for row in rows:
        if row["status"] == "submitted":
            what, due = "Ingediend: beoordelen (accepteren of terugsturen)", None
        else:
            what, due = "Contractrapportage afmaken", row["deadline"]
        items.append(WorkItem("Rapportage", row["organisation_name"], what, f"/leercyclus/rapportages/{row['id']}",
                              _local(row["submitted_at"] or row["updated_at"]), due))
    return items


async def my_work(actor: Actor, today: date | None = None) -> dict:
    """Mijn werk: everything in the actor's court now (cases, signals, reports), most overdue first."""
    today = today or datetime.now(AMSTERDAM).date()
    async with read_transaction():
        items = [*await _case_items(actor, today), *await _signal_items(actor, today),
                 *await _report_items(actor, today)]
        organisation = await Organisation.select(Organisation.name).where(
            Organisation.id == actor.organisation_id).first()
        contracts = await Contract.count().where(policy.contract_scope(actor))
    items.sort(key=lambda item: (item.due or date.max, item.since))
    rows = [{"kind": item.kind, "title": item.title, "detail": item.detail, "link": item.link, "since": item.since,
             "due": item.due, "overdue_days": item.overdue_days(today)} for item in items]
    counts = {kind: sum(1 for row in rows if row["kind"] == kind) for kind in ("Casus", "Signaal", "Rapportage")}
    return {
        "entries": rows,
        "counts": counts,
        "overdue": sum(1 for row in rows if row["overdue_days"] > 0),
        "capped": any(count >= ITEMS_PER_SOURCE for count in counts.values()),
        "organisation_name": organisation["name"] if organisation else "",
        "contracts": contracts,
        "today": today,
    }
