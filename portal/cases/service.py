"""Case use cases. Each takes the actor explicitly, authorizes through ``portal.accounts.policy``, runs in
one transaction and audits what it reads or changes.

Lists are scoped in SQL (``policy.case_scope``): the other organisations' cases never leave the database.
"""

import operator
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache, reduce
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.query import OrderByRaw
from piccolo.query.functions.aggregate import Count

from portal.accounts import audit, policy
from portal.accounts.policy import CaseFacts, CaseView, ContractFacts
from portal.accounts.rules import Actor, Role, default_purpose
from portal.cases.clocks import CaseDates, StatusChange, compute_clocks
from portal.cases.rules import (
    NOWHERE,
    CaseAction,
    CaseState,
    CaseStatus,
    ContractTerms,
    Transition,
    allocation_refusal,
    allowed_actions,
    ball_in_court,
    check_free_text,
    check_melding,
    decide_transition,
    delivered_categories,
)
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, StatusNorm, Subcontract
from portal.db import read_transaction, write_transaction
from portal.lib.calendar_nl import add_working_days, working_days_between
from portal.lib.codelists import CodeList, Domain, EndReason, ProductCategory, ProvisionType, RejectionReason, Urgency
from portal.lib.compiled_query import CompiledQuery, Param, compiled
from portal.lib.errors import Conflict, DomainError, InvalidInput, NotFound
from portal.lib.formatting import AMSTERDAM, format_date, today_nl
from portal.lib.keyset import Cursor, decode_cursor, encode_cursor
from portal.lib.pseudonym import pseudonymise, refuse_bsn_in_text, validate_bsn
from portal.lib.tables_base import utc_now
from portal.rights import rules as rights_rules
from portal.settings import get_settings
from portal.signals import service as signals_service
from portal.signals.rules import DEFAULT_STATUS_NORMS

STALE_VERSION = ("Deze casus is intussen gewijzigd door iemand anders. Laad de casus opnieuw en kijk of uw "
                 "handeling nog nodig is.")
# Decisions that end the assessment: the first one sets the decision date (Wmo art. 2.3.5 clock).
DECISION_ACTIONS = frozenset({CaseAction.REQUEST_ALLOCATION, CaseAction.PLACE_ON_WAITING_LIST,
                              CaseAction.REJECT, CaseAction.REFER_COLLECTIVE})

PAGE_SIZE = 50
# Events that are not a lifecycle action: the melding itself and the talks and notes recorded along the way.
NON_STATUS_EVENT_LABELS = {"register": "Melding geregistreerd", "reassessment": "Herindicatiegesprek",
                           "progress_note": "Voortgangsnotitie", "objection_filed": "Bezwaar ingediend",
                           "objection_decided": "Beslissing op bezwaar"}

LIST_COLUMNS = (
    Case.id, Case.case_number, Case.contract, Case.contract.name.as_alias("contract_name"), Case.neighbourhood,
    Case.domain, Case.product_category, Case.provision_type, Case.status, Case.status_since,
    Case.subcontractor, Case.subcontractor.name.as_alias("subcontractor_name"), Case.melding_date,
)


class CaseOrder(StrEnum):
    RECENT = "recent"  # (status_since, id) descending: what moved last first
    NUMBER = "nummer"  # id ascending: the order of registration


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    search: str | None = None  # a (part of a) case number
    subcontractor_id: int | None = None
    category: str | None = None  # WMO020 product category
    neighbourhood: str | None = None
    overdue: bool = False  # longer in the status than the contract's norm for it
    order: CaseOrder = CaseOrder.RECENT
    contract_id: int | None = None  # one contract of the actor's (another contract: "not found")
    cursor: str | None = None  # keyset page: the ``portal.lib.keyset`` cursor of the last row seen


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


