"""The case lifecycle as an explicit state machine. Pure: no I/O, no framework.

Everything about who may move a case where lives in one table, ``LIFECYCLE`` (one row per action).
``decide_transition`` checks a request against it and returns the event to record; ``allowed_actions``
asks the same table which buttons to show. The caller (a service) stores the result: the case row gets
the new state, the event log gets one event.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum

from portal.accounts.rules import Role
from portal.lib.codelists import CodeList, Domain, EndReason, ProductCategory, ProvisionType, RejectionReason, Urgency
from portal.lib.errors import IllegalTransition, InvalidInput, NotPermitted
from portal.lib.formatting import format_date


class CaseStatus(CodeList, unknown="Onbekende status"):
    REGISTERED = "registered", "Gemeld"
    ASSESSMENT = "assessment", "In onderzoek"
    ALLOCATION_REQUESTED = "allocation_requested", "Toewijzing gevraagd"
    ACCEPTED = "accepted", "Geaccepteerd"
    WAITING_LIST = "waiting_list", "Op wachtlijst"
    IN_CARE = "in_care", "Levering gestart"
    ON_HOLD = "on_hold", "Opgeschort"
    ENDED = "ended", "Beëindigd"
    CLOSED = "closed", "Afgesloten"
    REJECTED = "rejected", "Afgewezen"
    REFERRED_COLLECTIVE = "referred_collective", "Doorverwezen naar algemene voorziening"
    WITHDRAWN = "withdrawn", "Ingetrokken"
    REOPENED = "reopened", "Heropend"


class CaseAction(CodeList, unknown="Onbekende actie"):
    START_ASSESSMENT = "start_assessment", "Onderzoek starten"
    REQUEST_ALLOCATION = "request_allocation", "Toewijzing vragen"
    PLACE_ON_WAITING_LIST = "place_on_waiting_list", "Op wachtlijst plaatsen"
    ACCEPT = "accept", "Accepteren"
    DECLINE = "decline", "Weigeren"
    START_CARE = "start_care", "Levering starten"
    END_CARE = "end_care", "Levering beëindigen"
    REJECT = "reject", "Afwijzen"
    REFER_COLLECTIVE = "refer_collective", "Doorverwijzen naar algemene voorziening"
    WITHDRAW = "withdraw", "Intrekken"
    HOLD = "hold", "Opschorten"
    RESUME = "resume", "Hervatten"
    CLOSE = "close", "Afsluiten"
    REOPEN = "reopen", "Heropenen"


class Party(CodeList, unknown="Onbekende partij"):
    """Who can hold the ball. The organisation values match ``OrganisationKind``."""

    MUNICIPALITY = "municipality", "Gemeente"
    MAIN_CONTRACTOR = "main_contractor", "Hoofdaannemer"
    SUBCONTRACTOR = "subcontractor", "Onderaannemer"
    RESIDENT = "resident", "Inwoner"


class Allocation(StrEnum):
    """``allocation_requested`` split in two: after a decline no subcontractor is assigned and the case
    is back with the coordinator, so the table and the ball-in-court need to tell the two apart."""

    ASSIGNED = "allocation_requested:assigned"
    UNASSIGNED = "allocation_requested:unassigned"


class Nowhere(Enum):
    """The explicit answer "referred nowhere". ``None`` means "not answered", which a rejection refuses."""

    NOWHERE = "nergens"


NOWHERE = Nowhere.NOWHERE

S = CaseStatus
Where = CaseStatus | Allocation

TERMINAL_STATUSES = frozenset({S.ENDED, S.CLOSED, S.REJECTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN})
OPEN_STATUSES = frozenset(CaseStatus) - TERMINAL_STATUSES

# Who is being waited on. None once an outcome is reached (closing is bookkeeping, nobody is overdue).
BALL_IN_COURT: dict[Where, Party | None] = {
    S.REGISTERED: Party.MAIN_CONTRACTOR,
    S.ASSESSMENT: Party.MAIN_CONTRACTOR,
    Allocation.ASSIGNED: Party.SUBCONTRACTOR,
    Allocation.UNASSIGNED: Party.MAIN_CONTRACTOR,
    S.WAITING_LIST: Party.MAIN_CONTRACTOR,  # the central waiting list is the main contractor's
    S.ACCEPTED: Party.SUBCONTRACTOR,
    S.IN_CARE: Party.SUBCONTRACTOR,
    S.ON_HOLD: Party.RESIDENT,  # a hold pauses the clocks: the case waits on the resident's situation
    S.REOPENED: Party.MAIN_CONTRACTOR,
} | {status: None for status in TERMINAL_STATUSES}


@dataclass(frozen=True)
class Step:
    """One row of the lifecycle table."""

    sources: frozenset[Where]
    target: CaseStatus | None  # None: back to the status the case had before the hold
    coordinator: bool  # the main contractor's coordinator may take it
    # Statuses in which the *assigned* subcontractor may take it (when held: the status before the hold).
    subcontractor: frozenset[CaseStatus] = frozenset()
    requires: tuple[str, ...] = ()  # payload fields that must be given
    while_on_hold: bool = False  # also from on_hold, when the status before the hold is a source
    clears_subcontractor: bool = False


def _step(
    sources: Iterable[Where],
    target: CaseStatus | None,
    *,
    coordinator: bool = True,
    subcontractor: Iterable[CaseStatus] = (),
    **options: object,
) -> Step:
    """A table row; ``coordinator`` defaults to True because the coordinator drives most steps."""
    return Step(frozenset(sources), target, coordinator, frozenset(subcontractor), **options)


A = CaseAction
BEFORE_CARE = {S.REGISTERED, S.ASSESSMENT, S.ALLOCATION_REQUESTED, S.ACCEPTED, S.WAITING_LIST, S.REOPENED}
HOLDABLE = {S.ASSESSMENT, S.ALLOCATION_REQUESTED, S.ACCEPTED, S.WAITING_LIST, S.IN_CARE}
WITH_SUBCONTRACTOR = {S.ACCEPTED, S.IN_CARE}

# fmt: off
LIFECYCLE: dict[CaseAction, Step] = {
    A.START_ASSESSMENT:      _step({S.REGISTERED, S.REOPENED}, S.ASSESSMENT),
    A.REQUEST_ALLOCATION:    _step({S.ASSESSMENT, S.WAITING_LIST, S.REOPENED, Allocation.UNASSIGNED},
                                   S.ALLOCATION_REQUESTED, requires=("subcontractor_id",)),
    A.PLACE_ON_WAITING_LIST: _step({S.ASSESSMENT, S.REOPENED, Allocation.UNASSIGNED}, S.WAITING_LIST),
    A.ACCEPT:                _step({Allocation.ASSIGNED}, S.ACCEPTED,
                                   coordinator=False, subcontractor={S.ALLOCATION_REQUESTED}),
    A.DECLINE:               _step({Allocation.ASSIGNED}, S.ALLOCATION_REQUESTED,
                                   coordinator=False, subcontractor={S.ALLOCATION_REQUESTED},
                                   requires=("reason_code",), clears_subcontractor=True),
    A.START_CARE:            _step({S.ACCEPTED}, S.IN_CARE, coordinator=False, subcontractor={S.ACCEPTED}),
    A.END_CARE:              _step({S.IN_CARE}, S.ENDED, subcontractor={S.IN_CARE}, requires=("end_reason",)),
    A.REJECT:                _step({S.ASSESSMENT, S.REOPENED}, S.REJECTED,
                                   requires=("reason_code", "beschikking_issued", "objection_info_given",
                                             "referred_to")),
    # Every turn-away records what the resident's legal position needs (portal.rights.rules.TURN_AWAY_PATHS):
    # the reason, and whether the resident was told of the right to ask for a beschikking and to object.
    A.REFER_COLLECTIVE:      _step({S.ASSESSMENT, S.REOPENED}, S.REFERRED_COLLECTIVE,
                                   requires=("referred_to", "objection_info_given")),
    A.WITHDRAW:              _step(BEFORE_CARE, S.WITHDRAWN, while_on_hold=True,
                                   requires=("reason_code", "objection_info_given")),
    A.HOLD:                  _step(HOLDABLE, S.ON_HOLD, subcontractor=WITH_SUBCONTRACTOR, requires=("note",)),
    A.RESUME:                _step({S.ON_HOLD}, None, subcontractor=WITH_SUBCONTRACTOR),
    A.CLOSE:                 _step({S.ENDED, S.REJECTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN}, S.CLOSED),
    A.REOPEN:                _step({S.CLOSED, S.ENDED}, S.REOPENED, requires=("note",)),
}
# fmt: on

READ_ONLY_ROLES = frozenset({Role.CONTRACT_MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class CaseState:
    """The part of a case row the lifecycle depends on."""

    status: CaseStatus
    subcontractor_id: int | None = None
    status_before_hold: CaseStatus | None = None

    def __post_init__(self) -> None:
        # Accept plain strings from the database, but never an inconsistent state (that would be a bug).
        object.__setattr__(self, "status", CaseStatus(self.status))
        if self.status_before_hold is not None:
            object.__setattr__(self, "status_before_hold", CaseStatus(self.status_before_hold))
        held = self.status is S.ON_HOLD
        if held != (self.status_before_hold is not None) or self.status_before_hold is S.ON_HOLD:
            raise ValueError(f"Inconsistent case state: {self!r}")

    @property
    def where(self) -> Where:
        """The status, with allocation_requested split by whether a subcontractor is assigned."""
        if self.status is S.ALLOCATION_REQUESTED:
            return Allocation.ASSIGNED if self.subcontractor_id is not None else Allocation.UNASSIGNED
        return self.status

    @property
    def acting_status(self) -> CaseStatus:
        """What the case is doing; for a held case, what it was doing before the hold."""
        return self.status_before_hold or self.status


def ball_in_court(state: CaseState) -> Party | None:
    return BALL_IN_COURT[state.where]


@dataclass(frozen=True)
class TransitionInput:
    """What the person filled in. Every field is optional here; the table says which an action needs."""

    subcontractor_id: int | None = None
    reason_code: RejectionReason | str | None = None
    end_reason: EndReason | str | None = None
    beschikking_issued: bool | None = None
    objection_info_given: bool | None = None
    referred_to: str | Nowhere | None = None  # None: not answered; NOWHERE: referred nowhere
    note: str | None = None


@dataclass(frozen=True)
class Transition:
    """The decided move: the case's new state and the fields of the one event to append."""

    action: CaseAction
    from_status: CaseStatus
    to_status: CaseStatus
    subcontractor_id: int | None
    status_before_hold: CaseStatus | None
    reason_code: RejectionReason | None = None
    end_reason: EndReason | None = None
    beschikking_issued: bool | None = None
    objection_info_given: bool | None = None
    referred_to: str | Nowhere | None = None
    note: str | None = None

    @property
    def new_state(self) -> CaseState:
        return CaseState(self.to_status, self.subcontractor_id, self.status_before_hold)


