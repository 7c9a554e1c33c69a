"""Signal rules, dedup keys and the signal lifecycle. Pure: no I/O, no framework.

A signal is a reason to look (DESIGN.md section 2). This module decides *whether* a rule fires and
*what* the signal says; a service stores the result. Everything that can be a table is one:

- ``RULES``: per rule its default severity, trigger (event or scan), owner, response term and the
  black-box risk it guards against.
- ``DEFAULT_STATUS_NORMS``: how long a case may stay in a status (working days), per contract overridable.
- ``SIGNAL_LIFECYCLE``: who may move a signal from where to where, and what text that takes.

Rule functions return ``SignalDraft`` values: the fields of one signal row, including its ``dedup_key``.
The same input always gives the same drafts, so the service can upsert them on the key and a scan that
runs twice changes nothing. A time-driven signal whose key a scan no longer produces has lost its cause:
the service closes it with ``auto_close_reason``. Event-driven signals never close by themselves.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from fractions import Fraction
from functools import lru_cache
from uuid import UUID

from portal.accounts.rules import Role
from portal.cases.clocks import ClockState
from portal.cases.rules import TERMINAL_STATUSES, CaseAction, CaseStatus, Party
from portal.lib.calendar_nl import add_working_days, working_days_between
from portal.lib.codelists import CodeList, EndReason, ProvisionType, RejectionReason
from portal.lib.errors import IllegalTransition, InvalidInput, NotPermitted
from portal.lib.formatting import format_date, format_money, format_number, format_percentage

# A scan drafts thousands of signals whose texts repeat the same few hundred dates: format each once.
format_date = lru_cache(maxsize=8192)(format_date)

S = CaseStatus
A = CaseAction

# --- the rules -------------------------------------------------------------------------------------


class SignalRule(CodeList, unknown="Onbekende signaalregel"):
    STALLED = "stalled", "Blijft liggen"
    LEGAL_TERM_EXCEEDED = "legal_term_exceeded", "Wettelijke termijn overschreden"
    REJECTED_WITHOUT_DECISION = "rejected_without_decision", "Afgewezen zonder beschikking"
    REJECTION_REVIEW = "rejection_review", "Afwijzing ter beoordeling"
    BOUNCED = "bounced", "Door meerdere onderaannemers geweigerd"
    RE_REPORT = "re_report", "Opnieuw gemeld"
    CLOSED_WITHOUT_OUTCOME = "closed_without_outcome", "Afgesloten zonder uitkomst"
    REPORT_OVERDUE = "report_overdue", "Verslag te laat"
    OUTLIER = "outlier", "Afwijkend cijfer"
    SAVINGS_BEHIND = "savings_behind", "Besparing blijft achter"
    RAISED = "raised", "Gemeld door partij"


class Severity(CodeList, unknown="Onbekende ernst", hint="Kies low, medium of high."):
    LOW = "low", "Laag"
    MEDIUM = "medium", "Middel"
    HIGH = "high", "Hoog"


class Trigger(StrEnum):
    EVENT = "event"  # fires in the same transaction as a case event
    SCAN = "scan"  # fires from a periodic scan; closes automatically when the cause has gone


class BallHolder(Enum):
    """The owner "whoever holds the ball on the case" (decided per case, see ``stalled_signals``)."""

    BALL_HOLDER = "wie de bal heeft"


BALL_HOLDER = BallHolder.BALL_HOLDER


@dataclass(frozen=True)
class RuleSpec:
    severity: Severity
    trigger: Trigger
    owner: Party | BallHolder  # the party that owes the answer
    response_days: int  # working days to respond
    why: str  # the black-box risk the rule guards against (DESIGN.md section 2)


DEFAULT_RESPONSE_DAYS = 5
MAX_TITLE = 300  # Signal.title
R, SEV, T, P = SignalRule, Severity, Trigger, Party
_5 = DEFAULT_RESPONSE_DAYS

# fmt: off
RULES: dict[SignalRule, RuleSpec] = {
    R.STALLED:                   RuleSpec(SEV.LOW,    T.SCAN,  BALL_HOLDER,         _5,
                                          "Hulpvragen blijven liggen zonder dat iemand het ziet."),
    R.LEGAL_TERM_EXCEEDED:       RuleSpec(SEV.HIGH,   T.SCAN,  P.MAIN_CONTRACTOR,   _5,
                                          "Een wettelijke termijn van de Wmo is overschreden."),
    R.REJECTED_WITHOUT_DECISION: RuleSpec(SEV.HIGH,   T.EVENT, P.MAIN_CONTRACTOR,   _5,
                                          "Zonder beschikking of bezwaarinformatie kan de inwoner geen bezwaar maken."),
    R.REJECTION_REVIEW:          RuleSpec(SEV.LOW,    T.EVENT, P.MUNICIPALITY,      10,
                                          "Lastige hulpvragen worden weggezet zonder dat iemand meekijkt."),
    R.BOUNCED:                   RuleSpec(SEV.MEDIUM, T.EVENT, P.MAIN_CONTRACTOR,   _5,
                                          "De casus wordt als hete aardappel doorgeschoven."),
    R.RE_REPORT:                 RuleSpec(SEV.MEDIUM, T.EVENT, P.MAIN_CONTRACTOR,   _5,
                                          "Een casus is mogelijk te vroeg afgesloten."),
    R.CLOSED_WITHOUT_OUTCOME:    RuleSpec(SEV.MEDIUM, T.EVENT, P.MAIN_CONTRACTOR,   _5,
                                          "Zonder uitkomst legt niemand verantwoording af."),
    R.REPORT_OVERDUE:            RuleSpec(SEV.MEDIUM, T.SCAN,  P.SUBCONTRACTOR,     _5,
                                          "Stilte: de leercyclus valt stil."),
    R.OUTLIER:                   RuleSpec(SEV.MEDIUM, T.SCAN,  P.MAIN_CONTRACTOR,   10,
                                          "Een patroon, geen incident: een onderaannemer wijkt af van de rest."),
    R.SAVINGS_BEHIND:            RuleSpec(SEV.HIGH,   T.SCAN,  P.MAIN_CONTRACTOR,   10,
                                          "Het geldverhaal klopt niet: de afgesproken besparing wordt niet gehaald."),
    R.RAISED:                    RuleSpec(SEV.MEDIUM, T.EVENT, P.MUNICIPALITY,      _5,
                                          "Een stem voor onderaannemers en coördinatoren, direct naar de gemeente."),
}
# fmt: on

EVENT_RULES = frozenset(rule for rule, spec in RULES.items() if spec.trigger is Trigger.EVENT)
SCAN_RULES = frozenset(rule for rule, spec in RULES.items() if spec.trigger is Trigger.SCAN)


@dataclass(frozen=True)
class SignalDraft:
    """The fields of one signal row as a rule decides them; the service maps the party to an organisation."""

    rule: SignalRule
    severity: Severity
    dedup_key: str
    title: str  # Dutch
    detail: str  # Dutch: why, with the figures and dates (dd-mm-jjjj)
    owner_party: Party
    contract_id: int
    response_due: date
    case_id: int | None = None
    subcontractor_id: int | None = None
    report_id: int | None = None
    escalation_level: int = 0


@lru_cache(maxsize=64)
def _response_due(today: date, days: int) -> date:
    """``add_working_days``, cached: a scan drafts thousands of signals on one day."""
    return add_working_days(today, days)


def _draft(
    rule: SignalRule,
    *,
    key: str,
    title: str,
    detail: str,
    contract_id: int,
    today: date,
    owner: Party | None = None,
    severity: Severity | None = None,
    **fields: object,
) -> SignalDraft:
    spec = RULES[rule]
    owner = owner or spec.owner
    if not isinstance(owner, Party):
        raise ValueError(f"{rule}: the owner must be decided per signal")
    return SignalDraft(
        rule=rule,
        severity=severity or spec.severity,
        dedup_key=key,
        title=title[:MAX_TITLE],
        detail=detail,
        owner_party=owner,
        contract_id=contract_id,
        response_due=_response_due(today, spec.response_days),
        **fields,  # type: ignore[arg-type]
    )


# --- norms -----------------------------------------------------------------------------------------

# Working days a case may stay in a status before it counts as stalled. in_care has no norm (support
# runs as long as it is needed); terminal statuses wait on nobody.
DEFAULT_STATUS_NORMS: dict[CaseStatus, int] = {
    S.REGISTERED: 5,
    S.ASSESSMENT: 30,
    S.ALLOCATION_REQUESTED: 5,
    S.ACCEPTED: 10,
    S.WAITING_LIST: 40,
    S.ON_HOLD: 20,
    S.REOPENED: 10,
}
NORMABLE_STATUSES = frozenset(CaseStatus) - TERMINAL_STATUSES
MAX_NORM_DAYS = 1000  # about four years: anything longer is a typing error


def effective_norms(overrides: Mapping[str, int] | None = None) -> dict[CaseStatus, int]:
    """The default norms with a contract's overrides (``StatusNorm`` rows: status -> max_working_days)."""
    norms = dict(DEFAULT_STATUS_NORMS)
    for raw_status, days in (overrides or {}).items():
        status = CaseStatus.parse(raw_status, field="status")
        if status not in NORMABLE_STATUSES:
            raise InvalidInput(
                f"Voor de status '{status.label}' geldt geen norm: een afgeronde casus wacht op niemand.",
                field="status",
            )
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_NORM_DAYS:
            raise InvalidInput(
                f"De norm voor '{status.label}' moet een heel aantal werkdagen zijn van 1 tot en met "
                f"{MAX_NORM_DAYS} (niet: {days!r}).",
                field="max_working_days",
            )
        norms[status] = days
    return {status: norms[status] for status in CaseStatus if status in norms}


