"""Rights use cases: the non-status case events of a resident's legal position (objections, re-assessment
talks) and the "Rechten" page per contract.

Who records what: the coordinator (of the main contractor, or the municipality where it coordinates itself)
records an objection the municipality tells it about, the decision on it, and every re-assessment talk. The
contract manager reads (DESIGN section 5: read-only on cases); a subcontractor has no rights page.

Writes follow the case actions: one transaction, the case's ``version`` as optimistic lock (the event bumps
it), an append-only event, an audit entry. Figures are grouped SQL over the indexed event log (contract,
action, occurred_at): a handful of queries per page, never one per case.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from portal.accounts import audit, policy
from portal.accounts.policy import ContractFacts
from portal.accounts.rules import Actor, Role
from portal.cases.rules import CaseStatus
from portal.cases.service import STALE_VERSION, case_facts, local_date, today_nl
from portal.cases.tables import Case, CaseEvent
from portal.contracts.service import contract_with_aggregates
from portal.contracts.tables import Contract, Subcontract
from portal.db import read_transaction, write_transaction
from portal.lib.codelists import RejectionReason
from portal.lib.errors import Conflict, InvalidInput, NotPermitted
from portal.lib.formatting import AMSTERDAM
from portal.lib.pseudonym import refuse_bsn_in_text
from portal.lib.tables_base import utc_now
from portal.rights import rules
from portal.rights.schemas import ObjectionDecided, ObjectionFiled, ReassessmentTalk, RightsFilter

RIGHTS_ROLES = frozenset({Role.CONTRACT_MANAGER, Role.COORDINATOR})
RECORDER_ROLES = frozenset({Role.COORDINATOR})
WHAT = "de rechten van inwoners"
LIST_LIMIT = 100
MAX_NOTE = 4000  # as a note on a lifecycle step (portal.cases.rules)
RUNNING_STATUSES = (CaseStatus.IN_CARE.value, CaseStatus.ON_HOLD.value)


# --- recording objections and re-assessment talks -------------------------------------------------------


def _moment(on: date, today: date) -> datetime:
    """An event on a past day is placed at noon (Amsterdam) of that day; today's at the present moment."""
    if on >= today:
        return utc_now()
    return datetime.combine(on, time(12, 0), tzinfo=AMSTERDAM).astimezone(UTC)


def _note(text: str | None) -> str | None:
    note = (text or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"Een toelichting heeft hooguit {MAX_NOTE} tekens.", field="note")
    refuse_bsn_in_text(note, "note")
    return note


async def _history(case_id: int) -> list[dict]:
    events = await CaseEvent.select(
        CaseEvent.id, CaseEvent.occurred_at, CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status,
        CaseEvent.beschikking_issued, CaseEvent.outcome, CaseEvent.due_date,
    ).where(CaseEvent.case == case_id).order_by(CaseEvent.occurred_at).order_by(CaseEvent.id)
    for event in events:
        event["on"] = local_date(event["occurred_at"])
    return events


def _status_at(events: list[dict], moment: datetime, current: str) -> str:
    """The case's status at ``moment``: a non-status event recorded later for an earlier day (an objection
    filed before the case was closed) shows the status the case had then."""
    status = None
    for event in events:
        if event["occurred_at"] <= moment:
            status = event["to_status"]
    return status or current