async def list_cases(actor: Actor, filters: CaseFilter, today: date | None = None) -> dict:
    """One keyset page of the cases the actor may see. Page 1.000 costs what page 1 costs: the query seeks
    past the cursor (no OFFSET), and the total is counted on the first page only. A search is audited."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "casussen")
    today = today or today_nl()
    order = CaseOrder(filters.order)
    cursor = decode_cursor(filters.cursor)
    searching = bool(filters.search)
    transaction = write_transaction() if searching else read_transaction()
    async with transaction:
        values, overdue = await _list_query_inputs(actor, filters, today)
        page = {**values, **_cursor_values(order, cursor)}
        rows = await _compiled_page(actor, page, order, PAGE_SIZE + 1, overdue).run(page)
        total = await _compiled_count(actor, values, overdue).run(values) if cursor is None else None
        if searching:
            await audit.record(actor, "search", "case", None, purpose=default_purpose(actor.role),
                               new={"zoek": filters.search, "status": filters.status, "results": len(rows)})
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        _decorate(row)
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(last["status_since"] if order is CaseOrder.RECENT else last["id"], last["id"])
    return {
        "cases": rows, "total": total, "next": next_cursor,
        "view": str(CaseView.PSEUDONYMISED if actor.role is Role.CONTRACT_MANAGER else CaseView.FULL),
    }


async def count_cases(actor: Actor, filters: CaseFilter, today: date | None = None) -> int:
    """How many cases the whole filtered list holds (every page): the export decides direct or by job."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "casussen")
    async with read_transaction():
        values, overdue = await _list_query_inputs(actor, filters, today or today_nl())
        return await _compiled_count(actor, values, overdue).run(values)


async def case_export_batches(actor: Actor, filters: CaseFilter, batch_size: int = 1000,
                              today: date | None = None) -> AsyncIterator[list[dict]]:
    """Every case of the filtered list, from the first row on (the cursor is ignored), in the list's order
    and in batches: the same scope and filters as ``list_cases``, so an export holds exactly what the pages
    show. A contract manager's rows are pseudonymised like the page (``policy.redact_case``)."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "casussen")
    today = today or today_nl()
    order = CaseOrder(filters.order)
    view = CaseView.PSEUDONYMISED if actor.role is Role.CONTRACT_MANAGER else CaseView.FULL
    seek: dict[str, Any] = {}  # the keyset values of the last row of the previous batch
    while True:
        async with read_transaction():
            values, overdue = await _list_query_inputs(actor, filters, today)
            batch = {**values, **seek}
            rows = await _compiled_page(actor, batch, order, batch_size, overdue).run(batch)
        if not rows:
            return
        last = rows[-1]
        seek = {"after_id": last["id"]} if order is CaseOrder.NUMBER else {
            "after_since": last["status_since"], "after_id": last["id"]}
        yield [policy.redact_case(view, _decorate(row)) for row in rows]
        if len(rows) < batch_size:
            return


# --- the list's query: its values, checked once per call, apart from its shape, compiled once ---------------


def _cursor_values(order: CaseOrder, cursor: Cursor | None) -> dict[str, Any]:
    """The keyset cursor's values, checked: what ``_after`` seeks past."""
    if cursor is None:
        return {}
    if order is CaseOrder.NUMBER:
        return {"after_id": cursor.last_id}
    try:
        since = datetime.fromisoformat(str(cursor.sort_value))
    except ValueError as exc:
        raise InvalidInput("Deze paginalink is ongeldig; begin opnieuw bij de eerste pagina.", field="na") from exc
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return {"after_since": since, "after_id": cursor.last_id}


def _after(order: CaseOrder, values: Mapping[str, Any]) -> list:
    """The keyset condition: the rows after the cursor in the list's order."""
    if "after_id" not in values:
        return []
    if order is CaseOrder.NUMBER:
        return [Case.id > values["after_id"]]
    # a row comparison, so both databases seek in the (status_since, id) index to the cursor instead of
    # reading the index from the top and filtering (what an OR of the two columns makes them do)
    return [WhereRaw('("portal_case"."status_since", "portal_case"."id") < ({}, {})', values["after_since"],
                     values["after_id"])]