# --- dedup keys ------------------------------------------------------------------------------------

MAX_KEY = 200  # Signal.dedup_key


def _key(*parts: object) -> str:
    """Parts joined with ':'; a key longer than 200 characters keeps its start plus a hash of the whole."""
    text = ":".join(p.isoformat() if isinstance(p, date) else str(p) for p in parts)
    if len(text) <= MAX_KEY:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{text[: MAX_KEY - len(digest) - 1]}:{digest}"


def stalled_key(case_id: int, status: CaseStatus | str, status_since: date) -> str:
    """A new stay in a status (a later ``status_since``) is a new cause, so a new key."""
    return _key(R.STALLED, "case", case_id, CaseStatus(status), status_since)


def legal_term_key(case_id: int, clock_code: str) -> str:
    return _key(R.LEGAL_TERM_EXCEEDED, "case", case_id, clock_code)


def rejected_without_decision_key(case_id: int) -> str:
    return _key(R.REJECTED_WITHOUT_DECISION, "case", case_id)


def rejection_review_key(case_id: int) -> str:
    return _key(R.REJECTION_REVIEW, "case", case_id)


def bounced_key(case_id: int) -> str:
    return _key(R.BOUNCED, "case", case_id)


def re_report_key(case_id: int) -> str:
    return _key(R.RE_REPORT, "case", case_id)