def decide_transition(
    state: CaseState,
    action: CaseAction | str,
    role: Role,
    organisation_id: int | None,
    payload: TransitionInput | None = None,
) -> Transition:
    """The transition ``action`` makes, or a domain error (NotPermitted, IllegalTransition, InvalidInput).

    Only the subcontractor's organisation is checked here (against the assigned one); that a coordinator
    belongs to the case's main contractor is the query scope's job.
    """
    action = CaseAction.parse(action, field="action")
    step = _check_allowed(state, action, Role(role), organisation_id)
    fields = _validate_payload(step, action, payload or TransitionInput())
    if "subcontractor_id" in step.requires:
        subcontractor_id = fields.pop("subcontractor_id")
    elif step.clears_subcontractor:
        subcontractor_id = None
    else:
        subcontractor_id = state.subcontractor_id
    to_status = step.target or state.status_before_hold
    return Transition(
        action=action,
        from_status=state.status,
        to_status=to_status,
        subcontractor_id=subcontractor_id,
        status_before_hold=state.status if to_status is S.ON_HOLD else None,
        **fields,
    )


def allowed_actions(state: CaseState, role: Role, organisation_id: int | None) -> list[CaseAction]:
    """The actions this actor may take now (payload aside), in table order: the buttons to show."""
    allowed = []
    for action in LIFECYCLE:
        try:
            _check_allowed(state, action, Role(role), organisation_id)
        except (IllegalTransition, NotPermitted):
            continue
        allowed.append(action)
    return allowed