async def _list_values(actor: Actor, filters: CaseFilter) -> dict[str, Any]:
    """The list's filter values by name, checked (a contract must be one of the actor's): what ``_list_where``
    makes its clauses of. The overdue filter is not among them (``_overdue_clause``)."""
    values: dict[str, Any] = {"organisation_id": actor.organisation_id}
    if filters.contract_id is not None:
        if not await Contract.exists().where(Contract.id == filters.contract_id, policy.contract_scope(actor)):
            raise NotFound(policy.NOT_FOUND_CONTRACT)
        values["contract_id"] = filters.contract_id
    if filters.status:
        values["status"] = CaseStatus.parse(filters.status, field="status").value
    if filters.search:
        if len(filters.search) > 32:
            raise InvalidInput("Zoek op (een deel van) een casusnummer.", field="zoek")
        values["search"] = f"%{filters.search}%"
    if filters.subcontractor_id is not None:
        values["subcontractor_id"] = filters.subcontractor_id
    if filters.category:
        values["category"] = ProductCategory.parse(filters.category, field="categorie").value
    if filters.neighbourhood:
        if len(filters.neighbourhood) > 100:
            raise InvalidInput("Een wijknaam heeft hooguit 100 tekens.", field="wijk")
        values["neighbourhood"] = filters.neighbourhood
    return values


async def _list_query_inputs(actor: Actor, filters: CaseFilter, today: date) -> tuple[dict[str, Any], Any]:
    """What the list's queries run with: the checked filter values, and the overdue clause when that filter is
    set (None otherwise)."""
    values = await _list_values(actor, filters)
    return values, await _overdue_clause(actor, today) if filters.overdue else None


def _list_where(actor: Actor, values: Mapping[str, Any]) -> list:
    """The list's where clauses: the actor's scope and one clause per filter value. A value is the value itself
    (a plain Piccolo query) or a ``Param`` (the compiled one); ``actor`` is then ``_scope_actor``."""
    clauses = [policy.case_scope(actor)]
    if "contract_id" in values:
        clauses.append(Case.contract == values["contract_id"])
    if "status" in values:
        clauses.append(Case.status == values["status"])
    if "search" in values:
        clauses.append(Case.case_number.ilike(values["search"]))
    if "subcontractor_id" in values:
        clauses.append(Case.subcontractor == values["subcontractor_id"])
    if "category" in values:
        clauses.append(Case.product_category == values["category"])
    if "neighbourhood" in values:
        clauses.append(Case.neighbourhood == values["neighbourhood"])
    return clauses


def _page_select(actor: Actor, values: Mapping[str, Any], order: CaseOrder, limit: int, overdue=None):
    """One page of the list in its order, after the cursor if ``values`` has one (see ``_list_where``)."""
    where = _list_where(actor, values)
    if overdue is not None:
        where.append(overdue)
    query = Case.select(*LIST_COLUMNS, Case.urgency).where(*where, *_after(order, values))
    if order is CaseOrder.RECENT:
        query = query.order_by(Case.status_since, Case.id, ascending=False)
    else:
        query = query.order_by(Case.id)
    return query.limit(limit)


def _scope_actor(actor: Actor, params: Mapping[str, Param]) -> Actor:
    """The actor as a compiled list query sees it: its role and organisation kind are in the cache key, its
    identity is a param (an id built into the SQL would be cached, and shown to the next caller, with the
    SQL). A scope that started using the user id would fail to run (no value bound), never leak."""
    return replace(actor, user_id=Param("user_id"), organisation_id=params["organisation_id"], display_name="",
                   email="", origin=None)


def _compiled_page(actor: Actor, values: Mapping[str, Any], order: CaseOrder, limit: int,
                   overdue=None) -> CompiledQuery:
    """The page query for this shape: built and compiled once per role, set of filters and cursor (the names
    in ``values``), order and size. With the overdue filter, whose clause follows each contract's norms, per
    call instead."""
    key = None if overdue is not None else ("case page", actor.role, actor.organisation_kind, order, limit)
    return compiled(key, lambda params: _page_select(_scope_actor(actor, params), params, order, limit, overdue),
                    values)


def _compiled_count(actor: Actor, values: Mapping[str, Any], overdue=None) -> CompiledQuery:
    """How many cases the filtered list holds, compiled like ``_compiled_page``."""
    key = None if overdue is not None else ("case count", actor.role, actor.organisation_kind)

    def build(params: dict[str, Param]):
        where = _list_where(_scope_actor(actor, params), params)
        return Case.count().where(*where, *([overdue] if overdue is not None else []))

    return compiled(key, build, values)