def closed_without_outcome_key(case_id: int) -> str:
    return _key(R.CLOSED_WITHOUT_OUTCOME, "case", case_id)


def report_overdue_key(period_id: int, organisation_id: int) -> str:
    return _key(R.REPORT_OVERDUE, "report", period_id, organisation_id)


def outlier_key(contract_id: int, subcontractor_id: int, metric: str, period: str) -> str:
    return _key(R.OUTLIER, contract_id, subcontractor_id, metric, period)


def savings_behind_key(contract_id: int, year: int, level: str = "contract") -> str:
    # a contract with several target levels (Hengelo: tender and transformation) gets one signal per level
    if level == "contract":
        return _key(R.SAVINGS_BEHIND, contract_id, year)
    return _key(R.SAVINGS_BEHIND, contract_id, year, level)


def raised_key(signal_uuid: UUID | str) -> str:
    return _key(R.RAISED, UUID(str(signal_uuid)))


# --- event-driven rules ----------------------------------------------------------------------------

RE_REPORT_WINDOW_DAYS = 90  # calendar days between closing the earlier case and the new melding
BOUNCE_THRESHOLD = 2  # declines
BOUNCE_HIGH = 3  # declines from which a bounce is severe
OUTCOME_STATUSES = frozenset({S.REJECTED, S.REFERRED_COLLECTIVE, S.WITHDRAWN})  # an outcome without end reason


@dataclass(frozen=True)
class CaseFacts:
    """The case after the event (the service reads these from the case row and a few cheap queries)."""

    case_id: int
    contract_id: int
    status: CaseStatus
    status_since: date
    subcontractor_id: int | None = None
    decline_count: int = 0  # declines recorded on this case, including this event
    pseudonym_previous_closed_on: date | None = None  # latest close of another case of the same pseudonym
    melding_date: date | None = None
    end_reason: EndReason | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", CaseStatus(self.status))
        if self.end_reason is not None:
            object.__setattr__(self, "end_reason", EndReason.parse(self.end_reason, field="end_reason"))


@dataclass(frozen=True)
class EventFacts:
    """The event just recorded. ``action`` None: the melding itself, i.e. the case was just registered."""

    action: CaseAction | None
    from_status: CaseStatus | None = None
    reason_code: RejectionReason | None = None
    beschikking_issued: bool | None = None
    objection_info_given: bool | None = None
    provision_type: ProvisionType = ProvisionType.INDIVIDUAL

    def __post_init__(self) -> None:
        if self.action is not None:
            object.__setattr__(self, "action", CaseAction.parse(self.action, field="action"))
        if self.from_status is not None:
            object.__setattr__(self, "from_status", CaseStatus(self.from_status))
        if self.reason_code is not None:
            object.__setattr__(self, "reason_code", RejectionReason.parse(self.reason_code, field="reason_code"))
        object.__setattr__(self, "provision_type", ProvisionType.parse(self.provision_type, field="provision_type"))


def deterministic_draw(case_id: int) -> float:
    """A number in [0, 1) that depends only on the case id, so a re-run draws the same sample."""
    digest = hashlib.sha256(f"rejection_review:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def signals_for_event(
    case: CaseFacts,
    event: EventFacts,
    *,
    today: date,
    rejection_sample_pct: float,
    sample_draw: float,
) -> list[SignalDraft]:
    """The signals a case event raises, in ``RULES`` order. ``today`` is the day of the event.

    ``sample_draw`` (in [0, 1), see ``deterministic_draw``) puts a rejection in the review sample when it
    is below ``rejection_sample_pct`` / 100.
    """
    if isinstance(rejection_sample_pct, bool) or not 0 <= rejection_sample_pct <= 100:
        raise InvalidInput(
            f"Het steekproefpercentage voor afwijzingen moet tussen 0 en 100 liggen (niet: {rejection_sample_pct!r}).",
            field="rejection_sample_pct",
        )
    if not 0 <= sample_draw < 1:
        raise ValueError("sample_draw must be in [0, 1)")
    drafts = [
        _rejected_without_decision(case, event, today),
        _rejection_review(case, event, today, rejection_sample_pct, sample_draw),
        _bounced(case, event, today),
        _re_report(case, event, today),
        _closed_without_outcome(case, event, today),
    ]
    return [draft for draft in drafts if draft is not None]


def _case_fields(case: CaseFacts) -> dict[str, object]:
    return {"case_id": case.case_id, "subcontractor_id": case.subcontractor_id}


def _reason_text(event: EventFacts) -> str:
    return f"reden {event.reason_code} - {event.reason_code.label}" if event.reason_code else "geen reden opgegeven"


def _rejected_without_decision(case: CaseFacts, event: EventFacts, today: date) -> SignalDraft | None:
    if event.action is not A.REJECT or event.provision_type is not ProvisionType.INDIVIDUAL:
        return None  # an algemene voorziening needs no beschikking
    missing = []
    if event.beschikking_issued is not True:
        missing.append("zonder beschikking")
    if event.objection_info_given is not True:
        missing.append("zonder informatie over het recht van bezwaar")
    if not missing:
        return None
    return _draft(
        R.REJECTED_WITHOUT_DECISION,
        key=rejected_without_decision_key(case.case_id),
        title=f"Afwijzing {' en '.join(missing)}",
        detail=(
            f"Deze aanvraag voor een maatwerkvoorziening is op {format_date(today)} afgewezen "
            f"({_reason_text(event)}), {' en '.join(missing)}. Zonder beschikking en uitleg over bezwaar kan "
            "de inwoner geen bezwaar maken (Awb art. 6:7)."
        ),
        contract_id=case.contract_id,
        today=today,
        **_case_fields(case),
    )