async def _record(actor: Actor, case_id: int, expected_version: int, action: str, decide) -> dict:
    """The frame every recording shares: authorize, lock by version, let ``decide(case, events)`` check the
    input and return (event fields, day, case changes), then append the event and audit it."""
    policy.require_role(actor, RECORDER_ROLES, "het vastleggen van bezwaren en herindicaties")
    async with write_transaction():
        facts = await case_facts(case_id)
        policy.authorize_case_change(actor, facts)
        assert facts is not None
        if not policy.is_coordinator_of(actor, facts.contract):
            raise NotPermitted("Alleen de coördinator van het contract legt bezwaren en herindicaties vast.")
        case = await Case.select().where(Case.id == case_id).first()
        if case["version"] != expected_version:
            raise Conflict(STALE_VERSION)
        events = await _history(case_id)
        fields, on, changes = decide(case, events)
        moment = _moment(on, today_nl())
        updated = await Case.update({Case.version: case["version"] + 1, **changes}).where(
            (Case.id == case_id) & (Case.version == expected_version)).returning(Case.id)
        if not updated:
            raise Conflict(STALE_VERSION)
        status = _status_at(events, moment, case["status"])
        event = CaseEvent(case=case_id, contract=case["contract"], occurred_at=moment, actor_user=actor.user_id,
                          actor_organisation=actor.organisation_id, action=action, from_status=status,
                          to_status=status, subcontractor=case["subcontractor"], **fields)
        await event.save()
        await audit.record(actor, "change", "case", case_id, contract_id=case["contract"],
                           old={"version": case["version"], "reassessment_due": _iso(case["reassessment_due"])},
                           new={"action": action, "outcome": fields.get("outcome"),
                                "date": on.isoformat(), "due_date": _iso(fields.get("due_date")),
                                "version": case["version"] + 1})
    return {"id": case_id, "case_number": case["case_number"], "version": case["version"] + 1,
            "event_id": event.id, "action": action, "outcome": fields.get("outcome"),
            "due_date": fields.get("due_date")}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


async def record_objection(actor: Actor, case_id: int, data: ObjectionFiled, today: date | None = None) -> dict:
    """An objection against the case's beschikking, on the day it was filed. The event keeps the last day of
    the objection term (``due_date``), so lists show at a glance whether it came in time."""
    today = today or today_nl()
    note = _note(data.note)

    def decide(case: dict, events: list[dict]):
        found = rules.objections(events)
        filing = rules.check_objection_filing(
            beschikking_issued=rules.beschikking_decision(case, events) is not None,
            decision_date=rules.beschikking_decision(case, events),
            pending=bool(found) and found[-1].outcome == rules.PENDING, filed_on=data.filed_on, today=today)
        return {"due_date": filing.deadline, "note": note}, filing.filed_on, {}

    return await _record(actor, case_id, data.expected_version, "objection_filed", decide)


async def record_objection_decision(actor: Actor, case_id: int, data: ObjectionDecided,
                                    today: date | None = None) -> dict:
    """The decision on the pending objection: a second event, so the filing is never changed afterwards."""
    today = today or today_nl()
    note = _note(data.note)

    def decide(case: dict, events: list[dict]):
        found = rules.objections(events)
        pending_since = found[-1].filed_on if found and found[-1].outcome == rules.PENDING else None
        outcome, decided_on = rules.check_objection_decision(
            pending_since=pending_since, outcome=data.outcome, decided_on=data.decided_on, today=today)
        return {"outcome": outcome.value, "note": note}, decided_on, {}

    return await _record(actor, case_id, data.expected_version, "objection_decided", decide)


async def record_reassessment(actor: Actor, case_id: int, data: ReassessmentTalk, today: date | None = None) -> dict:
    """A re-assessment talk and its outcome; the case's next re-assessment date follows the outcome."""
    today = today or today_nl()
    note = _note(data.note)

    def decide(case: dict, events: list[dict]):
        talk = rules.check_reassessment(
            acting_status=case["status_before_hold"] or case["status"], provision_type=case["provision_type"],
            outcome=data.outcome, talk_on=data.talk_on, next_due=data.next_due,
            not_before=local_date(case["status_since"]) if case["status"] == CaseStatus.IN_CARE.value
            else _care_started(events), today=today)
        return ({"outcome": talk.outcome.value, "due_date": talk.next_due, "note": note}, talk.talk_on,
                {Case.reassessment_due: talk.next_due})

    return await _record(actor, case_id, data.expected_version, "reassessment", decide)


def _care_started(events: list[dict]) -> date:
    starts = [event["on"] for event in events if event["action"] == "start_care"]
    return starts[-1] if starts else date.min


# --- figures ---------------------------------------------------------------------------------------------


