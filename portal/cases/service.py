"""Case use cases. Each takes the actor explicitly, authorizes through ``portal.accounts.policy``, runs in
one transaction and audits what it reads or changes.

Lists are scoped in SQL (``policy.case_scope``): the other organisations' cases never leave the database.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from piccolo.query.functions.aggregate import Count

from portal.accounts import audit, policy
from portal.accounts.policy import CaseFacts, CaseView, ContractFacts
from portal.accounts.rules import Actor, Role, default_purpose
from portal.cases.rules import (
    NOWHERE,
    CaseAction,
    CaseState,
    CaseStatus,
    Transition,
    decide_transition,
)
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, Subcontract
from portal.db import read_transaction, write_transaction
from portal.lib.codelists import Domain, ProductCategory, ProvisionType, Urgency
from portal.lib.errors import Conflict, DomainError, InvalidInput, NotFound
from portal.lib.formatting import AMSTERDAM, format_date
from portal.lib.pseudonym import pseudonymise, validate_bsn
from portal.lib.tables_base import utc_now
from portal.settings import get_settings
from portal.signals import service as signals_service

STALE_VERSION = ("Deze casus is intussen gewijzigd door iemand anders. Laad de casus opnieuw en kijk of uw "
                 "handeling nog nodig is.")
# Decisions that end the assessment: the first one sets the decision date (Wmo art. 2.3.5 clock).
DECISION_ACTIONS = frozenset({CaseAction.REQUEST_ALLOCATION, CaseAction.PLACE_ON_WAITING_LIST,
                              CaseAction.REJECT, CaseAction.REFER_COLLECTIVE})

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


# --- changes -----------------------------------------------------------------------------------------


def today_nl() -> date:
    return datetime.now(AMSTERDAM).date()


async def _contract_facts(contract_id: int) -> tuple[ContractFacts, dict] | None:
    row = await Contract.select().where(Contract.id == contract_id).first()
    if row is None:
        return None
    return ContractFacts(row["id"], row["municipality"], row["main_contractor"]), row


def _moment(on: date | None, not_before: datetime | None = None) -> datetime:
    """When an event happened: now, or a given past day (API and import record work done elsewhere)."""
    if on is None:
        return utc_now()
    if on > today_nl():
        raise InvalidInput(f"De datum {format_date(on)} ligt in de toekomst.", field="datum")
    moment = datetime.combine(on, time(12, 0), tzinfo=AMSTERDAM).astimezone(UTC)
    if not_before is not None and moment < not_before:
        if on < not_before.astimezone(AMSTERDAM).date():
            raise InvalidInput(
                f"De datum {format_date(on)} ligt vóór de vorige stap van deze casus "
                f"({format_date(not_before)}).", field="datum")
        moment = not_before  # same day as the previous step: keep the order of the timeline
    return moment


async def register_case(actor: Actor, data: NewCase) -> dict:
    """A new melding: coordinator of the contract only. Returns the case's id, number and version."""
    policy.require_role(actor, {Role.COORDINATOR}, "het registreren van meldingen")
    found = await _contract_facts(data.contract_id)
    if found is None or not policy.is_coordinator_of(actor, found[0]):
        raise NotFound(policy.NOT_FOUND_CONTRACT)
    facts, contract = found
    domain = Domain.parse(data.domain, field="domain")
    if domain is Domain.YOUTH and not contract["covers_jeugd"] or domain is Domain.WMO and not contract["covers_wmo"]:
        raise InvalidInput(f"Het contract '{contract['name']}' omvat geen {domain.label}.", field="domain")
    category = ProductCategory.parse(data.product_category, field="product_category")
    urgency = Urgency.parse(data.urgency, field="urgency")
    provision = ProvisionType.parse(data.provision_type, field="provision_type")
    melding = data.melding_date or today_nl()
    if not contract["start_date"] <= melding <= contract["end_date"]:
        raise InvalidInput(
            f"De meldingsdatum valt buiten de looptijd van het contract ({format_date(contract['start_date'])} "
            f"tot en met {format_date(contract['end_date'])}).", field="melding_date")
    if melding > today_nl():
        raise InvalidInput("De meldingsdatum ligt in de toekomst.", field="melding_date")
    if data.aanvraag_date and data.aanvraag_date < melding:
        raise InvalidInput("De aanvraag kan niet vóór de melding liggen.", field="aanvraag_date")
    neighbourhood = (data.neighbourhood or "").strip()
    if not neighbourhood or len(neighbourhood) > 100:
        raise InvalidInput("Vul de wijk in (maximaal 100 tekens).", field="neighbourhood")
    pseudonym = pseudonymise(validate_bsn(data.bsn), get_settings().pseudonym_key_bytes)
    note = (data.note or "").strip() or None
    now = _moment(data.melding_date) if data.melding_date and data.melding_date < today_nl() else utc_now()

    async with write_transaction():
        case = Case(contract=facts.contract_id, case_number=f"tmp-{uuid.uuid4().hex[:24]}", pseudonym=pseudonym,
                    neighbourhood=neighbourhood, domain=domain.value, product_category=category.value,
                    provision_type=provision.value, urgency=urgency.value, status=CaseStatus.REGISTERED.value,
                    status_since=now, version=1, melding_date=melding, aanvraag_date=data.aanvraag_date)
        await case.save()
        # The number follows the row id: unique without a counter that concurrent registrations fight over.
        case.case_number = f"{contract['case_prefix']}-{melding.year}-{case.id:06d}"
        await Case.update({Case.case_number: case.case_number}).where(Case.id == case.id)
        await CaseEvent(case=case.id, contract=facts.contract_id, occurred_at=now, actor_user=actor.user_id,
                        actor_organisation=actor.organisation_id, action="register", from_status=None,
                        to_status=CaseStatus.REGISTERED.value, note=note).save()
        await audit.record(actor, "create", "case", case.id, contract_id=facts.contract_id,
                           new={"case_number": case.case_number, "domain": domain.value,
                                "product_category": category.value, "neighbourhood": neighbourhood,
                                "urgency": urgency.value, "melding_date": melding.isoformat()})
        await signals_service.on_case_registered(actor, case.id)
    return {"id": case.id, "case_number": case.case_number, "version": 1, "status": CaseStatus.REGISTERED.value}