@lru_cache(maxsize=512)
def overdue_cutoff(norm_working_days: int, today: date) -> datetime:
    """A case counts as overdue when its status started before this moment: it has then been in that status
    more than ``norm_working_days`` working days on ``today`` (the same count as the stalled signal)."""
    day = today
    while working_days_between(day - timedelta(days=1), today) <= norm_working_days:
        day -= timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=AMSTERDAM).astimezone(UTC)


async def _overdue_clause(actor: Actor, today: date):
    """Status by status: the contract's own norm (``StatusNorm``) or the default one. The cut-off dates are
    computed here; the database compares ``status_since`` against them (indexed, set-based)."""
    contract_ids = [row["id"] for row in await Contract.select(Contract.id).where(policy.contract_scope(actor))]
    overrides: dict[str, dict[int, int]] = {}
    if contract_ids:
        for row in await StatusNorm.select().where(StatusNorm.contract.is_in(contract_ids)):
            overrides.setdefault(row["status"], {})[row["contract"]] = row["max_working_days"]
    parts = []
    for status in dict.fromkeys([*(s.value for s in DEFAULT_STATUS_NORMS), *overrides]):
        own = overrides.get(status, {})
        default = DEFAULT_STATUS_NORMS.get(status)  # type: ignore[call-overload]  (a StrEnum key)
        if default is not None:
            clause = (Case.status == status) & (Case.status_since < overdue_cutoff(default, today))
            if own:
                clause &= Case.contract.not_in(list(own))
            parts.append(clause)
        for contract_id, days in own.items():
            parts.append((Case.contract == contract_id) & (Case.status == status)
                         & (Case.status_since < overdue_cutoff(days, today)))
    return reduce(operator.or_, parts) if parts else policy.nothing()