def _bounds(filters: RightsFilter) -> tuple[str, list]:
    """SQL for the period filter on ``e.occurred_at`` (the days are local days) and its parameters."""
    sql, params = "", []
    if filters.since:
        sql += " AND e.occurred_at >= {}"
        params.append(datetime.combine(filters.since, time(0), tzinfo=AMSTERDAM).astimezone(UTC))
    if filters.until:
        sql += " AND e.occurred_at < {}"
        params.append(datetime.combine(filters.until + timedelta(days=1), time(0), tzinfo=AMSTERDAM).astimezone(UTC))
    return sql, params


def _with_subcontractor(subcontractor_id: int | None) -> tuple[str, list]:
    if subcontractor_id is None:
        return "", []
    return " AND COALESCE(e.subcontractor, c.subcontractor) = {}", [subcontractor_id]


async def reassessment_counts(contract_id: int, subcontractor_id: int | None = None,
                              filters: RightsFilter | None = None) -> dict[str | None, int]:
    """Talks held per outcome, in one grouped query. A talk recorded without an outcome (older data) counts as
    stopped when the provision ended after it, as the savings indicator always counted it; else unknown."""
    period, period_params = _bounds(filters or RightsFilter())
    sub, sub_params = _with_subcontractor(subcontractor_id)
    rows = await CaseEvent.raw(
        "SELECT COALESCE(e.outcome, CASE WHEN EXISTS (SELECT 1 FROM case_event s WHERE s.\"case\" = e.\"case\" "  # noqa: S608
        "AND s.action = 'end_care' AND s.occurred_at >= e.occurred_at) THEN 'gestopt' END) AS outcome, "
        "COUNT(*) AS n FROM case_event e JOIN portal_case c ON c.id = e.\"case\" "
        f"WHERE e.contract = {{}} AND e.action = 'reassessment'{sub}{period} GROUP BY 1",
        contract_id, *sub_params, *period_params)
    return {row["outcome"]: int(row["n"]) for row in rows}


async def reassessment_figures(contract_id: int, subcontractor_id: int | None = None,
                               today: date | None = None, filters: RightsFilter | None = None) -> dict:
    """The re-assessment figures of a contract (or one subcontractor's cases): talks held, per outcome, how
    many stopped and which percentage, and how many running provisions are overdue or due within 30 days.
    Three queries. For the dashboard and the savings indicators; the caller authorizes the contract.

    Returns ``{"talks", "by_outcome": [{"code", "label", "count"}], "stopped", "stopped_pct" (None without
    talks), "scaled_down", "overdue", "due_soon"}``.
    """
    today = today or today_nl()
    counts = await reassessment_counts(contract_id, subcontractor_id, filters)
    running = [Case.contract == contract_id, Case.status.is_in(list(RUNNING_STATUSES))]
    if subcontractor_id is not None:
        running.append(Case.subcontractor == subcontractor_id)
    overdue = await Case.count().where(*running, Case.reassessment_due < today)
    soon = await Case.count().where(*running, Case.reassessment_due >= today,
                                    Case.reassessment_due <= today + timedelta(days=rules.DUE_SOON_DAYS))
    return rules.reassessment_summary(counts, overdue=overdue, due_soon=soon)


async def _authorized_contract(actor: Actor, contract_id: int) -> tuple[ContractFacts, dict]:
    policy.require_role(actor, RIGHTS_ROLES, WHAT)
    return await contract_with_aggregates(actor, contract_id)


async def list_contracts(actor: Actor) -> list[dict]:
    policy.require_role(actor, RIGHTS_ROLES, WHAT)
    return await Contract.select(
        Contract.id, Contract.name, Contract.municipality.name.as_alias("municipality_name"),
        Contract.main_contractor.name.as_alias("main_contractor_name"),
    ).where(policy.contract_scope(actor)).order_by(Contract.name)