def _rejection_review(
    case: CaseFacts, event: EventFacts, today: date, sample_pct: float, draw: float
) -> SignalDraft | None:
    if event.action is not A.REJECT or not draw < sample_pct / 100:
        return None
    return _draft(
        R.REJECTION_REVIEW,
        key=rejection_review_key(case.case_id),
        title="Afwijzing in de steekproef: graag beoordelen",
        detail=(
            f"Deze afwijzing van {format_date(today)} ({_reason_text(event)}) is getrokken voor de steekproef "
            f"van {format_number(sample_pct, 0 if float(sample_pct).is_integer() else 1)}% van alle afwijzingen. "
            "De gemeente beoordeelt of de afwijzing terecht is."
        ),
        contract_id=case.contract_id,
        today=today,
        **_case_fields(case),
    )


def _bounced(case: CaseFacts, event: EventFacts, today: date) -> SignalDraft | None:
    if event.action is not A.DECLINE or case.decline_count < BOUNCE_THRESHOLD:
        return None
    return _draft(
        R.BOUNCED,
        key=bounced_key(case.case_id),
        title=f"Casus {case.decline_count} keer geweigerd door onderaannemers",
        detail=(
            f"Deze casus is {case.decline_count} keer geweigerd door een onderaannemer, het laatst op "
            f"{format_date(today)} ({_reason_text(event)}). De inwoner wacht zolang op ondersteuning."
        ),
        severity=Severity.HIGH if case.decline_count >= BOUNCE_HIGH else None,
        contract_id=case.contract_id,
        today=today,
        **_case_fields(case),
    )


def _re_report(case: CaseFacts, event: EventFacts, today: date) -> SignalDraft | None:
    closed_on, melding = case.pseudonym_previous_closed_on, case.melding_date or today
    if event.action is not None or closed_on is None:
        return None
    days = (melding - closed_on).days
    if not 0 <= days <= RE_REPORT_WINDOW_DAYS:
        return None
    return _draft(
        R.RE_REPORT,
        key=re_report_key(case.case_id),
        title=f"Opnieuw gemeld {days} dagen na afsluiten",
        detail=(
            f"Deze inwoner meldde zich op {format_date(melding)} opnieuw, {days} dagen nadat een eerdere "
            f"casus op {format_date(closed_on)} was afgesloten (grens: {RE_REPORT_WINDOW_DAYS} dagen). "
            "Was de eerdere casus te vroeg afgesloten?"
        ),
        contract_id=case.contract_id,
        today=today,
        **_case_fields(case),
    )


def _closed_without_outcome(case: CaseFacts, event: EventFacts, today: date) -> SignalDraft | None:
    if event.action not in (A.END_CARE, A.CLOSE) or case.end_reason is not None:
        return None
    if event.action is A.CLOSE and event.from_status in OUTCOME_STATUSES:
        return None  # rejected, referred or withdrawn: the outcome is on record
    what = "beëindigd" if event.action is A.END_CARE else "afgesloten"
    return _draft(
        R.CLOSED_WITHOUT_OUTCOME,
        key=closed_without_outcome_key(case.case_id),
        title=f"Casus {what} zonder reden van beëindiging",
        detail=(
            f"Deze casus is op {format_date(today)} {what} zonder reden van beëindiging (WMO588) en zonder "
            "afwijzing, doorverwijzing of intrekking. Zo is niet te zien wat de ondersteuning heeft opgeleverd."
        ),
        contract_id=case.contract_id,
        today=today,
        **_case_fields(case),
    )


def raised_signal(
    signal_uuid: UUID | str,
    *,
    contract_id: int,
    title: str,
    detail: str,
    today: date,
    case_id: int | None = None,
    subcontractor_id: int | None = None,
) -> SignalDraft:
    """A signal a subcontractor or coordinator raises itself; it goes straight to the municipality."""
    title = (title or "").strip()
    detail = (detail or "").strip()
    if not title:
        raise InvalidInput("Geef het signaal een titel.", field="title")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"De titel mag hoogstens {MAX_TITLE} tekens lang zijn.", field="title")
    if not detail:
        raise InvalidInput("Beschrijf wat er aan de hand is.", field="detail")
    if len(detail) > MAX_TEXT:
        raise InvalidInput(f"De beschrijving mag hoogstens {MAX_TEXT} tekens lang zijn.", field="detail")
    return _draft(
        R.RAISED,
        key=raised_key(signal_uuid),
        title=title,
        detail=detail,
        contract_id=contract_id,
        today=today,
        case_id=case_id,
        subcontractor_id=subcontractor_id,
    )


# --- time-driven rules -----------------------------------------------------------------------------

# Escalation of a stalled case by lateness (days in status / norm) and the severity per level.
SEVERITY_BY_LEVEL = {1: Severity.LOW, 2: Severity.MEDIUM, 3: Severity.HIGH}


def escalation_level(ratio: float | Fraction) -> int:
    """``ratio`` = working days in status / the norm. 0: within the norm; 1: late; 2: at least twice the
    norm; 3: at least three times the norm ("3x late")."""
    if ratio >= 3:
        return 3
    if ratio >= 2:
        return 2
    return 1 if ratio > 1 else 0


@dataclass(frozen=True)
class StalledCandidate:
    """A case the scan's SQL selected (open, ``status_since`` old enough for some norm)."""

    case_id: int
    contract_id: int
    status: CaseStatus
    status_since: date
    subcontractor_id: int | None
    ball: Party | None  # ball_in_court of the case

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", CaseStatus(self.status))
        if self.ball is not None:
            object.__setattr__(self, "ball", Party(self.ball))


