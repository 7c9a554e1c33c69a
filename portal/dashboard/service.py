"""Read models that combine the areas. Set-based queries only, scoped by the policy in SQL."""

import asyncio
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from piccolo.query.functions.aggregate import Count

from portal.accounts import policy
from portal.accounts.rules import Actor, Role
from portal.accounts.tables import Organisation
from portal.cases.rules import (
    BALL_IN_COURT,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Allocation,
    CaseStatus,
    Party,
)
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, StatusNorm, Subcontract
from portal.dashboard import rules
from portal.db import amsterdam_day_sql, read_transaction, stored_date
from portal.lib.calendar_nl import add_working_days, working_days_between
from portal.lib.errors import NotFound
from portal.lib.formatting import AMSTERDAM, today_nl
from portal.reports.tables import Report, ReportPeriod
from portal.signals.rules import DEFAULT_STATUS_NORMS, Severity, SignalRule, SignalStatus
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
        since = stored_date(row["status_since"])
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
                              f"/signalen/{row['id']}", stored_date(row["created_at"]), row["response_due"]))
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
            label = f"{stored_date(period['starts_on']):%d-%m-%Y} t/m {stored_date(period['ends_on']):%d-%m-%Y}"
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
                              stored_date(row["submitted_at"] or row["updated_at"]), due))
    return items


async def my_work(actor: Actor, today: date | None = None) -> dict:
    """Mijn werk: everything in the actor's court now (cases, signals, reports), most overdue first."""
    today = today or today_nl()
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


# --- the contract dashboard ----------------------------------------------------------------------------
# A fixed, small number of set-based statements per page (see tests/dashboard/test_web.py), never one per
# row: the figures per subcontractor come from one grouped query over case_event, the current load and the
# ball-in-court ageing from one grouped query over portal_case.

DASHBOARD_ROLES = frozenset({Role.CONTRACT_MANAGER, Role.COORDINATOR, Role.SUBCONTRACTOR})
DASHBOARD_WHAT = "het dashboard"
ACTIVE_SIGNAL_STATUSES = (SignalStatus.OPEN.value, SignalStatus.ACKNOWLEDGED.value, SignalStatus.ESCALATED.value)
SUBCONTRACTOR_ACTIONS = ("request_allocation", "accept", "decline", "start_care", "reject", "refer_collective")
TREND_ACTIONS = ("register", "reject", "refer_collective")
FLOW_NORM_STATUSES = (CaseStatus.REGISTERED, CaseStatus.ASSESSMENT, CaseStatus.ALLOCATION_REQUESTED,
                      CaseStatus.ACCEPTED)


def _is_postgres() -> bool:
    from portal.db import engine

    return engine().engine_type == "postgres"


async def dashboard_contracts(actor: Actor) -> list[dict]:
    """The contracts the actor may open a dashboard of (its organisation takes part in)."""
    policy.require_role(actor, DASHBOARD_ROLES, DASHBOARD_WHAT)
    return await Contract.select(
        Contract.id, Contract.name, Contract.start_date, Contract.end_date,
        Contract.municipality.name.as_alias("municipality_name"),
        Contract.main_contractor.name.as_alias("main_contractor_name"),
    ).where(policy.contract_scope(actor)).order_by(Contract.name)


async def _contract_parties(contract_id: int) -> tuple[policy.ContractFacts | None, dict | None, list[dict]]:
    """The contract row, its subcontracts and the facts the policy decides on (None: no such contract)."""
    row = await Contract.select(Contract.id, Contract.name, Contract.municipality, Contract.main_contractor,
                                Contract.start_date, Contract.end_date).where(Contract.id == contract_id).first()
    if row is None:
        return None, None, []
    subcontracts = await Subcontract.select(
        Subcontract.subcontractor, Subcontract.subcontractor.name.as_alias("name"), Subcontract.start_date,
        Subcontract.end_date).where(Subcontract.contract == contract_id)
    facts = policy.ContractFacts(row["id"], row["municipality"], row["main_contractor"],
                                 frozenset(s["subcontractor"] for s in subcontracts))
    return facts, row, subcontracts