def _check_allowed(state: CaseState, action: CaseAction, role: Role, organisation_id: int | None) -> Step:
    if role in READ_ONLY_ROLES:
        raise NotPermitted(
            f"Een {role.label.lower()} heeft alleen leesrechten op casussen en kan de status niet wijzigen."
        )
    step = LIFECYCLE[action]
    from_source = state.where in step.sources or state.status in step.sources
    from_hold = step.while_on_hold and state.status is S.ON_HOLD and state.acting_status in step.sources
    if not (from_source or from_hold):
        message = f"Een casus met status '{state.status.label}' kan niet '{action.label}'."
        if state.status is S.ALLOCATION_REQUESTED and step.sources & set(Allocation):
            message += (
                " De toegewezen onderaannemer moet eerst antwoorden."
                if state.subcontractor_id is not None
                else " Er is geen onderaannemer toegewezen."
            )
        raise IllegalTransition(message)

    if role is Role.COORDINATOR and step.coordinator:
        return step
    if role is Role.SUBCONTRACTOR and state.acting_status in step.subcontractor:
        if organisation_id is None or organisation_id != state.subcontractor_id:
            raise NotPermitted(f"Alleen de toegewezen onderaannemer kan '{action.label}'.")
        return step
    who = "de coördinator" if step.coordinator else "de toegewezen onderaannemer"
    raise NotPermitted(f"Alleen {who} kan '{action.label}'.")