def stalled_owner(ball: Party | None, subcontractor_id: int | None) -> Party:
    """Whoever holds the ball; a case waiting on the resident (on hold) or on no-one stays with the main
    contractor, who keeps the case moving; so does a subcontractor's ball without a subcontractor."""
    if ball in (Party.MUNICIPALITY, Party.MAIN_CONTRACTOR):
        return ball
    if ball is Party.SUBCONTRACTOR and subcontractor_id is not None:
        return ball
    return Party.MAIN_CONTRACTOR


def stalled_signals(
    cases: Iterable[StalledCandidate], norms: Mapping[CaseStatus, int], today: date
) -> list[SignalDraft]:
    """A signal per case that has been in its status more working days than the norm (strictly more)."""
    drafts = []
    for case in cases:
        norm = norms.get(case.status)
        if norm is None:
            continue
        days = working_days_between(case.status_since, today)
        level = escalation_level(Fraction(days, norm))
        if level == 0:
            continue
        owner = stalled_owner(case.ball, case.subcontractor_id)
        drafts.append(
            _draft(
                R.STALLED,
                key=stalled_key(case.case_id, case.status, case.status_since),
                title=f"Casus ligt al {days} werkdagen in '{case.status.label}'",
                detail=(
                    f"Deze casus staat sinds {format_date(case.status_since)} op '{case.status.label}': "
                    f"{days} werkdagen op {format_date(today)}, terwijl de norm {norm} werkdagen is "
                    f"({days - norm} werkdagen te laat, escalatieniveau {level} van 3). "
                    f"De bal ligt bij: {owner.label.lower()}."
                ),
                owner=owner,
                severity=SEVERITY_BY_LEVEL[level],
                contract_id=case.contract_id,
                today=today,
                case_id=case.case_id,
                subcontractor_id=case.subcontractor_id,
                escalation_level=level,
            )
        )
    return drafts


LEGAL_TERM_CLOCKS = ("assessment", "decision")  # not objection: that is the resident's term


@dataclass(frozen=True)
class CaseClocks:
    case_id: int
    contract_id: int
    subcontractor_id: int | None
    clocks: Sequence[ClockState]  # compute_clocks(...) of the case


def legal_term_signals(cases: Iterable[CaseClocks], today: date) -> list[SignalDraft]:
    """A signal per exceeded assessment or decision clock (also when it stopped late: the breach stays)."""
    drafts = []
    for case in cases:
        for clock in case.clocks:
            since = clock.exceeded_since
            if clock.code not in LEGAL_TERM_CLOCKS or since is None or since > today:
                continue
            if clock.stopped_on is None:
                state = f"De termijn loopt nog: {(today - clock.deadline).days} dagen over de termijn."
            else:
                late = (clock.stopped_on - clock.deadline).days
                state = f"Afgerond op {format_date(clock.stopped_on)}, {late} dagen te laat."
            drafts.append(
                _draft(
                    R.LEGAL_TERM_EXCEEDED,
                    key=legal_term_key(case.case_id, clock.code),
                    title=f"Wettelijke termijn overschreden: {clock.label}",
                    detail=(
                        f"De termijn '{clock.label}' ({clock.legal_basis}) begon op {format_date(clock.started_on)} "
                        f"en liep af op {format_date(clock.deadline)}; overschreden sinds "
                        f"{format_date(since)}. {state}"
                    ),
                    contract_id=case.contract_id,
                    today=today,
                    case_id=case.case_id,
                    subcontractor_id=case.subcontractor_id,
                )
            )
    return drafts


@dataclass(frozen=True)
class MissingReport:
    """A learning-cycle report that has not been submitted (the service's SQL finds these)."""

    contract_id: int
    period_id: int
    period_label: str  # e.g. "2026 K1"
    organisation_id: int
    organisation_party: Party  # subcontractor (own report) or main_contractor (contract report)
    deadline: date
    report_id: int | None = None  # a draft that exists but was not submitted

    def __post_init__(self) -> None:
        object.__setattr__(self, "organisation_party", Party(self.organisation_party))


def report_overdue_signals(missing: Iterable[MissingReport], today: date) -> list[SignalDraft]:
    """A signal per report still missing after its deadline (the deadline day itself is still on time)."""
    drafts = []
    for report in missing:
        if today <= report.deadline:
            continue
        late = working_days_between(report.deadline, today)
        whose = "het verslag" if report.organisation_party is Party.SUBCONTRACTOR else "het contractverslag"
        drafts.append(
            _draft(
                R.REPORT_OVERDUE,
                key=report_overdue_key(report.period_id, report.organisation_id),
                title=f"Leercyclus {report.period_label}: {whose} is niet ingediend",
                detail=(
                    f"De uiterste datum voor {whose} over {report.period_label} was "
                    f"{format_date(report.deadline)}. Op {format_date(today)} is het nog niet ingediend "
                    f"({late} werkdagen te laat)."
                ),
                owner=report.organisation_party,
                contract_id=report.contract_id,
                today=today,
                subcontractor_id=report.organisation_id
                if report.organisation_party is Party.SUBCONTRACTOR
                else None,
                report_id=report.report_id,
            )
        )
    return drafts


class OutlierMetric(CodeList, unknown="Onbekende maatstaf"):
    REJECTION_RATE = "rejection_rate", "Afwijzingspercentage"
    DECLINE_RATE = "decline_rate", "Weigeringspercentage"
    WAITING_DAYS = "waiting_days", "Gemiddelde wachttijd"