def _authorize(actor: Actor, facts: policy.ContractFacts | None) -> None:
    """404 for a contract the actor's organisation is not party to (the role is checked before)."""
    allowed = facts is not None and (
        policy.can_read_contract_aggregates(actor, facts)
        or (actor.role is Role.SUBCONTRACTOR and policy.is_party_to(actor, facts)))
    if not allowed:
        raise NotFound(policy.NOT_FOUND_CONTRACT)


async def _case_load(contract_id: int) -> list[dict]:
    """One grouped query: open and closed cases per status, subcontractor and day the status started."""
    day = amsterdam_day_sql("status_since")
    return await Case.raw(
        f"SELECT status, subcontractor, {day} AS since, COUNT(*) AS n FROM portal_case WHERE contract = {{}} "  # noqa: S608
        f"GROUP BY status, subcontractor, {day}", contract_id)


async def _flows(contract_id: int) -> list[dict]:
    """One row per case that started care: its subcontractor, days melding -> start and days
    allocation request -> start (the last request to that subcontractor before the start)."""
    started, requested = amsterdam_day_sql("s.started"), amsterdam_day_sql("r.requested")
    if _is_postgres():
        melding = f"({started} - c.melding_date)"
        wait = f"({started} - {requested})"
    else:  # SQLite subtracts days as Julian day numbers
        melding = f"CAST(julianday({started}) - julianday(c.melding_date) AS INTEGER)"
        wait = f"CAST(julianday({started}) - julianday({requested}) AS INTEGER)"
    return await CaseEvent.raw(
        f"SELECT s.subcontractor, {melding} AS melding_days, {wait} AS wait_days "  # noqa: S608
        "FROM (SELECT \"case\" AS case_id, subcontractor, MIN(occurred_at) AS started FROM case_event "
        "      WHERE contract = {} AND action = 'start_care' GROUP BY \"case\", subcontractor) s "
        "JOIN portal_case c ON c.id = s.case_id "
        "LEFT JOIN (SELECT \"case\" AS case_id, subcontractor, MAX(occurred_at) AS requested FROM case_event "
        "      WHERE contract = {} AND action = 'request_allocation' GROUP BY \"case\", subcontractor) r "
        "  ON r.case_id = s.case_id AND r.subcontractor = s.subcontractor",
        contract_id, contract_id)


async def _trend_rows(contract_id: int, since: date) -> list[dict]:
    """One grouped query: registrations, rejections and referrals per quarter."""
    if _is_postgres():
        local = "(occurred_at AT TIME ZONE 'Europe/Amsterdam')"
        year, quarter = f"EXTRACT(YEAR FROM {local})::int", f"EXTRACT(QUARTER FROM {local})::int"
    else:
        local = "amsterdam_local(occurred_at)"  # portal.db: Amsterdam quarters on SQLite too
        year = f"CAST(strftime('%Y', {local}) AS INTEGER)"
        quarter = f"((CAST(strftime('%m', {local}) AS INTEGER) + 2) / 3)"
    actions = ", ".join(f"'{action}'" for action in TREND_ACTIONS)
    return await CaseEvent.raw(
        f"SELECT action, {year} AS year, {quarter} AS quarter, COUNT(*) AS n FROM case_event "  # noqa: S608
        f"WHERE contract = {{}} AND action IN ({actions}) AND occurred_at >= {{}} "
        f"GROUP BY action, {year}, {quarter}", contract_id,
        datetime.combine(since, datetime.min.time(), tzinfo=AMSTERDAM).astimezone(UTC))


async def _report_rows(contract_id: int, today: date) -> list[dict]:
    """Due subcontractor report periods (deadline passed) with the reports handed in for them."""
    return await ReportPeriod.raw(
        "SELECT p.id, p.starts_on, p.ends_on, r.organisation, r.status FROM report_period p "
        "LEFT JOIN portal_report r ON r.period = p.id AND r.kind = 'subcontractor' "
        "WHERE p.contract = {} AND p.deadline < {}", contract_id, today)