async def act_on_case(actor: Actor, case_id: int, command: CaseCommand) -> dict:
    """One lifecycle step on a case, with optimistic locking: a stale version is a Conflict, never a lost
    update. The case row, the event and the audit entry commit together or not at all."""
    async with write_transaction():
        facts = await case_facts(case_id)
        policy.authorize_case_change(actor, facts)
        assert facts is not None
        case = await Case.select().where(Case.id == case_id).first()
        if case["version"] != command.expected_version:
            raise Conflict(STALE_VERSION)
        state = CaseState(case["status"], case["subcontractor"], case["status_before_hold"])
        transition = decide_transition(state, command.action, actor.role, actor.organisation_id, command.payload)
        if transition.action is CaseAction.REQUEST_ALLOCATION:
            await _check_subcontractor_delivers(case, transition.subcontractor_id)
        moment = _moment(command.occurred_on, not_before=case["status_since"])
        changes = _case_changes(case, transition, command, moment)
        updated = await Case.update(changes).where(
            (Case.id == case_id) & (Case.version == command.expected_version)
        ).returning(Case.id)
        if not updated:  # someone else committed between our read and our write
            raise Conflict(STALE_VERSION)
        event = CaseEvent(case=case_id, contract=case["contract"], occurred_at=moment, actor_user=actor.user_id,
                          actor_organisation=actor.organisation_id, **_event_fields(transition, case))
        await event.save()
        await signals_service.on_case_event(actor, case, transition, event.id)
        await audit.record(actor, "change", "case", case_id, contract_id=case["contract"],
                           old={"status": case["status"], "subcontractor": case["subcontractor"],
                                "version": case["version"]},
                           new={"action": transition.action.value, "status": transition.to_status.value,
                                "subcontractor": transition.subcontractor_id, "version": case["version"] + 1})
    return {"id": case_id, "case_number": case["case_number"], "status": transition.to_status.value,
            "status_label": transition.to_status.label, "version": case["version"] + 1,
            "subcontractor": transition.subcontractor_id}


async def _check_subcontractor_delivers(case: dict, subcontractor_id: int | None) -> None:
    """An allocation goes only to a subcontractor of this contract that delivers the case's category."""
    subcontract = await Subcontract.select(Subcontract.product_categories).where(
        (Subcontract.contract == case["contract"]) & (Subcontract.subcontractor == subcontractor_id)
    ).first()
    if subcontract is None:
        raise InvalidInput("Deze onderaannemer werkt niet binnen dit contract.", field="subcontractor_id")
    categories = {code.strip() for code in (subcontract["product_categories"] or "").split(",") if code.strip()}
    if case["product_category"] not in categories:
        label = ProductCategory(case["product_category"]).label
        raise InvalidInput(f"Deze onderaannemer levert geen '{label}' binnen dit contract.", field="subcontractor_id")


def _case_changes(case: dict, transition: Transition, command: CaseCommand, moment: datetime) -> dict:
    changes = {
        Case.status: transition.to_status.value,
        Case.status_since: moment,
        Case.subcontractor: transition.subcontractor_id,
        Case.status_before_hold: transition.status_before_hold and transition.status_before_hold.value,
        Case.version: case["version"] + 1,
    }
    if command.aanvraag_date is not None:
        if command.aanvraag_date < case["melding_date"]:
            raise InvalidInput("De aanvraag kan niet vóór de melding liggen.", field="aanvraag_date")
        changes[Case.aanvraag_date] = command.aanvraag_date
    if transition.action in DECISION_ACTIONS and case["decision_date"] is None:
        changes[Case.decision_date] = moment.astimezone(AMSTERDAM).date()
    if transition.action is CaseAction.REJECT:
        changes[Case.beschikking_issued] = transition.beschikking_issued
    if transition.action is CaseAction.REQUEST_ALLOCATION and case["provision_type"] != "individual":
        changes[Case.provision_type] = "individual"
    if transition.action is CaseAction.REFER_COLLECTIVE:
        changes[Case.provision_type] = "collective"
    if transition.end_reason is not None:
        changes[Case.end_reason] = transition.end_reason.value
    return changes


def _event_fields(transition: Transition, case: dict) -> dict:
    referred = transition.referred_to
    # the organisation the step concerns: the one asked, or the one that answered
    subcontractor = transition.subcontractor_id if transition.subcontractor_id is not None else case["subcontractor"]
    return {
        "action": transition.action.value,
        "from_status": transition.from_status.value,
        "to_status": transition.to_status.value,
        "subcontractor": subcontractor,
        "reason_code": transition.reason_code and transition.reason_code.value,
        "end_reason": transition.end_reason and transition.end_reason.value,
        "beschikking_issued": transition.beschikking_issued,
        "objection_info_given": transition.objection_info_given,
        "referred_to": "nergens" if referred is NOWHERE else referred,
        "note": transition.note,
    }