@dataclass(frozen=True)
class MetricSpec:
    is_share: bool  # numerator / denominator is a share (shown as a percentage) or an average
    unit: str  # the unit of a difference, in Dutch
    min_difference: Fraction  # the smallest difference that counts, whatever the spread
    what: str  # what the denominator counts, in Dutch


OUTLIER_METRICS: dict[OutlierMetric, MetricSpec] = {
    OutlierMetric.REJECTION_RATE: MetricSpec(True, "procentpunt", Fraction(15, 100), "beoordeelde aanvragen"),
    OutlierMetric.DECLINE_RATE: MetricSpec(True, "procentpunt", Fraction(15, 100), "toewijzingsverzoeken"),
    OutlierMetric.WAITING_DAYS: MetricSpec(False, "dagen", Fraction(10), "gestarte casussen"),
}
MIN_PEERS = 3


@dataclass(frozen=True)
class OutlierFinding:
    subcontractor_id: int
    rate: Fraction
    peer_mean: Fraction
    peer_std: float
    peers: int

    @property
    def difference(self) -> Fraction:
        return self.rate - self.peer_mean


def find_outliers(
    figures: Mapping[int, tuple[int, int]],
    *,
    min_volume: int = 20,
    z: float = 2.0,
    min_difference: Fraction | float | None = None,
) -> list[OutlierFinding]:
    """The subcontractors whose rate is far from their peers' (see ``outlier_signals``), by id.

    Exact arithmetic (fractions) so the answer cannot depend on the order of ``figures``.
    """
    if min_volume < 1 or z < 0:
        raise ValueError("min_volume must be at least 1 and z at least 0")
    threshold = Fraction(str(min_difference)) if min_difference is not None else Fraction(15, 100)
    z_exact = Fraction(str(z))
    rates = {sub: Fraction(num, den) for sub, (num, den) in figures.items() if den >= min_volume}
    findings = []
    peer_count = len(rates) - 1
    if peer_count < MIN_PEERS:
        return findings
    # Leave-one-out from two sums (exact in fractions, so equal to summing the peers one by one):
    # peers' mean = (S - r) / n, population variance = (Q - r^2) / n - mean^2.
    total = sum(rates.values(), Fraction(0))
    squares = sum((rate * rate for rate in rates.values()), Fraction(0))
    for sub in sorted(rates):
        rate = rates[sub]
        mean = (total - rate) / peer_count
        variance = (squares - rate * rate) / peer_count - mean * mean  # population
        difference = rate - mean
        # |difference| >= z * std, compared squared to stay exact; and at least the minimum difference.
        if abs(difference) >= threshold and difference**2 >= z_exact**2 * variance:
            findings.append(OutlierFinding(sub, rate, mean, float(variance) ** 0.5, peer_count))
    return findings


def outlier_signals(
    figures: Mapping[int, tuple[int, int]],
    metric: OutlierMetric | str,
    *,
    contract_id: int,
    period: str,
    today: date,
    min_volume: int = 20,
    z: float = 2.0,
    min_difference: Fraction | float | None = None,
) -> list[SignalDraft]:
    """Subcontractors whose figure is far from that of their peers.

    ``figures``: per subcontractor id ``(numerator, denominator)``, e.g. (rejections, assessed requests),
    (declines, allocation requests) or (total waiting days, started cases). The method, in plain words:

    1. Only subcontractors with a denominator of at least ``min_volume`` take part: below that one or two
       cases swing the figure, so a small subcontractor is never flagged and never counts as a peer.
    2. For each taking part, its peers are all the *other* taking part subcontractors (leave-one-out, so
       an outlier does not pull the average it is compared with). With fewer than 3 peers there is no
       meaningful average and no signal.
    3. It is flagged when its rate differs from the peers' mean rate by at least ``z`` times the peers'
       (population) standard deviation *and* by at least a minimum difference (the metric's default: 15
       percentage points for a share, 10 days for the waiting time). The minimum keeps a tiny, practically
       irrelevant difference from being flagged when the peers are all alike (standard deviation 0).

    Both directions count: a figure far below the peers can also mean something is not being recorded.
    """
    metric = OutlierMetric.parse(metric, field="metric")
    spec = OUTLIER_METRICS[metric]
    minimum = spec.min_difference if min_difference is None else min_difference
    findings = find_outliers(figures, min_volume=min_volume, z=z, min_difference=minimum)

    def show(value: Fraction | float) -> str:
        return format_percentage(float(value) * 100) if spec.is_share else f"{format_number(float(value), 1)} dagen"

    def show_difference(value: Fraction | float) -> str:
        return f"{format_number(float(value) * (100 if spec.is_share else 1), 1)} {spec.unit}"

    drafts = []
    for found in findings:
        numerator, denominator = figures[found.subcontractor_id]
        direction = "hoger" if found.difference > 0 else "lager"
        drafts.append(
            _draft(
                R.OUTLIER,
                key=outlier_key(contract_id, found.subcontractor_id, metric, period),
                title=f"{metric.label} {period} wijkt af van vergelijkbare onderaannemers",
                detail=(
                    f"{metric.label} over {period}: {show(found.rate)} "
                    f"({numerator} van {denominator} {spec.what}). Het gemiddelde van {found.peers} andere "
                    f"onderaannemers met minstens {min_volume} {spec.what} is {show(found.peer_mean)} "
                    f"(standaardafwijking {show_difference(found.peer_std)}). Dat is "
                    f"{show_difference(abs(found.difference))} {direction}; de drempel is {format_number(z, 1)} "
                    f"keer de standaardafwijking en minstens {show_difference(minimum)}."
                ),
                contract_id=contract_id,
                today=today,
                subcontractor_id=found.subcontractor_id,
            )
        )
    return drafts