async def rights_overview(actor: Actor, contract_id: int, filters: RightsFilter | None = None,
                          today: date | None = None) -> dict:
    """The "Rechten" page of one contract (optionally one subcontractor and a period): turn-aways per path and
    reason with how they were recorded, the share without a beschikking, objection terms still running,
    objections and their outcomes, and the re-assessment figures. Eight queries whatever the volume."""
    filters = filters or RightsFilter()
    today = today or today_nl()
    if filters.since and filters.until and filters.until < filters.since:
        raise InvalidInput("De einddatum ligt vóór de begindatum.", field="tot")
    async with read_transaction():
        _, contract = await _authorized_contract(actor, contract_id)
        subcontractors = await Subcontract.select(
            Subcontract.subcontractor.as_alias("id"), Subcontract.subcontractor.name.as_alias("name"),
        ).where(Subcontract.contract == contract_id).distinct().order_by(Subcontract.subcontractor.name)
        names = {row["id"]: row["name"] for row in subcontractors}
        if filters.subcontractor_id is not None and filters.subcontractor_id not in names:
            raise InvalidInput("Kies een onderaannemer van dit contract.", field="onderaannemer")
        turn_aways = await _turn_away_rows(contract_id, filters)
        objection_rows = await _objection_rows(contract_id, filters.subcontractor_id)
        terms = await _running_terms(contract_id, filters.subcontractor_id, today)
        reassessment = await reassessment_figures(contract_id, filters.subcontractor_id, today, filters)
        overdue = await _overdue_reassessments(contract_id, filters.subcontractor_id, today)
    # objections filed in the period, each with its outcome whenever it came
    objection_list = [o for o in _objections(objection_rows) if _within(o["filed_on"], filters)]
    filed_cases = {row["case"] for row in objection_rows if row["action"] == "objection_filed"}
    for term in terms:
        term["objection_filed"] = term["case"] in filed_cases
    return {
        "contract": {"id": contract["id"], "name": contract["name"]},
        "today": today,
        "filters": filters,
        "subcontractors": subcontractors,
        "selected_subcontractor": names.get(filters.subcontractor_id) if filters.subcontractor_id else None,
        **_turn_away_figures(turn_aways, filters.subcontractor_id, names),
        "terms": terms,
        "objections": _objection_figures(objection_list),
        "reassessment": reassessment,
        "overdue_reassessments": overdue,
        "view": "pseudonymised" if actor.role is Role.CONTRACT_MANAGER else "full",
    }


def _within(day: date, filters: RightsFilter) -> bool:
    return (filters.since is None or day >= filters.since) and (filters.until is None or day <= filters.until)


async def _turn_away_rows(contract_id: int, filters: RightsFilter) -> list[dict]:
    """Turn-away events grouped by path, reason, how they were recorded and the subcontractor involved (the
    subcontractor filter is applied to these grouped rows, so the per-subcontractor table needs no query)."""
    period, params = _bounds(filters)
    actions = ", ".join(f"'{action}'" for action in rules.TURN_AWAY_ACTIONS)  # constants of our own
    return await CaseEvent.raw(
        "SELECT e.action, e.reason_code, e.beschikking_issued, e.objection_info_given, "  # noqa: S608
        "CASE WHEN e.referred_to IS NULL THEN 'unknown' WHEN e.referred_to = 'nergens' THEN 'nowhere' "
        "ELSE 'somewhere' END AS referral, e.subcontractor, COUNT(*) AS n FROM case_event e "
        f"WHERE e.contract = {{}} AND e.action IN ({actions}){period} GROUP BY 1, 2, 3, 4, 5, 6",
        contract_id, *params)


def _yes(value) -> bool | None:
    return None if value is None else bool(value)