# Per field: the Dutch message when it is missing or unusable.
_MISSING = {
    "subcontractor_id": "Kies de onderaannemer aan wie de toewijzing wordt gevraagd.",
    "reason_code": "Kies een reden (een code uit WJ759 of een lokale code L1-L7).",
    "end_reason": "Kies een reden van beëindiging (een code uit WMO588).",
    "beschikking_issued": "Geef aan of er een beschikking is afgegeven (ja of nee).",
    "objection_info_given": "Geef aan of de inwoner is gewezen op het recht van bezwaar en op het recht een "
                            "beschikking te vragen (ja of nee).",
    "referred_to": "Geef aan waarnaar de inwoner is doorverwezen, of kies 'nergens'.",
    "note": "Vul een toelichting in; die is verplicht bij '{action}'.",
}


def _validate_payload(step: Step, action: CaseAction, payload: TransitionInput) -> dict[str, object]:
    """The normalised event fields: required ones checked, the note always tidied, the rest dropped."""
    fields: dict[str, object] = {"note": _text(payload.note, "note")}
    for name in step.requires:
        fields[name] = _required(name, getattr(payload, name), action)
    return fields


def _required(name: str, value: object, action: CaseAction) -> object:
    def missing() -> InvalidInput:
        return InvalidInput(_MISSING[name].format(action=action.label), field=name)

    if isinstance(value, str):
        value = value.strip() or None
    if value is None:
        raise missing()
    match name:
        case "subcontractor_id":
            # bool is an int in Python; a checkbox value is not an organisation id.
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise missing()
            return value
        case "reason_code":
            return RejectionReason.parse(value, field=name)
        case "end_reason":
            return EndReason.parse(value, field=name)
        case "beschikking_issued" | "objection_info_given":
            if not isinstance(value, bool):
                raise missing()
            return value
        case "referred_to":
            if value is NOWHERE and action is A.REFER_COLLECTIVE:
                raise InvalidInput(
                    "Vul in naar welke algemene voorziening de inwoner is doorverwezen.", field=name
                )
            if value is not NOWHERE and not isinstance(value, str):
                raise missing()
            return value
        case "note":
            return _text(value, name)
    raise AssertionError(f"no validator for {name}")  # a new required field needs a case above


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("Vul een tekst in.", field=name)
    return value.strip() or None


__all__ = [
    "BALL_IN_COURT",
    "LIFECYCLE",
    "NOWHERE",
    "OPEN_STATUSES",
    "READ_ONLY_ROLES",
    "TERMINAL_STATUSES",
    "Allocation",
    "CaseAction",
    "CaseState",
    "CaseStatus",
    "Nowhere",
    "Party",
    "Step",
    "Transition",
    "TransitionInput",
    "allowed_actions",
    "ball_in_court",
    "decide_transition",
]