def _label(codes: type[CodeList], code: str | None) -> str:
    if not code:
        return ""
    try:
        return codes(code).label
    except ValueError:
        return code


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
                Case.beschikking_issued, Case.end_reason, Case.version, Case.status_before_hold,
                Case.reassessment_due,
            ).where(Case.id == case_id).first()
            events = await CaseEvent.select(
                CaseEvent.id, CaseEvent.occurred_at, CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status,
                CaseEvent.actor_user, CaseEvent.actor_user.display_name.as_alias("actor_name"),
                CaseEvent.actor_organisation.name.as_alias("actor_organisation_name"),
                CaseEvent.subcontractor.name.as_alias("subcontractor_name"), CaseEvent.reason_code,
                CaseEvent.end_reason, CaseEvent.beschikking_issued, CaseEvent.objection_info_given,
                CaseEvent.referred_to, CaseEvent.note, CaseEvent.outcome, CaseEvent.due_date,
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


# --- changes -----------------------------------------------------------------------------------------


def contract_terms(contract: dict) -> ContractTerms:
    return ContractTerms(contract["name"], contract["covers_wmo"], contract["covers_jeugd"], contract["start_date"],
                         contract["end_date"])


async def _contract_facts(contract_id: int) -> tuple[ContractFacts, dict] | None:
    row = await Contract.select().where(Contract.id == contract_id).first()
    if row is None:
        return None
    return ContractFacts(row["id"], row["municipality"], row["main_contractor"]), row


def _moment(on: date | None, not_before: datetime | None = None) -> datetime:
    """When an event happened: now, or a given past day (API and import record work done elsewhere), placed at
    noon (Amsterdam) of that day; today's at the present moment (noon may still be ahead)."""
    if on is None:
        return utc_now()
    today = today_nl()
    if on > today:
        raise InvalidInput(f"De datum {format_date(on)} ligt in de toekomst.", field="datum")
    moment = utc_now() if on == today else datetime.combine(on, time(12, 0), tzinfo=AMSTERDAM).astimezone(UTC)
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
    melding, errors = check_melding(
        contract_terms(contract), domain=data.domain, product_category=data.product_category, urgency=data.urgency,
        provision_type=data.provision_type, melding_date=data.melding_date, aanvraag_date=data.aanvraag_date,
        neighbourhood=data.neighbourhood, today=today_nl())
    if errors:
        raise errors[0]
    assert melding is not None
    pseudonym = pseudonymise(validate_bsn(data.bsn), get_settings().pseudonym_keys)
    note = (data.note or "").strip() or None
    check_free_text(note)
    refuse_bsn_in_text(note, "note")
    now = _moment(data.melding_date) if data.melding_date and data.melding_date < today_nl() else utc_now()

    async with write_transaction():
        case = Case(contract=facts.contract_id, case_number=f"tmp-{uuid.uuid4().hex[:24]}", pseudonym=pseudonym,
                    neighbourhood=melding.neighbourhood, domain=melding.domain.value,
                    product_category=melding.product_category.value, provision_type=melding.provision_type.value,
                    urgency=melding.urgency.value, status=CaseStatus.REGISTERED.value, status_since=now, version=1,
                    melding_date=melding.melding_date, aanvraag_date=melding.aanvraag_date)
        await case.save()
        # The number follows the row id: unique without a counter that concurrent registrations fight over.
        case.case_number = f"{contract['case_prefix']}-{melding.melding_date.year}-{case.id:06d}"
        await Case.update({Case.case_number: case.case_number}).where(Case.id == case.id)
        await CaseEvent(case=case.id, contract=facts.contract_id, occurred_at=now, actor_user=actor.user_id,
                        actor_organisation=actor.organisation_id, action="register", from_status=None,
                        to_status=CaseStatus.REGISTERED.value, note=note).save()
        await audit.record(actor, "create", "case", case.id, contract_id=facts.contract_id,
                           new={"case_number": case.case_number, "domain": melding.domain.value,
                                "product_category": melding.product_category.value,
                                "neighbourhood": melding.neighbourhood, "urgency": melding.urgency.value,
                                "melding_date": melding.melding_date.isoformat()})
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
        check_free_text(transition.note, transition.referred_to)
        refuse_bsn_in_text(transition.note, "note")
        if isinstance(transition.referred_to, str):
            refuse_bsn_in_text(transition.referred_to, "referred_to")
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
    refusal = allocation_refusal(subcontract and delivered_categories(subcontract["product_categories"]),
                                 case["product_category"])
    if refusal:
        raise InvalidInput(refusal, field="subcontractor_id")


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
    # the next re-assessment of an individual provision: set when care starts, gone when it ends
    if transition.action is CaseAction.START_CARE and case["provision_type"] == "individual":
        changes[Case.reassessment_due] = rights_rules.first_reassessment_due(moment.astimezone(AMSTERDAM).date())
    elif transition.action is CaseAction.END_CARE:
        changes[Case.reassessment_due] = None
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


# --- read models of the daily work: case page, intake form, allocation board, waiting list, inbox -----

# What an allocation costs a subcontractor's capacity: asked (and assigned), accepted, in care.
LOAD_STATUSES = (CaseStatus.ALLOCATION_REQUESTED.value, CaseStatus.ACCEPTED.value, CaseStatus.IN_CARE.value)
URGENCY_RANK_SQL = "CASE urgency WHEN 'crisis' THEN 0 WHEN 'high' THEN 1 ELSE 2 END"
INBOX_ACTIVE_LIMIT = 200
ALLOCATION_ANSWER_WORKING_DAYS = 5  # iWmo OP274
BOARD_ROLES = frozenset({Role.COORDINATOR, Role.CONTRACT_MANAGER})


def local_date(moment: datetime | date) -> date:
    return moment.astimezone(AMSTERDAM).date() if isinstance(moment, datetime) else moment


def _decorate(row: dict) -> dict:
    row["status_label"] = _status_label(row["status"])
    row["category_label"] = _label(ProductCategory, row.get("product_category"))
    if "urgency" in row:
        row["urgency_label"] = _label(Urgency, row["urgency"])
    return row


async def _contracts_in_scope(actor: Actor, contract_id: int | None = None) -> list[dict]:
    query = Contract.select(Contract.id, Contract.name).where(policy.contract_scope(actor))
    if contract_id is not None:
        query = query.where(Contract.id == contract_id)
    return await query.order_by(Contract.name).order_by(Contract.id)


async def _subcontractors(contract_ids: list[int]) -> list[dict]:
    """The subcontractors of these contracts with their categories, capacity and current load. The load is
    one grouped query over the case table (indexed on subcontractor, status), never a count per row."""
    if not contract_ids:
        return []
    subcontracts = await Subcontract.select(
        Subcontract.contract, Subcontract.subcontractor, Subcontract.subcontractor.name.as_alias("name"),
        Subcontract.product_categories, Subcontract.capacity, Subcontract.start_date,
    ).where(Subcontract.contract.is_in(contract_ids)).order_by(Subcontract.start_date)
    loads = await Case.select(Case.contract, Case.subcontractor, Count(alias="load")).where(
        Case.contract.is_in(contract_ids), Case.subcontractor.is_not_null(), Case.status.is_in(list(LOAD_STATUSES)),
    ).group_by(Case.contract, Case.subcontractor)
    load = {(row["contract"], row["subcontractor"]): row["load"] for row in loads}
    latest: dict[tuple[int, int], dict] = {}
    for row in subcontracts:  # the latest subcontract per (contract, subcontractor) counts
        latest[(row["contract"], row["subcontractor"])] = row
    result = []
    for (contract, organisation), row in latest.items():
        codes = [code.strip() for code in (row["product_categories"] or "").split(",") if code.strip()]
        used = load.get((contract, organisation), 0)
        capacity = row["capacity"] or 0
        result.append({
            "contract": contract, "id": organisation, "name": row["name"], "categories": codes,
            "category_labels": [f"{code} {_label(ProductCategory, code)}" for code in codes],
            "capacity": capacity, "load": used, "free": capacity - used,
        })
    return sorted(result, key=lambda row: (row["contract"], row["name"].casefold(), row["id"]))


def _eligible(subcontractors: list[dict], contract_id: int, category: str) -> list[dict]:
    return [row for row in subcontractors if row["contract"] == contract_id and category in row["categories"]]


async def case_page(actor: Actor, case_id: int, purpose: str | None = None, today: date | None = None) -> dict:
    """The case page: the case and its timeline (``get_case``, audited), who holds the ball and since when,
    the legal clocks, and the actions this actor may take now (from the lifecycle table)."""
    today = today or today_nl()
    detail = await get_case(actor, case_id, purpose=purpose)
    case, events = detail["case"], detail["events"]
    state = CaseState(case["status"], case["subcontractor"], case["status_before_hold"])
    ball = ball_in_court(state)
    since = local_date(case["status_since"])
    history = [StatusChange(local_date(event["occurred_at"]), CaseStatus(event["to_status"])) for event in events]
    dates = CaseDates(melding_date=case["melding_date"], aanvraag_date=case["aanvraag_date"],
                      decision_date=case["decision_date"], beschikking_issued=bool(case["beschikking_issued"]))
    clocks = [vars(clock) | {"exceeded": clock.exceeded_since is not None} for clock in
              compute_clocks(dates, history, today)]
    for event in events:
        event["action_label"] = NON_STATUS_EVENT_LABELS.get(event["action"]) or _label(CaseAction, event["action"])
        event["reason_label"] = _label(RejectionReason, event["reason_code"])
        event["end_reason_label"] = _label(EndReason, event["end_reason"])
        event["outcome_label"] = rights_rules.outcome_label(event["action"], event["outcome"])
        event["on"] = local_date(event["occurred_at"])
    rights = rights_rules.case_panel(case, events, today, can_record=detail["can_change"]
                                     and actor.role is Role.COORDINATOR)
    actions = allowed_actions(state, actor.role, actor.organisation_id) if detail["can_change"] else []
    subcontractors = []
    if CaseAction.REQUEST_ALLOCATION in actions:
        subcontractors = _eligible(await _subcontractors([case["contract"]]), case["contract"],
                                   case["product_category"])
    _decorate(case)
    case["domain_label"] = _label(Domain, case["domain"])
    case["provision_label"] = _label(ProvisionType, case["provision_type"])
    case["end_reason_label"] = _label(EndReason, case["end_reason"])
    return {
        **detail,
        "ball": {"party": ball.value, "label": ball.label, "since": since, "days": (today - since).days}
        if ball else None,
        "clocks": clocks,
        "actions": [{"code": action.value, "label": action.label} for action in actions],
        "subcontractors": subcontractors,
        "today": today,
        "reasons": RejectionReason.choices(), "end_reasons": EndReason.choices(),
        "rights": rights,
    }


async def intake_form(actor: Actor) -> dict:
    """What the melding form offers: the coordinator's contracts (and which domains each covers)."""
    policy.require_role(actor, {Role.COORDINATOR}, "het registreren van meldingen")
    contracts = await Contract.select(Contract.id, Contract.name, Contract.covers_wmo, Contract.covers_jeugd).where(
        policy.contract_scope(actor)).order_by(Contract.name)
    return {"contracts": contracts, "today": today_nl()}


async def case_list_page(actor: Actor, filters: CaseFilter) -> dict:
    """The list page: one keyset page plus the choices of its filters (the actor's contracts; the
    subcontractors of those contracts, or of the chosen one; a subcontractor filters on nothing but its own
    cases, so it gets none)."""
    result = await list_cases(actor, filters)
    contracts = await _contracts_in_scope(actor)
    subcontractors: list[dict] = []
    if actor.role in BOARD_ROLES:
        contract_ids = [row["id"] for row in contracts if filters.contract_id in (None, row["id"])]
        if contract_ids:
            subcontractors = await Subcontract.select(
                Subcontract.subcontractor.as_alias("id"), Subcontract.subcontractor.name.as_alias("name"),
            ).where(Subcontract.contract.is_in(contract_ids)).distinct().order_by(Subcontract.subcontractor.name)
    return {**result, "subcontractor_choices": subcontractors, "contract_choices": contracts}


async def allocation_board(actor: Actor, contract_id: int | None = None, today: date | None = None) -> dict:
    """Toewijzen: per contract the requests that need an allocation now (declined, back without a
    subcontractor; and the head of every waiting list) and every subcontractor's capacity and load."""
    policy.require_role(actor, BOARD_ROLES, "het toewijzen")
    today = today or today_nl()
    async with read_transaction():
        contracts = await _contracts_in_scope(actor, contract_id)
        ids = [row["id"] for row in contracts]
        subcontractors = await _subcontractors(ids)
        requests: list[dict] = []
        if ids:
            # The head of each waiting list (contract x category) in one windowed query; only placeholders
            # and constants go into the text, the ids are parameters.
            marks = ", ".join("{}" for _ in ids)
            heads = await Case.raw(
                f"SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY contract, product_category "  # noqa: S608
                f"ORDER BY {URGENCY_RANK_SQL}, status_since, id) AS place FROM portal_case "
                f"WHERE status = 'waiting_list' AND contract IN ({marks})) ranked WHERE place = 1", *ids)
            head_ids = [row["id"] for row in heads]
            open_request = (Case.status == CaseStatus.ALLOCATION_REQUESTED.value) & Case.subcontractor.is_null()
            if head_ids:
                open_request |= Case.id.is_in(head_ids)
            requests = await Case.select(*LIST_COLUMNS, Case.urgency, Case.version).where(
                Case.contract.is_in(ids), open_request,
            ).order_by(OrderByRaw(URGENCY_RANK_SQL)).order_by(Case.status_since).order_by(Case.id)
    for row in requests:
        _decorate(row)
        row["days"] = (today - local_date(row["status_since"])).days
        row["options"] = _eligible(subcontractors, row["contract"], row["product_category"])
    can_act = actor.role is Role.COORDINATOR
    return {
        "contracts": [
            {**contract,
             "requests": [row for row in requests if row["contract"] == contract["id"]],
             "subcontractors": [row for row in subcontractors if row["contract"] == contract["id"]]}
            for contract in contracts
        ],
        "can_act": can_act, "selected_contract": contract_id,
    }


async def waiting_list(actor: Actor, contract_id: int | None = None, category: str | None = None,
                       today: date | None = None) -> dict:
    """The central waiting list: one list per contract and product category, in order of urgency (crisis,
    high, normal) and then the date the case went on the list, with each entry's waiting time and the
    list's average."""
    policy.require_role(actor, BOARD_ROLES, "de wachtlijst")
    today = today or today_nl()
    code = ProductCategory.parse(category, field="categorie").value if category else None
    async with read_transaction():
        contracts = await _contracts_in_scope(actor)
        ids = [row["id"] for row in contracts if contract_id is None or row["id"] == contract_id]
        rows: list[dict] = []
        if ids:
            query = Case.select(*LIST_COLUMNS, Case.urgency, Case.version).where(
                Case.contract.is_in(ids), Case.status == CaseStatus.WAITING_LIST.value)
            if code:
                query = query.where(Case.product_category == code)
            rows = await query.order_by(Case.contract, Case.product_category).order_by(
                OrderByRaw(URGENCY_RANK_SQL)).order_by(Case.status_since).order_by(Case.id)
    names = {row["id"]: row["name"] for row in contracts}
    lists: dict[tuple[int, str], dict] = {}
    for row in rows:
        _decorate(row)
        row["days"] = (today - local_date(row["status_since"])).days
        key = (row["contract"], row["product_category"])
        if key not in lists:
            lists[key] = {"contract": row["contract"], "contract_name": names.get(row["contract"], ""),
                          "category": row["product_category"], "category_label": row["category_label"],
                          "entries": []}
        lists[key]["entries"].append(row)
    for entry in lists.values():
        days = [row["days"] for row in entry["entries"]]
        entry["average_days"] = sum(days) / len(days)
        for position, row in enumerate(entry["entries"], start=1):
            row["position"] = position
    return {
        "lists": sorted(lists.values(), key=lambda entry: (entry["contract_name"], entry["category"])),
        "contracts": contracts, "selected_contract": contract_id, "selected_category": code or "",
        "categories": ProductCategory.choices(), "can_act": actor.role is Role.COORDINATOR,
    }


async def inbox(actor: Actor, today: date | None = None) -> dict:
    """The subcontractor's inbox: allocation requests to answer within 5 working days (oldest first), then
    its cases accepted (to start), in care and on hold."""
    policy.require_role(actor, {Role.SUBCONTRACTOR}, "de inbox")
    today = today or today_nl()
    mine = Case.subcontractor == actor.organisation_id
    async with read_transaction():
        requests = await Case.select(*LIST_COLUMNS, Case.urgency, Case.version).where(
            mine, Case.status == CaseStatus.ALLOCATION_REQUESTED.value,
        ).order_by(Case.status_since).order_by(Case.id)
        active = await Case.select(*LIST_COLUMNS, Case.urgency, Case.version, Case.status_before_hold).where(
            mine, Case.status.is_in([CaseStatus.ACCEPTED.value, CaseStatus.IN_CARE.value, CaseStatus.ON_HOLD.value]),
        ).order_by(Case.status_since).order_by(Case.id).limit(INBOX_ACTIVE_LIMIT + 1)
    for row in requests:
        _decorate(row)
        came_in = local_date(row["status_since"])
        deadline = add_working_days(came_in, ALLOCATION_ANSWER_WORKING_DAYS)
        row["deadline"] = deadline
        row["days_left"] = (working_days_between(today, deadline) if today <= deadline
                            else -max(1, working_days_between(deadline, today)))
    for row in active:
        _decorate(row)
        row["days"] = (today - local_date(row["status_since"])).days
    groups = {status: [row for row in active[:INBOX_ACTIVE_LIMIT] if row["status"] == status]
              for status in (CaseStatus.ACCEPTED.value, CaseStatus.IN_CARE.value, CaseStatus.ON_HOLD.value)}
    return {"requests": requests, "accepted": groups["accepted"], "in_care": groups["in_care"],
            "on_hold": groups["on_hold"], "more": len(active) > INBOX_ACTIVE_LIMIT,
            "reasons": RejectionReason.choices()}