def _turn_away_figures(rows: list[dict], subcontractor_id: int | None, names: dict[int, str]) -> dict:
    paths: dict[str, dict] = {}
    per_sub: dict[int | None, dict] = defaultdict(lambda: {"total": 0, "without_beschikking": 0, "not_informed": 0})
    for row in rows:
        n = int(row["n"])
        beschikking, informed = _yes(row["beschikking_issued"]), _yes(row["objection_info_given"])
        sub = per_sub[row["subcontractor"]]
        sub["total"] += n
        sub["without_beschikking"] += n if not beschikking else 0
        sub["not_informed"] += n if not informed else 0
        if subcontractor_id is not None and row["subcontractor"] != subcontractor_id:
            continue
        path = rules.TURN_AWAY_PATHS[rules.CaseAction(row["action"])]
        entry = paths.setdefault(path.action.value, {"code": path.action.value, "label": path.label,
                                                     "records": [rules.RECORD_LABELS[r] for r in path.records],
                                                     "reasons": {}, "total": 0})
        label = _reason_label(row["reason_code"]) if "reason_code" in path.records or row["reason_code"] else \
            "Geen reden gevraagd bij deze route"
        reason = entry["reasons"].setdefault(row["reason_code"], {
            "code": row["reason_code"], "label": label, "total": 0,
            "with_beschikking": 0, "without_beschikking": 0, "informed": 0, "not_informed": 0, "referred": 0,
            "nowhere": 0, "incomplete": 0})
        recorded = {"reason_code": row["reason_code"], "beschikking_issued": beschikking,
                    "objection_info_given": informed,
                    "referred_to": None if row["referral"] == "unknown" else row["referral"]}
        entry["total"] += n
        reason["total"] += n
        reason["with_beschikking" if beschikking else "without_beschikking"] += n
        reason["informed" if informed else "not_informed"] += n
        reason["referred"] += n if row["referral"] == "somewhere" else 0
        reason["nowhere"] += n if row["referral"] == "nowhere" else 0
        reason["incomplete"] += n if rules.missing_records(row["action"], recorded) else 0
    ordered = []
    for action in rules.TURN_AWAY_PATHS:
        entry = paths.get(action.value)
        if entry is None:
            continue
        reasons = sorted(entry["reasons"].values(), key=lambda r: (-r["total"], r["code"] or ""))
        totals = {key: sum(r[key] for r in reasons) for key in
                  ("without_beschikking", "not_informed", "referred", "nowhere", "incomplete")}
        ordered.append({**entry, "reasons": reasons, **totals,
                        "without_share": rules.share(totals["without_beschikking"], entry["total"])})
    total = sum(entry["total"] for entry in ordered)
    without = sum(entry["without_beschikking"] for entry in ordered)
    return {
        "paths": ordered,
        "turn_aways": {"total": total, "without_beschikking": without,
                       "without_share": rules.share(without, total),
                       "not_informed": sum(entry["not_informed"] for entry in ordered),
                       "incomplete": sum(entry["incomplete"] for entry in ordered)},
        "per_subcontractor": sorted(
            ({"id": sid, "name": names.get(sid, "Onbekende onderaannemer") if sid else
              "Hoofdaannemer (nog geen onderaannemer)", **figures,
              "without_share": rules.share(figures["without_beschikking"], figures["total"])}
             for sid, figures in per_sub.items()),
            key=lambda row: (row["id"] is not None, row["name"].casefold())),
    }


def _reason_label(code: str | None) -> str:
    if not code:
        return "Geen reden vastgelegd"
    try:
        return RejectionReason(code).label
    except ValueError:
        return code


async def _objection_rows(contract_id: int, subcontractor_id: int | None) -> list[dict]:
    """Every objection event of the contract (filed and decided) in time order: few, next to the turn-aways."""
    query = CaseEvent.select(
        CaseEvent.case, CaseEvent.case.case_number.as_alias("case_number"), CaseEvent.action,
        CaseEvent.occurred_at, CaseEvent.outcome, CaseEvent.due_date,
    ).where(CaseEvent.contract == contract_id,
            CaseEvent.action.is_in(["objection_filed", "objection_decided"]))
    if subcontractor_id is not None:
        query = query.where((CaseEvent.subcontractor == subcontractor_id)
                            | (CaseEvent.subcontractor.is_null()
                               & (CaseEvent.case.subcontractor == subcontractor_id)))
    rows = await query.order_by(CaseEvent.case).order_by(CaseEvent.occurred_at).order_by(CaseEvent.id)
    for row in rows:
        row["on"] = local_date(row["occurred_at"])
    return rows