# --- a new melding and an allocation, checked against the contract -----------------------------------
# One place for these checks: the register form, the API and the CSV import all call them.

MAX_NEIGHBOURHOOD = 100
MAX_NOTE = 4000  # a note on a case step: the trail holds what matters, not whole documents
MAX_REFERRED_TO = 200  # CaseEvent.referred_to


def check_free_text(note: str | None, referred_to: object = None) -> None:
    """Free text on a melding or a step within its limits (PostgreSQL would refuse a too long referral)."""
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"Een toelichting heeft hoogstens {MAX_NOTE} tekens (nu {len(note)}).", field="note")
    if isinstance(referred_to, str) and len(referred_to) > MAX_REFERRED_TO:
        raise InvalidInput(f"Waarnaar is doorverwezen past in {MAX_REFERRED_TO} tekens.", field="referred_to")


@dataclass(frozen=True)
class ContractTerms:
    """The part of a contract a melding is checked against."""

    name: str
    covers_wmo: bool
    covers_jeugd: bool
    start_date: date
    end_date: date


@dataclass(frozen=True)
class Melding:
    domain: Domain
    product_category: ProductCategory
    urgency: Urgency
    provision_type: ProvisionType
    melding_date: date
    aanvraag_date: date | None
    neighbourhood: str


def check_melding(terms: ContractTerms | None, *, domain: object, product_category: object, urgency: object,
                  provision_type: object, melding_date: date | None, aanvraag_date: date | None,
                  neighbourhood: str | None, today: date) -> tuple[Melding | None, list[InvalidInput]]:
    """The normalised melding, or every problem with it (the form shows the first, the import all of them).
    Without ``terms`` (an unknown contract) the checks that need the contract are left out."""
    errors: list[InvalidInput] = []

    def parse(codes, value, field: str):
        try:
            return codes.parse(value, field=field)
        except InvalidInput as error:
            errors.append(error)
            return None

    parsed_domain = parse(Domain, domain, "domain")
    if parsed_domain is not None and terms is not None and (
            parsed_domain is Domain.YOUTH and not terms.covers_jeugd
            or parsed_domain is Domain.WMO and not terms.covers_wmo):
        errors.append(InvalidInput(f"Het contract '{terms.name}' omvat geen {parsed_domain.label}.", field="domain"))
    category = parse(ProductCategory, product_category, "product_category")
    parsed_urgency = parse(Urgency, urgency, "urgency")
    provision = parse(ProvisionType, provision_type, "provision_type")
    melding = melding_date or today
    if terms is not None and not terms.start_date <= melding <= terms.end_date:
        errors.append(InvalidInput(
            f"De meldingsdatum valt buiten de looptijd van het contract ({format_date(terms.start_date)} "
            f"tot en met {format_date(terms.end_date)}).", field="melding_date"))
    elif melding > today:
        errors.append(InvalidInput("De meldingsdatum ligt in de toekomst.", field="melding_date"))
    if aanvraag_date is not None and aanvraag_date < melding:
        errors.append(InvalidInput("De aanvraag kan niet vóór de melding liggen.", field="aanvraag_date"))
    place = (neighbourhood or "").strip()
    if not place or len(place) > MAX_NEIGHBOURHOOD:
        errors.append(InvalidInput(f"Vul de wijk in (maximaal {MAX_NEIGHBOURHOOD} tekens).", field="neighbourhood"))
    if errors:
        return None, errors
    assert parsed_domain and category and parsed_urgency and provision
    return Melding(parsed_domain, category, parsed_urgency, provision, melding, aanvraag_date, place), []


def delivered_categories(product_categories: str | None) -> frozenset[str]:
    """A subcontract's product categories, stored as comma-separated WMO020 codes ("02,07")."""
    return frozenset(code.strip() for code in (product_categories or "").split(",") if code.strip())


def allocation_refusal(delivered: frozenset[str] | None, product_category: str) -> str | None:
    """Why a case cannot be allocated to a subcontractor (``delivered`` is None: no subcontract), or None."""
    if delivered is None:
        return "Deze onderaannemer werkt niet binnen dit contract."
    if product_category not in delivered:
        return f"Deze onderaannemer levert geen '{ProductCategory(product_category).label}' binnen dit contract."
    return None