def savings_behind_signal(
    contract_id: int,
    year: int,
    cumulative_target_cents: int,
    cumulative_actual_savings_cents: int,
    tolerance_pct: float,
    *,
    today: date,
    level: str = "contract",
) -> SignalDraft | None:
    """A signal when the cumulative savings are behind the target by more than ``tolerance_pct`` percent of
    the target (exactly at the tolerance is still on track)."""
    for name, amount in (("target", cumulative_target_cents), ("actual", cumulative_actual_savings_cents)):
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InvalidInput(f"Bedragen zijn hele centen (niet: {amount!r}).", field=name)
    if isinstance(tolerance_pct, bool) or not 0 <= tolerance_pct <= 100:
        raise InvalidInput(
            f"De tolerantie moet een percentage van 0 tot en met 100 zijn (niet: {tolerance_pct!r}).",
            field="tolerance_pct",
        )
    shortfall = cumulative_target_cents - cumulative_actual_savings_cents
    allowed = abs(cumulative_target_cents) * Fraction(str(tolerance_pct)) / 100
    if shortfall <= allowed:
        return None
    share = (
        f" ({format_percentage(shortfall / abs(cumulative_target_cents) * 100)} van het doel)"
        if cumulative_target_cents
        else ""
    )
    return _draft(
        R.SAVINGS_BEHIND,
        key=savings_behind_key(contract_id, year, level),
        title=f"Besparing {year} blijft achter: {format_money(shortfall)} achter op het pad"
        + ("" if level == "contract" else f" (niveau '{level}')"),
        detail=(
            f"Doel tot en met {year}: {format_money(cumulative_target_cents)} besparing; gerealiseerd: "
            f"{format_money(cumulative_actual_savings_cents)}. De achterstand van {format_money(shortfall)}{share} "
            f"is groter dan de afgesproken tolerantie van {format_percentage(float(tolerance_pct))}."
        ),
        contract_id=contract_id,
        today=today,
    )


# --- the signal lifecycle ----------------------------------------------------------------------------


class SignalStatus(CodeList, unknown="Onbekende signaalstatus"):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Toegelicht"
    RESOLVED = "resolved", "Opgelost"
    ESCALATED = "escalated", "Geëscaleerd"
    CLOSED = "closed", "Vervallen"  # closed automatically: the cause has gone


class SignalAction(CodeList, unknown="Onbekende actie op een signaal"):
    ACKNOWLEDGE = "acknowledge", "Toelichten"
    RESOLVE = "resolve", "Afhandelen"
    ESCALATE = "escalate", "Escaleren naar de gemeente"
    REOPEN = "reopen", "Heropenen"
    AUTO_CLOSE = "auto_close", "Automatisch sluiten"


class Actor(StrEnum):
    """Who may take a step. An actor may be both owner and municipality (a signal the municipality owns)."""

    OWNER = "owner"  # a person of the owner organisation
    MUNICIPALITY = "municipality"  # a person of the municipality
    SYSTEM = "system"  # a job (actor_role None)


@dataclass(frozen=True)
class SignalStep:
    sources: frozenset[SignalStatus]
    target: SignalStatus
    actors: frozenset[Actor]
    text_required: str  # the Dutch message when the text is missing


SS, SA = SignalStatus, SignalAction
ACTIVE_SIGNAL_STATUSES = frozenset({SS.OPEN, SS.ACKNOWLEDGED, SS.ESCALATED})
_OWNER, _MUNI, _SYSTEM = Actor.OWNER, Actor.MUNICIPALITY, Actor.SYSTEM

# fmt: off
SIGNAL_LIFECYCLE: dict[SignalAction, SignalStep] = {
    SA.ACKNOWLEDGE: SignalStep(frozenset({SS.OPEN}), SS.ACKNOWLEDGED, frozenset({_OWNER}),
                               "Schrijf een toelichting: wat is er aan de hand en wat gebeurt er nu?"),
    SA.RESOLVE:     SignalStep(ACTIVE_SIGNAL_STATUSES, SS.RESOLVED, frozenset({_MUNI}),
                               "Beschrijf hoe het signaal is afgehandeld."),
    SA.ESCALATE:    SignalStep(frozenset({SS.OPEN, SS.ACKNOWLEDGED}), SS.ESCALATED, frozenset({_OWNER, _MUNI}),
                               "Schrijf waarom het signaal naar de gemeente gaat."),
    SA.REOPEN:      SignalStep(frozenset({SS.RESOLVED, SS.CLOSED}), SS.OPEN, frozenset({_MUNI}),
                               "Schrijf waarom het signaal weer open gaat."),
    SA.AUTO_CLOSE:  SignalStep(ACTIVE_SIGNAL_STATUSES, SS.CLOSED, frozenset({_SYSTEM}),
                               "Een automatische sluiting heeft een reden nodig."),
}
# fmt: on

ACTING_ROLES = frozenset({Role.CONTRACT_MANAGER, Role.COORDINATOR, Role.SUBCONTRACTOR})  # not admin
MAX_TEXT = 10_000

_WHO = {
    frozenset({_OWNER}): "de eigenaar van het signaal",
    frozenset({_MUNI}): "de gemeente",
    frozenset({_OWNER, _MUNI}): "de eigenaar van het signaal of de gemeente",
    frozenset({_SYSTEM}): "het systeem",
}


