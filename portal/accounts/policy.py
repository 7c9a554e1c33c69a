"""Object-level authorization: who may see and change which case, report, contract and audit trail.

One module for every area, in two halves:

1. Pure decisions over an :class:`Actor` and an object's ownership facts (no I/O; hypothesis-tested).
2. Query scoping: Piccolo ``where`` clauses that put the same rules into SQL, so lists, counts, exports and
   search are scoped by the database and never filtered in Python afterwards.

The rules (DESIGN section 1 and 5):
- a subcontractor sees and changes only cases allocated to it now or before, and only its own reports;
- a coordinator sees all cases of contracts where its organisation is the main contractor, or where its
  organisation is the municipality of a contract without a main contractor;
- a contract manager sees pseudonymised case data and the aggregates of its municipality's contracts, the
  consolidated contract reports and, as the contract says, the underlying subcontractor reports;
- an admin manages accounts and reads no case detail.

Unauthorised access answers 404 (:class:`NotFound`) for objects the caller may not know exist and 403
(:class:`NotPermitted`) where the role itself may not do something (checked before any lookup).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from piccolo.columns.combination import WhereRaw

from portal.accounts.rules import Actor, Role
from portal.lib.errors import NotFound, NotPermitted

# --- facts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractFacts:
    contract_id: int
    municipality_id: int
    main_contractor_id: int | None
    subcontractor_ids: frozenset[int] = field(default_factory=frozenset)
    # As the contract says: the municipality reads the underlying subcontractor reports, or only the
    # consolidated contract report (Contract.municipality_reads_subcontractor_reports).
    municipality_reads_subcontractor_reports: bool = True

    @property
    def coordinating_organisation_id(self) -> int:
        """The main contractor, or the municipality itself when it contracts the providers directly."""
        return self.main_contractor_id if self.main_contractor_id is not None else self.municipality_id


@dataclass(frozen=True)
class CaseFacts:
    contract: ContractFacts
    current_subcontractor_id: int | None
    # every organisation the case was ever allocated to (CaseEvent.subcontractor), the current one included
    allocated_to: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ReportFacts:
    contract: ContractFacts
    organisation_id: int
    kind: str = "subcontractor"  # or "contract": the consolidated report of the main contractor


class CaseView(StrEnum):
    """How much of a case an actor may see."""

    FULL = "full"
    PSEUDONYMISED = "pseudonymised"  # no pseudonym, no free-text notes, no names of persons
    NONE = "none"


NOT_FOUND_CASE = "Deze casus bestaat niet, of u heeft er geen toegang toe."
NOT_FOUND_REPORT = "Deze rapportage bestaat niet, of u heeft er geen toegang toe."
NOT_FOUND_CONTRACT = "Dit contract bestaat niet, of u heeft er geen toegang toe."

# --- role-level decisions (a route guard checks these before any lookup: 403) ---------------------

CASE_READER_ROLES = frozenset({Role.CONTRACT_MANAGER, Role.COORDINATOR, Role.SUBCONTRACTOR})
CASE_ACTOR_ROLES = frozenset({Role.COORDINATOR, Role.SUBCONTRACTOR})
ACCOUNT_MANAGER_ROLES = frozenset({Role.ADMIN})
AUDIT_READER_ROLES = frozenset({Role.CONTRACT_MANAGER})


def require_role(actor: Actor, roles: Iterable[Role], what: str = "dit onderdeel") -> None:
    if actor.role not in frozenset(roles):
        raise NotPermitted(f"Uw rol ({actor.role.label}) geeft geen toegang tot {what}.")


def can_manage_accounts(actor: Actor) -> bool:
    return actor.role in ACCOUNT_MANAGER_ROLES


# --- contracts ---------------------------------------------------------------------------------------


def is_coordinator_of(actor: Actor, contract: ContractFacts) -> bool:
    return actor.role is Role.COORDINATOR and actor.organisation_id == contract.coordinating_organisation_id


def is_contract_manager_of(actor: Actor, contract: ContractFacts) -> bool:
    return actor.role is Role.CONTRACT_MANAGER and actor.organisation_id == contract.municipality_id


def is_party_to(actor: Actor, contract: ContractFacts) -> bool:
    """Whether the actor's organisation takes part in the contract in its role (may know it exists)."""
    if actor.role is Role.SUBCONTRACTOR:
        return actor.organisation_id in contract.subcontractor_ids
    return is_coordinator_of(actor, contract) or is_contract_manager_of(actor, contract)


def can_read_contract_aggregates(actor: Actor, contract: ContractFacts) -> bool:
    """Dashboards and figures of a whole contract: its contract manager and its coordinator."""
    return is_contract_manager_of(actor, contract) or is_coordinator_of(actor, contract)


