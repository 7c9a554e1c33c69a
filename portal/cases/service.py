"""Case use cases. Each takes the actor explicitly, authorizes through ``portal.accounts.policy``, runs in
one transaction and audits what it reads or changes.

Lists are scoped in SQL (``policy.case_scope``): the other organisations' cases never leave the database.
"""

from dataclasses import dataclass

from piccolo.query.functions.aggregate import Count

from portal.accounts import audit, policy
from portal.accounts.policy import CaseFacts, CaseView, ContractFacts
from portal.accounts.rules import Actor, Role, default_purpose
from portal.cases.rules import CaseStatus
from portal.cases.tables import Case, CaseEvent
from portal.db import read_transaction, write_transaction
from portal.lib.errors import DomainError, InvalidInput

PAGE_SIZE = 50

LIST_COLUMNS = (
    Case.id, Case.case_number, Case.contract, Case.contract.name.as_alias("contract_name"), Case.neighbourhood,
    Case.domain, Case.product_category, Case.provision_type, Case.status, Case.status_since,
    Case.subcontractor, Case.subcontractor.name.as_alias("subcontractor_name"), Case.melding_date,
)


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    search: str | None = None  # a (part of a) case number
    after_id: int | None = None  # keyset page: cases with a larger id


def _status_label(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return CaseStatus(code).label
    except ValueError:
        return code


async def case_facts(case_id: int) -> CaseFacts | None:
    """Ownership facts of a case for the policy: its contract's parties and who it was ever allocated to."""
    row = await Case.select(
        Case.id, Case.subcontractor, Case.contract, Case.contract.municipality.as_alias("municipality"),
        Case.contract.main_contractor.as_alias("main_contractor"),
    ).where(Case.id == case_id).first()
    if row is None:
        return None
    allocated = await CaseEvent.select(CaseEvent.subcontractor).where(
        CaseEvent.case == case_id, CaseEvent.subcontractor.is_not_null()
    ).distinct()
    ever = frozenset(event["subcontractor"] for event in allocated)
    if row["subcontractor"] is not None:
        ever |= {row["subcontractor"]}
    contract = ContractFacts(row["contract"], row["municipality"], row["main_contractor"])
    return CaseFacts(contract=contract, current_subcontractor_id=row["subcontractor"], allocated_to=ever)


async def list_cases(actor: Actor, filters: CaseFilter) -> dict:
    """One keyset page of the cases the actor may see, oldest id first. A search is audited."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "casussen")
    clauses = [policy.case_scope(actor)]
    if filters.status:
        clauses.append(Case.status == CaseStatus.parse(filters.status, field="status").value)
    if filters.search:
        if len(filters.search) > 32:
            raise InvalidInput("Zoek op (een deel van) een casusnummer.", field="zoek")
        clauses.append(Case.case_number.ilike(f"%{filters.search}%"))
    page = [Case.id > filters.after_id] if filters.after_id is not None else []
    transaction = write_transaction() if filters.search else read_transaction()
    async with transaction:
        rows = await Case.select(*LIST_COLUMNS).where(*clauses, *page).order_by(Case.id).limit(PAGE_SIZE + 1)
        total = await Case.count().where(*clauses)
        if filters.search:
            await audit.record(actor, "search", "case", None, purpose=default_purpose(actor.role),
                               new={"zoek": filters.search, "status": filters.status, "results": len(rows)})
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["status_label"] = _status_label(row["status"])
    return {
        "cases": rows, "total": total,
        "next_after_id": rows[-1]["id"] if has_more and rows else None,
        "view": str(CaseView.PSEUDONYMISED if actor.role is Role.CONTRACT_MANAGER else CaseView.FULL),
    }


async def get_case(actor: Actor, case_id: int, purpose: str | None = None) -> dict:
    """The case and its timeline, as far as the actor may see it. Every read is audited, a refused one too."""
    denied: DomainError | None = None
    async with write_transaction():
        facts = await case_facts(case_id)
        try:
            view = policy.authorize_case_read(actor, facts)
        except DomainError as exc:
            denied = exc
            await audit.record(actor, "read", "case", case_id, purpose=purpose or default_purpose(actor.role),
                               result="denied",
                               contract_id=facts.contract.contract_id if facts else None)
        else:
            assert facts is not None
            case = await Case.select(
                *LIST_COLUMNS, Case.pseudonym, Case.urgency, Case.aanvraag_date, Case.decision_date,
                Case.beschikking_issued, Case.end_reason, Case.version,
            ).where(Case.id == case_id).first()
            events = await CaseEvent.select(
                CaseEvent.id, CaseEvent.occurred_at, CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status,
                CaseEvent.actor_user, CaseEvent.actor_user.display_name.as_alias("actor_name"),
                CaseEvent.actor_organisation.name.as_alias("actor_organisation_name"),
                CaseEvent.subcontractor.name.as_alias("subcontractor_name"), CaseEvent.reason_code,
                CaseEvent.end_reason, CaseEvent.beschikking_issued, CaseEvent.objection_info_given,
                CaseEvent.referred_to, CaseEvent.note,
            ).where(CaseEvent.case == case_id).order_by(CaseEvent.occurred_at).order_by(CaseEvent.id)
            await audit.record(actor, "read", "case", case_id, contract_id=facts.contract.contract_id,
                               purpose=purpose or default_purpose(actor.role))
    if denied is not None:
        raise denied
    case["status_label"] = _status_label(case["status"])
    for event in events:
        event["from_status_label"] = _status_label(event["from_status"])
        event["to_status_label"] = _status_label(event["to_status"])
    return {
        "case": policy.redact_case(view, case),
        "events": [policy.redact_event(view, event) for event in events],
        "view": str(view),
        "can_change": policy.can_change_case(actor, facts),
    }


async def count_open_cases_by_status(actor: Actor) -> list[dict]:
    """For Mijn werk: the actor's visible cases per status (scoped in SQL, grouped in SQL)."""
    if actor.role not in policy.CASE_READER_ROLES:
        return []
    rows = await Case.select(Case.status, Count(alias="count")).where(
        policy.case_scope(actor)
    ).group_by(Case.status)
    for row in rows:
        row["status_label"] = _status_label(row["status"])
    order = {status.value: index for index, status in enumerate(CaseStatus)}
    return sorted(rows, key=lambda row: order.get(row["status"], 99))