def _objections(rows: list[dict]) -> list[dict]:
    per_case: dict[int, list[dict]] = defaultdict(list)
    numbers = {}
    for row in rows:
        per_case[row["case"]].append(row)
        numbers[row["case"]] = row["case_number"]
    found = []
    for case_id, events in per_case.items():
        for objection in rules.objections(events):
            found.append({"case": case_id, "case_number": numbers[case_id], "filed_on": objection.filed_on,
                          "deadline": objection.deadline, "on_time": objection.on_time,
                          "outcome": objection.outcome, "outcome_label": objection.outcome_label,
                          "decided_on": objection.decided_on})
    return sorted(found, key=lambda o: (o["outcome"] != rules.PENDING, o["filed_on"]), reverse=False)


def _objection_figures(found: list[dict]) -> dict:
    by_outcome = {code: 0 for code, _ in rules.ObjectionOutcome.choices()} | {rules.PENDING: 0}
    for objection in found:
        by_outcome[objection["outcome"]] += 1
    labels = {outcome.value: outcome.label for outcome in rules.ObjectionOutcome} | {
        rules.PENDING: rules.PENDING_LABEL}
    return {
        "total": len(found),
        "late": sum(1 for o in found if o["on_time"] is False),
        "by_outcome": [{"code": code, "label": labels[code], "count": n} for code, n in by_outcome.items()],
        "pending": [o for o in found if o["outcome"] == rules.PENDING][:LIST_LIMIT],
        "decided": sorted((o for o in found if o["outcome"] != rules.PENDING),
                          key=lambda o: o["decided_on"], reverse=True)[:LIST_LIMIT],
    }


async def _running_terms(contract_id: int, subcontractor_id: int | None, today: date) -> list[dict]:
    """Rejections with a beschikking whose objection term (six weeks, Atw) has not yet run out, shortest first.
    The query takes the last seven weeks of rejections (index contract, action, occurred_at); the exact term
    is computed per row from the calendar."""
    since = datetime.combine(today - timedelta(weeks=rules.OBJECTION_TERM_WEEKS + 1), time(0), tzinfo=AMSTERDAM)
    query = CaseEvent.select(
        CaseEvent.case, CaseEvent.case.case_number.as_alias("case_number"), CaseEvent.occurred_at,
        CaseEvent.reason_code, CaseEvent.objection_info_given,
    ).where(CaseEvent.contract == contract_id, CaseEvent.action == "reject",
            CaseEvent.beschikking_issued == True, CaseEvent.occurred_at >= since.astimezone(UTC))  # noqa: E712
    if subcontractor_id is not None:
        query = query.where(CaseEvent.subcontractor == subcontractor_id)
    running = []
    for row in await query:
        term = rules.objection_term(local_date(row["occurred_at"]), True, today)
        if term is not None and term.running:
            running.append({"case": row["case"], "case_number": row["case_number"], "decided_on": term.decided_on,
                            "deadline": term.deadline, "days_left": term.days_left,
                            "reason_code": row["reason_code"], "reason_label": _reason_label(row["reason_code"]),
                            "informed": _yes(row["objection_info_given"])})
    return sorted(running, key=lambda t: (t["days_left"], t["case"]))[:LIST_LIMIT]


async def _overdue_reassessments(contract_id: int, subcontractor_id: int | None, today: date) -> list[dict]:
    query = Case.select(
        Case.id, Case.case_number, Case.reassessment_due, Case.product_category,
        Case.subcontractor.name.as_alias("subcontractor_name"),
    ).where(Case.contract == contract_id, Case.status.is_in(list(RUNNING_STATUSES)),
            Case.reassessment_due < today)
    if subcontractor_id is not None:
        query = query.where(Case.subcontractor == subcontractor_id)
    rows = await query.order_by(Case.reassessment_due).order_by(Case.id).limit(LIST_LIMIT)
    for row in rows:
        row["days_overdue"] = (today - row["reassessment_due"]).days
    return rows


__all__ = [
    "RIGHTS_ROLES",
    "list_contracts",
    "reassessment_counts",
    "reassessment_figures",
    "record_objection",
    "record_objection_decision",
    "record_reassessment",
    "rights_overview",
]