def can_read_audit(actor: Actor, contract: ContractFacts) -> bool:
    return is_contract_manager_of(actor, contract)


# --- cases -------------------------------------------------------------------------------------------


def case_view(actor: Actor, case: CaseFacts) -> CaseView:
    if is_coordinator_of(actor, case.contract):
        return CaseView.FULL
    if actor.role is Role.SUBCONTRACTOR and (
        actor.organisation_id == case.current_subcontractor_id or actor.organisation_id in case.allocated_to
    ):
        return CaseView.FULL
    if is_contract_manager_of(actor, case.contract):
        return CaseView.PSEUDONYMISED
    return CaseView.NONE


def can_change_case(actor: Actor, case: CaseFacts) -> bool:
    """Whether the actor may act on the case at all (which action is allowed is the lifecycle's business)."""
    if is_coordinator_of(actor, case.contract):
        return True
    return actor.role is Role.SUBCONTRACTOR and (
        actor.organisation_id == case.current_subcontractor_id or actor.organisation_id in case.allocated_to
    )


def authorize_case_read(actor: Actor, case: CaseFacts | None) -> CaseView:
    """The view the actor gets, or an error: 403 for a role that reads no cases, else 404 when hidden."""
    require_role(actor, CASE_READER_ROLES, "casussen")
    view = case_view(actor, case) if case is not None else CaseView.NONE
    if view is CaseView.NONE:
        raise NotFound(NOT_FOUND_CASE)
    return view


def authorize_case_change(actor: Actor, case: CaseFacts | None) -> None:
    """404 when the actor may not know the case; 403 when it may see it but not act (contract manager)."""
    require_role(actor, CASE_READER_ROLES, "casussen")
    if case is None or case_view(actor, case) is CaseView.NONE:
        raise NotFound(NOT_FOUND_CASE)
    if not can_change_case(actor, case):
        raise NotPermitted("U kunt deze casus inzien, maar er geen handelingen op uitvoeren.")


# Fields of a case and its events per view. A contract manager gets the facts for oversight, never the
# pseudonym (it links a resident's cases) nor free text or names that may identify someone.
CASE_FIELDS_HIDDEN_WHEN_PSEUDONYMISED = frozenset({"pseudonym"})
EVENT_FIELDS_HIDDEN_WHEN_PSEUDONYMISED = frozenset({"note", "actor_user", "actor_name", "referred_to"})


def redact_case(view: CaseView, case: dict) -> dict:
    if view is CaseView.FULL:
        return dict(case)
    return {key: value for key, value in case.items() if key not in CASE_FIELDS_HIDDEN_WHEN_PSEUDONYMISED}


def redact_event(view: CaseView, event: dict) -> dict:
    if view is CaseView.FULL:
        return dict(event)
    return {key: value for key, value in event.items() if key not in EVENT_FIELDS_HIDDEN_WHEN_PSEUDONYMISED}


# --- reports -----------------------------------------------------------------------------------------


def reads_underlying_reports(actor: Actor, contract: ContractFacts) -> bool:
    """Whether the actor may read the contract's subcontractor reports (not only the contract report): the
    coordinator always; the contract manager only when the contract says the municipality does."""
    if is_coordinator_of(actor, contract):
        return True
    return is_contract_manager_of(actor, contract) and contract.municipality_reads_subcontractor_reports


def can_read_report(actor: Actor, report: ReportFacts) -> bool:
    if actor.role is Role.SUBCONTRACTOR:
        return actor.organisation_id == report.organisation_id
    if is_coordinator_of(actor, report.contract):
        return True
    if not is_contract_manager_of(actor, report.contract):
        return False
    return report.kind == "contract" or report.contract.municipality_reads_subcontractor_reports


def can_change_report(actor: Actor, report: ReportFacts) -> bool:
    """Only the organisation that writes the report edits it (comments are another matter)."""
    return actor.role in CASE_ACTOR_ROLES and actor.organisation_id == report.organisation_id and (
        actor.role is Role.SUBCONTRACTOR or is_coordinator_of(actor, report.contract)
    )


def authorize_report_read(actor: Actor, report: ReportFacts | None) -> None:
    require_role(actor, CASE_READER_ROLES, "rapportages")
    if report is None or not can_read_report(actor, report):
        raise NotFound(NOT_FOUND_REPORT)


def can_review_report(actor: Actor, report: ReportFacts) -> bool:
    """Returning or accepting: the coordinator reviews subcontractor reports, the contract manager the
    consolidated contract report."""
    if report.kind == "contract":
        return is_contract_manager_of(actor, report.contract)
    return is_coordinator_of(actor, report.contract) and actor.organisation_id != report.organisation_id