def decide_signal_transition(
    status: SignalStatus | str,
    action: SignalAction | str,
    actor_role: Role | None,
    actor_is_owner: bool,
    actor_is_municipality: bool,
    text: str | None,
) -> tuple[SignalStatus, str]:
    """The new status and the tidied text, or IllegalTransition / NotPermitted / InvalidInput (Dutch).

    ``actor_role`` None is the system (a job). ``text`` is the explanation, resolution or reason.
    """
    status = SignalStatus.parse(status, field="status")
    action = SignalAction.parse(action, field="action")
    step = SIGNAL_LIFECYCLE[action]
    if status not in step.sources:
        raise IllegalTransition(f"Een signaal met status '{status.label}' kan niet '{action.label.lower()}'.")
    if actor_role is None:
        actors = {Actor.SYSTEM}
    elif Role(actor_role) in ACTING_ROLES:
        actors = {Actor.OWNER} if actor_is_owner else set()
        actors |= {Actor.MUNICIPALITY} if actor_is_municipality else set()
    else:
        actors = set()
    if not actors & step.actors:
        raise NotPermitted(f"Alleen {_WHO[step.actors]} kan '{action.label.lower()}'.")
    cleaned = text.strip() if isinstance(text, str) else ""
    if not cleaned:
        raise InvalidInput(step.text_required, field="text")
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput(f"De tekst mag hoogstens {MAX_TEXT} tekens lang zijn.", field="text")
    return step.target, cleaned


def allowed_signal_actions(
    status: SignalStatus | str, actor_role: Role | None, actor_is_owner: bool, actor_is_municipality: bool
) -> list[SignalAction]:
    """The actions this actor may take now (text aside), in table order: the buttons to show."""
    allowed = []
    for action in SIGNAL_LIFECYCLE:
        try:
            decide_signal_transition(status, action, actor_role, actor_is_owner, actor_is_municipality, "x")
        except (IllegalTransition, NotPermitted):
            continue
        allowed.append(action)
    return allowed


# Who is waited on: the owner to explain, then the municipality to review; nobody once it is done.
SIGNAL_BALL: dict[SignalStatus, Party | Actor | None] = {
    SS.OPEN: Actor.OWNER,
    SS.ACKNOWLEDGED: Party.MUNICIPALITY,
    SS.ESCALATED: Party.MUNICIPALITY,
    SS.RESOLVED: None,
    SS.CLOSED: None,
}


def ball_for_signal(status: SignalStatus | str, owner_party: Party) -> Party | None:
    holder = SIGNAL_BALL[SignalStatus(status)]
    return Party(owner_party) if holder is Actor.OWNER else holder


def is_overdue(response_due: date | None, today: date) -> bool:
    """Past the response deadline (the deadline day itself is on time)."""
    return response_due is not None and today > response_due


# --- automatic closing -------------------------------------------------------------------------------

AUTO_CLOSE_REASONS: dict[SignalRule, str] = {
    R.STALLED: "De casus is verder gegaan.",
    R.LEGAL_TERM_EXCEEDED: "De termijnoverschrijding geldt niet meer: de datums van de casus zijn gecorrigeerd.",
    R.REPORT_OVERDUE: "Het verslag is alsnog ingediend.",
    R.OUTLIER: "Het cijfer ligt weer in de buurt van dat van de andere onderaannemers.",
    R.SAVINGS_BEHIND: "De besparing ligt weer binnen de tolerantie van het afgesproken pad.",
}


def auto_close_reason(
    rule: SignalRule | str, still_true: bool, *, current_status: CaseStatus | str | None = None
) -> str | None:
    """The Dutch reason to close a time-driven signal whose cause has gone; None when it should stay open
    (the cause still holds, or the rule is event-driven: those need a person to close them)."""
    rule = SignalRule.parse(rule, field="rule")
    if still_true or rule not in SCAN_RULES:
        return None
    if rule is R.STALLED and current_status is not None:
        return f"De casus is verder gegaan: status is nu '{CaseStatus(current_status).label}'."
    return AUTO_CLOSE_REASONS[rule]


__all__ = [
    "ACTIVE_SIGNAL_STATUSES",
    "AUTO_CLOSE_REASONS",
    "BALL_HOLDER",
    "DEFAULT_RESPONSE_DAYS",
    "DEFAULT_STATUS_NORMS",
    "EVENT_RULES",
    "LEGAL_TERM_CLOCKS",
    "OUTLIER_METRICS",
    "RULES",
    "SCAN_RULES",
    "SEVERITY_BY_LEVEL",
    "SIGNAL_BALL",
    "SIGNAL_LIFECYCLE",
    "CaseClocks",
    "CaseFacts",
    "EventFacts",
    "MissingReport",
    "OutlierFinding",
    "OutlierMetric",
    "RuleSpec",
    "Severity",
    "SignalAction",
    "SignalDraft",
    "SignalRule",
    "SignalStatus",
    "StalledCandidate",
    "Trigger",
    "allowed_signal_actions",
    "auto_close_reason",
    "ball_for_signal",
    "bounced_key",
    "closed_without_outcome_key",
    "decide_signal_transition",
    "deterministic_draw",
    "effective_norms",
    "escalation_level",
    "find_outliers",
    "is_overdue",
    "legal_term_key",
    "legal_term_signals",
    "outlier_key",
    "outlier_signals",
    "raised_key",
    "raised_signal",
    "re_report_key",
    "rejected_without_decision_key",
    "rejection_review_key",
    "report_overdue_key",
    "report_overdue_signals",
    "savings_behind_key",
    "savings_behind_signal",
    "signals_for_event",
    "stalled_key",
    "stalled_owner",
    "stalled_signals",
]