async def _gather(contract_id: int, today: date) -> dict:
    quarters = rules.last_quarters(today)
    return {
        "load": await _case_load(contract_id),
        "flows": await _flows(contract_id),
        "events": await CaseEvent.select(CaseEvent.subcontractor, CaseEvent.action, Count(alias="n")).where(
            CaseEvent.contract == contract_id, CaseEvent.action.is_in(list(SUBCONTRACTOR_ACTIONS)),
            CaseEvent.subcontractor.is_not_null()).group_by(CaseEvent.subcontractor, CaseEvent.action),
        "signals": await Signal.select(Signal.rule, Signal.severity, Signal.escalation_level, Signal.subcontractor,
                                       Count(alias="n")).where(
            Signal.contract == contract_id, Signal.status.is_in(list(ACTIVE_SIGNAL_STATUSES))).group_by(
            Signal.rule, Signal.severity, Signal.escalation_level, Signal.subcontractor),
        "reports": await _report_rows(contract_id, today),
        "norms": await StatusNorm.select(StatusNorm.status, StatusNorm.max_working_days).where(
            StatusNorm.contract == contract_id),
        "trends": await _trend_rows(contract_id, rules.quarter_start(*quarters[0])),
        "quarters": quarters,
    }


def _per_subcontractor(data: dict, subcontracts: list[dict]) -> dict[int, dict]:
    """Volume, decline and rejection rate, waiting time, open signals, report compliance and current load
    per subcontractor of the contract (rates hidden below the minimum volume, outliers marked)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in data["events"]:
        counts[row["subcontractor"]][row["action"]] += row["n"]
    waits: dict[int, list[int]] = defaultdict(list)
    for row in data["flows"]:
        if row["subcontractor"] is not None and row["wait_days"] is not None:
            waits[row["subcontractor"]].append(int(row["wait_days"]))
    signals: dict[int, int] = defaultdict(int)
    for row in data["signals"]:
        if row["subcontractor"] is not None:
            signals[row["subcontractor"]] += row["n"]
    load: dict[int, int] = defaultdict(int)
    for row in data["load"]:
        if row["subcontractor"] is not None and CaseStatus(row["status"]) in OPEN_STATUSES:
            load[row["subcontractor"]] += row["n"]
    periods: dict[int, tuple[date, date]] = {}
    handed_in: set[tuple[int, int]] = set()
    for row in data["reports"]:
        periods[row["id"]] = (stored_date(row["starts_on"]), stored_date(row["ends_on"]))
        if row["organisation"] is not None and row["status"] in ("submitted", "accepted"):
            handed_in.add((row["id"], row["organisation"]))
    declines = {}
    rejections = {}
    result = {}
    for sub in subcontracts:
        sid = sub["subcontractor"]
        c = counts[sid]
        requests = c["request_allocation"]
        decisions = c["reject"] + c["request_allocation"] + c["refer_collective"]
        declines[sid] = (c["decline"], requests)
        rejections[sid] = (c["reject"], decisions)
        due = [pid for pid, (start, end) in periods.items()
               if start <= stored_date(sub["end_date"]) and end >= stored_date(sub["start_date"])]
        done = sum(1 for pid in due if (pid, sid) in handed_in)
        result[sid] = {
            "id": sid, "name": sub["name"], "volume": requests, "declines": c["decline"],
            "decline_rate": rules.rate(c["decline"], requests), "rejections": c["reject"], "decisions": decisions,
            "rejection_rate": rules.rate(c["reject"], decisions),
            "wait_days": rules.mean(waits[sid]), "wait_volume": len(waits[sid]),
            "open_signals": signals[sid], "load": load[sid],
            "reports_due": len(due), "reports_done": done,
            "report_compliance": 100.0 * done / len(due) if due else None,
            "decline_outlier": None, "rejection_outlier": None,
        }
    for sid, mark in rules.outlier_marks(declines).items():
        result[sid]["decline_outlier"] = mark
    for sid, mark in rules.outlier_marks(rejections).items():
        result[sid]["rejection_outlier"] = mark
    return result


def _ball_in_court(data: dict, subcontracts: list[dict], today: date, coordinator_label: str) -> list[dict]:
    """Open cases per party holding the ball, by working days since the status started."""
    names = {sub["subcontractor"]: sub["name"] for sub in subcontracts}
    rows: dict[tuple[str, int | None], dict] = {}
    ages: dict[date, str] = {}
    for row in data["load"]:
        status = CaseStatus(row["status"])
        if status in TERMINAL_STATUSES:
            continue
        where = status
        if status is CaseStatus.ALLOCATION_REQUESTED:
            where = Allocation.ASSIGNED if row["subcontractor"] is not None else Allocation.UNASSIGNED
        party = BALL_IN_COURT.get(where)
        if party is None:
            continue
        sub = row["subcontractor"] if party is Party.SUBCONTRACTOR else None
        label = {Party.MAIN_CONTRACTOR: coordinator_label, Party.RESIDENT: "Inwoner (opgeschort)",
                 Party.MUNICIPALITY: "Gemeente"}.get(party) or names.get(sub, "Onderaannemer (niet meer actief)")
        key = (party.value, sub)
        entry = rows.setdefault(key, {"party": party.value, "label": label, "subcontractor": sub,
                                      "buckets": dict.fromkeys(rules.AGE_BUCKETS, 0), "total": 0})
        since = stored_date(row["since"])
        if since not in ages:
            ages[since] = rules.age_bucket(max(0, working_days_between(since, today)))
        entry["buckets"][ages[since]] += row["n"]
        entry["total"] += row["n"]
    order = {Party.MAIN_CONTRACTOR.value: 0, Party.SUBCONTRACTOR.value: 1, Party.RESIDENT.value: 2}
    return sorted(rows.values(), key=lambda e: (order.get(e["party"], 3), e["label"]))


def _flow_figures(data: dict) -> dict:
    days = [int(row["melding_days"]) for row in data["flows"] if row["melding_days"] is not None]
    norms = {row["status"]: row["max_working_days"] for row in data["norms"]}
    norm = sum(norms.get(status.value, DEFAULT_STATUS_NORMS[status]) for status in FLOW_NORM_STATUSES)
    p50, p90 = rules.percentile(days, 50), rules.percentile(days, 90)
    return {"count": len(days), "p50": p50, "p90": p90, "legal_days": rules.LEGAL_FLOW_DAYS,
            "norm_working_days": norm,
            "over_legal": sum(1 for d in days if d > rules.LEGAL_FLOW_DAYS)}


def _signal_figures(data: dict) -> list[dict]:
    per_rule: dict[str, dict] = {}
    for row in data["signals"]:
        entry = per_rule.setdefault(row["rule"], {
            "rule": row["rule"], "label": SignalRule(row["rule"]).label, "total": 0,
            "severity": {sev.value: 0 for sev in Severity}, "late_1x": 0, "late_3x": 0})
        entry["total"] += row["n"]
        if row["severity"] in entry["severity"]:
            entry["severity"][row["severity"]] += row["n"]
        level = row["escalation_level"] or 0
        if level >= 3:
            entry["late_3x"] += row["n"]
        elif level >= 1:
            entry["late_1x"] += row["n"]
    return sorted(per_rule.values(), key=lambda e: (-e["total"], e["label"]))


def _trend_figures(data: dict) -> list[dict]:
    counts = {(row["action"], int(row["year"]), int(row["quarter"])): row["n"] for row in data["trends"]}
    return [{"label": f"K{q} {y}", "meldingen": counts.get(("register", y, q), 0),
             "afwijzingen": counts.get(("reject", y, q), 0),
             "doorverwijzingen": counts.get(("refer_collective", y, q), 0)} for y, q in data["quarters"]]


def _status_figures(data: dict, subcontractor_id: int | None = None) -> list[dict]:
    per_status: dict[str, int] = defaultdict(int)
    for row in data["load"]:
        if subcontractor_id is None or row["subcontractor"] == subcontractor_id:
            per_status[row["status"]] += row["n"]
    return [{"status": status.value, "label": status.label, "count": per_status[status.value]}
            for status in CaseStatus if per_status.get(status.value)]


async def _neighbourhoods(contract_id: int) -> list[dict]:
    rows = await Case.raw(
        "SELECT neighbourhood, COUNT(*) AS cases, COUNT(DISTINCT pseudonym) AS residents FROM portal_case "
        "WHERE contract = {} GROUP BY neighbourhood ORDER BY neighbourhood", contract_id)
    return [{"name": row["neighbourhood"] or "Onbekend", "residents": rules.shown_count(row["residents"]),
             "cases": rules.shown_count(row["cases"]) if rules.suppress(row["residents"]) is not None
             else rules.SUPPRESSED} for row in rows]


# The contract figures are computed from the contract's whole case log (tens of milliseconds at 15k cases)
# but change only when something is recorded. Each process keeps them per contract and day, and reuses them
# while the contract's fingerprint (one cheap indexed query) is unchanged. The age limit is a safety net for
# changes the fingerprint cannot see; a per-process cache stays correct with any number of processes.
FIGURES_MAX_AGE_SECONDS = 300
FIGURES_CACHE_SIZE = 512
_figures_cache: OrderedDict[tuple[int, date], tuple[tuple, float, dict]] = OrderedDict()
_computing: dict[tuple[int, date], asyncio.Lock] = {}


async def _fingerprint(contract_id: int) -> tuple:
    """What the contract figures depend on, summarised: a new event (every case change is one), a signal or
    report change, a norm, subcontract or savings row changes it. ``created_at`` tells a recreated contract
    with the same id apart."""
    cid = int(contract_id)
    parts = [
        "SELECT created_at FROM contract WHERE id = {cid}",
        "SELECT savings_tolerance_pct FROM contract WHERE id = {cid}",
        "SELECT MAX(id) FROM portal_case WHERE contract = {cid}",
        "SELECT MAX(id) FROM case_event WHERE contract = {cid}",
        "SELECT COUNT(*) FROM signal WHERE contract = {cid}",
        "SELECT MAX(updated_at) FROM signal WHERE contract = {cid}",
        "SELECT MAX(updated_at) FROM portal_report WHERE contract = {cid}",
        "SELECT COUNT(*) FROM report_period WHERE contract = {cid}",
        "SELECT COUNT(*) FROM status_norm WHERE contract = {cid}",
        "SELECT SUM(max_working_days) FROM status_norm WHERE contract = {cid}",
        "SELECT COUNT(*) FROM subcontract WHERE contract = {cid}",
        "SELECT MAX(id) FROM subcontract WHERE contract = {cid}",
        "SELECT MAX(id) FROM savings_actual WHERE contract = {cid}",
        "SELECT COUNT(*) FROM savings_target WHERE contract = {cid}",
        "SELECT SUM(amount_cents) FROM savings_target WHERE contract = {cid}",
        "SELECT SUM(amount_cents) FROM investment WHERE contract = {cid}",
        "SELECT COUNT(*) FROM investment WHERE contract = {cid}",
        "SELECT SUM(baseline_cents + indexation_cents + lump_sum_cents) FROM contract_year WHERE contract = {cid}",
    ]
    columns = ", ".join(f"({part.format(cid=cid)}) AS f{i}" for i, part in enumerate(parts))
    rows = await Case.raw(f"SELECT {columns}")  # noqa: S608 - an integer id, no user text
    return tuple(str(value) for value in rows[0].values())


async def _contract_figures(actor: Actor, contract_id: int, today: date) -> dict:
    """The figures of the whole contract (every subcontractor named), from the cache when still current.
    The actor is authorized before anything is computed, on the parties the figures were computed for."""
    key = (contract_id, today)
    fingerprint = await _fingerprint(contract_id)
    if (figures := _current_figures(key, fingerprint)) is not None:
        _authorize(actor, figures["facts"])
        return figures
    # Requests that arrive while the figures are being computed wait for that one computation.
    lock = _computing.setdefault(key, asyncio.Lock())
    async with lock:
        if (figures := _current_figures(key, fingerprint)) is not None:
            _authorize(actor, figures["facts"])
            return figures
        try:
            return await _compute_figures(actor, contract_id, today, fingerprint)
        finally:
            _computing.pop(key, None)


def _current_figures(key: tuple[int, date], fingerprint: tuple) -> dict | None:
    cached = _figures_cache.get(key)
    if cached is None or cached[0] != fingerprint or time.monotonic() - cached[1] >= FIGURES_MAX_AGE_SECONDS:
        return None
    _figures_cache.move_to_end(key)
    return cached[2]


async def _compute_figures(actor: Actor, contract_id: int, today: date, fingerprint: tuple) -> dict:
    from portal.rights.service import reassessment_figures
    from portal.savings.service import contract_positions

    key = (contract_id, today)
    facts, contract, subcontracts = await _contract_parties(contract_id)
    _authorize(actor, facts)
    data = await _gather(contract_id, today)
    neighbourhoods = await _neighbourhoods(contract_id)
    positions = await contract_positions(today, [contract_id])
    reassessment = await reassessment_figures(contract_id, today=today)
    coordinator_label = "Hoofdaannemer" if facts.main_contractor_id is not None else "Gemeente (coördinatie)"
    per_sub = _per_subcontractor(data, subcontracts)
    figures = {
        "facts": facts, "contract": contract,
        "statuses": _status_figures(data), "flow": _flow_figures(data), "signals": _signal_figures(data),
        "per_subcontractor": per_sub,
        "status_rows": data["load"],
        "ball": _ball_in_court(data, subcontracts, today, coordinator_label),
        "savings": [p for p in positions if p["contract_id"] == contract_id],
        "trends": _trend_figures(data), "neighbourhoods": neighbourhoods, "reassessment": reassessment,
        "version": f"{contract_id}:{today.isoformat()}:{hash(fingerprint)}",
    }
    _figures_cache[key] = (fingerprint, time.monotonic(), figures)
    _figures_cache.move_to_end(key)
    while len(_figures_cache) > FIGURES_CACHE_SIZE:
        _figures_cache.popitem(last=False)
    return figures


def forget_cached_figures() -> None:
    """Drop every cached figure set (tests that change rows behind the fingerprint's back, e.g. in bulk)."""
    _figures_cache.clear()


async def contract_dashboard(actor: Actor, contract_id: int, today: date | None = None) -> dict:
    """The whole contract's figures for its contract manager and coordinator; for a subcontractor party to
    the contract, its own figures next to the anonymous average of its peers. The returned figures may be
    shared with other requests: read them, never change them."""
    policy.require_role(actor, DASHBOARD_ROLES, DASHBOARD_WHAT)
    today = today or today_nl()
    async with read_transaction():
        figures = await _contract_figures(actor, contract_id, today)
    facts, contract = figures["facts"], figures["contract"]
    if not policy.can_read_contract_aggregates(actor, facts):
        return _subcontractor_view(actor, contract, figures, today)
    return {
        "scope": "contract", "contract": contract, "today": today,
        "statuses": figures["statuses"], "flow": figures["flow"], "signals": figures["signals"],
        "subcontractors": sorted(figures["per_subcontractor"].values(), key=lambda s: s["name"]),
        "ball": figures["ball"], "savings": figures["savings"],
        "trends": figures["trends"], "neighbourhoods": figures["neighbourhoods"],
        "reassessment": figures["reassessment"],
        "min_volume": rules.MIN_VOLUME, "age_buckets": rules.AGE_BUCKETS,
        "figures_version": figures["version"],  # changes whenever a figure can have changed
    }


def _subcontractor_view(actor: Actor, contract: dict, figures: dict, today: date) -> dict:
    """A subcontractor's own figures next to the anonymous average of its peers on the same contract (only
    peers with the minimum volume count, and only when there are enough of them). No peer is named."""
    per_sub = figures["per_subcontractor"]
    own_id = actor.organisation_id
    own = per_sub[own_id]
    declines = {sid: (s["declines"], s["volume"]) for sid, s in per_sub.items()}
    rejections = {sid: (s["rejections"], s["decisions"]) for sid, s in per_sub.items()}
    waits = {sid: (s["wait_days"], s["wait_volume"]) for sid, s in per_sub.items() if s["wait_days"] is not None}
    compliance = {sid: (s["report_compliance"], rules.MIN_VOLUME) for sid, s in per_sub.items()
                  if s["report_compliance"] is not None}
    signals = {sid: (float(s["open_signals"]), rules.MIN_VOLUME) for sid, s in per_sub.items()}
    peers = {
        "volume": rules.peer_mean({sid: (float(s["volume"]), s["volume"]) for sid, s in per_sub.items()}, own_id),
        "decline_rate": rules.peer_average(declines, own_id),
        "rejection_rate": rules.peer_average(rejections, own_id),
        "wait_days": rules.peer_mean(waits, own_id),
        "open_signals": rules.peer_mean(signals, own_id),
        "report_compliance": rules.peer_mean(compliance, own_id),
    }
    return {
        "scope": "subcontractor", "contract": {"id": contract["id"], "name": contract["name"]}, "today": today,
        "own": {key: value for key, value in own.items() if key not in ("decline_outlier", "rejection_outlier")},
        "peers": peers, "peer_count": sum(1 for sid in per_sub if sid != own_id),
        "statuses": _status_figures({"load": figures["status_rows"]}, own_id),
        "min_volume": rules.MIN_VOLUME, "min_peers": rules.MIN_PEERS,
    }