# --- query scoping: the same rules as SQL ------------------------------------------------------------
# Every list, count, export and search goes through one of these. Tables are imported inside the
# functions so the pure half above can be used (and tested) without the table definitions.

_NOTHING = "1 = 0"


def nothing() -> WhereRaw:
    return WhereRaw(_NOTHING)


def coordinated_contract_ids(actor: Actor):
    """Sub-select of the ids of contracts the actor's organisation coordinates."""
    from portal.contracts.tables import Contract

    org = actor.organisation_id
    return Contract.select(Contract.id).where(
        (Contract.main_contractor == org) | (Contract.main_contractor.is_null() & (Contract.municipality == org))
    )


def managed_contract_ids(actor: Actor):
    from portal.contracts.tables import Contract

    return Contract.select(Contract.id).where(Contract.municipality == actor.organisation_id)


def case_scope(actor: Actor):
    """``where`` clause for ``Case`` rows the actor may see (any view)."""
    from portal.cases.tables import Case, CaseEvent

    if actor.role is Role.COORDINATOR:
        return Case.contract.is_in(coordinated_contract_ids(actor))
    if actor.role is Role.CONTRACT_MANAGER:
        return Case.contract.is_in(managed_contract_ids(actor))
    if actor.role is Role.SUBCONTRACTOR:
        ever = CaseEvent.select(CaseEvent.case).where(CaseEvent.subcontractor == actor.organisation_id)
        return (Case.subcontractor == actor.organisation_id) | Case.id.is_in(ever)
    return nothing()


def contract_scope(actor: Actor):
    """``where`` clause for ``Contract`` rows the actor's organisation takes part in."""
    from portal.contracts.tables import Contract, Subcontract

    org = actor.organisation_id
    if actor.role is Role.COORDINATOR:
        return (Contract.main_contractor == org) | (
            Contract.main_contractor.is_null() & (Contract.municipality == org)
        )
    if actor.role is Role.CONTRACT_MANAGER:
        return Contract.municipality == org
    if actor.role is Role.SUBCONTRACTOR:
        return Contract.id.is_in(Subcontract.select(Subcontract.contract).where(Subcontract.subcontractor == org))
    return nothing()


def report_scope(actor: Actor):
    """``where`` clause for ``Report`` rows the actor may read."""
    from portal.reports.tables import Report

    if actor.role is Role.SUBCONTRACTOR:
        return Report.organisation == actor.organisation_id
    if actor.role is Role.COORDINATOR:
        return Report.contract.is_in(coordinated_contract_ids(actor))
    if actor.role is Role.CONTRACT_MANAGER:
        from portal.contracts.tables import Contract

        reads_underlying = Contract.municipality_reads_subcontractor_reports == True  # noqa: E712
        open_contracts = Contract.select(Contract.id).where(Contract.municipality == actor.organisation_id,
                                                            reads_underlying)
        return Report.contract.is_in(managed_contract_ids(actor)) & (
            (Report.kind == "contract") | Report.contract.is_in(open_contracts))
    return nothing()


SIGNAL_READER_ROLES = CASE_READER_ROLES


def signal_scope(actor: Actor):
    """``where`` clause for ``Signal`` rows the actor may see (that they exist; content: see below).

    Coordinator: every signal of the contracts it coordinates (confidential ones without their content);
    contract manager: its municipality's contracts; subcontractor: signals about itself or its cases
    (``Signal.subcontractor``), owned by it, or raised by it; admin: none."""
    from portal.signals.tables import Signal

    org = actor.organisation_id
    if actor.role is Role.COORDINATOR:
        return Signal.contract.is_in(coordinated_contract_ids(actor))
    if actor.role is Role.CONTRACT_MANAGER:
        return Signal.contract.is_in(managed_contract_ids(actor))
    if actor.role is Role.SUBCONTRACTOR:
        return (Signal.subcontractor == org) | (Signal.owner_organisation == org) | (
            Signal.raised_by_organisation == org)
    return nothing()


def signal_content_hidden(actor: Actor, confidential: bool, raised_by_organisation_id: int | None) -> bool:
    """A confidential signal raised by a subcontractor: the main contractor's coordinators see that it was
    raised, never its content (title, detail, case, who raised it, comments)."""
    return bool(confidential) and actor.role is Role.COORDINATOR and raised_by_organisation_id != actor.organisation_id


def audit_scope(actor: Actor):
    """``where`` clause for ``AuditEntry`` rows the actor may read: a contract manager, its contracts."""
    from portal.accounts.tables import AuditEntry

    if actor.role is Role.CONTRACT_MANAGER:
        return AuditEntry.contract_id.is_in(managed_contract_ids(actor))
    return nothing()
