"""Signal use cases. Event-driven rules run inside the transaction of the case event that triggers them;
time-driven rules run in ``run_scan`` (a job); people act on signals through the lifecycle functions.

Every signal is written through ``upsert_drafts``: ``INSERT ... ON CONFLICT (dedup_key) DO UPDATE``, so a
rule that fires twice (a rerun, two workers at once, a retried job) never duplicates a signal. The update
refreshes the figures of a signal that is still being worked on (severity, escalation level, title and
detail grow with the lateness), revives a signal the system closed when its cause returns, and never
touches a signal a person resolved.
"""

import time
import uuid
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache

from piccolo.columns.combination import Combinable, WhereRaw
from piccolo.query.functions.aggregate import Count, Min

from portal.accounts import audit, policy
from portal.accounts.rules import Actor, Role, default_purpose
from portal.accounts.tables import Organisation, User
from portal.cases.clocks import CLOCKS, CaseDates, ClockState, StatusChange, TermUnit, compute_clocks, term_deadline
from portal.cases.rules import (
    TERMINAL_STATUSES,
    CaseAction,
    CaseState,
    CaseStatus,
    Party,
    Transition,
    ball_in_court,
)
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, StatusNorm, Subcontract
from portal.db import (
    amsterdam_day_sql,
    any_of,
    batches,
    engine,
    read_transaction,
    stored_date,
    write_transaction,
)
from portal.lib.calendar_nl import add_working_days, is_working_day
from portal.lib.errors import Conflict, InvalidInput, NotFound, NotPermitted
from portal.lib.formatting import AMSTERDAM, format_date, today_nl
from portal.lib.mail import Mail, SmtpConfig, send_mails
from portal.lib.pseudonym import refuse_bsn_in_text
from portal.lib.tables_base import utc_now
from portal.reports.tables import Report, ReportPeriod
from portal.savings import service as savings_service
from portal.settings import Settings, get_settings
from portal.signals import rules, scan_inputs
from portal.signals.rules import (
    ACTIVE_SIGNAL_STATUSES,
    RULES,
    CaseClocks,
    CaseFacts,
    EventFacts,
    MissingReport,
    OutlierMetric,
    Severity,
    SignalAction,
    SignalDraft,
    SignalRule,
    SignalStatus,
    StalledCandidate,
)
from portal.signals.tables import Digest, Signal, SignalComment

ACTIVE = sorted(status.value for status in ACTIVE_SIGNAL_STATUSES)
NOT_FOUND_SIGNAL = "Dit signaal bestaat niet, of u heeft er geen toegang toe."
HIDDEN_TITLE = "Vertrouwelijk signaal van een onderaannemer"
HIDDEN_TEXT = "De inhoud van dit vertrouwelijke signaal is alleen zichtbaar voor de gemeente en de melder."
STALE_SIGNAL = "Dit signaal is intussen gewijzigd door iemand anders. Laad de pagina opnieuw."
UPSERT_BATCH = 200  # rows per INSERT (16 parameters each: far below both databases' limits)
IN_BATCH = 5000  # ids per is_in() query
LEGAL_TERM_LOOKBACK_DAYS = 90  # a clock that stopped late in this window still yields its signal
OUTLIER_WINDOW_DAYS = 365
OUTLIER_PERIOD = "afgelopen 12 maanden"  # in the dedup key: one signal per subcontractor and metric
RE_REPORT_STATUSES = (CaseStatus.CLOSED.value, CaseStatus.ENDED.value)
PAGE_SIZE = 200


def _start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in Amsterdam, as UTC."""
    return datetime.combine(day, dtime.min, tzinfo=AMSTERDAM).astimezone(UTC)


# --- parties and owners ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    municipality_id: int
    main_contractor_id: int | None

    @property
    def coordinating_id(self) -> int:
        return self.main_contractor_id if self.main_contractor_id is not None else self.municipality_id


async def _parties(contract_ids: Iterable[int] | None = None) -> dict[int, Parties]:
    query = Contract.select(Contract.id, Contract.municipality, Contract.main_contractor)
    ids = sorted(set(contract_ids)) if contract_ids is not None else None
    if ids is not None:
        if not ids:
            return {}
        query = query.where(Contract.id.is_in(ids))
    return {row["id"]: Parties(row["municipality"], row["main_contractor"]) for row in await query}


def _owner_organisation(draft: SignalDraft, parties: Parties) -> int:
    if draft.owner_party is Party.MUNICIPALITY:
        return parties.municipality_id
    if draft.owner_party is Party.SUBCONTRACTOR and draft.subcontractor_id is not None:
        return draft.subcontractor_id
    return parties.coordinating_id  # the main contractor, or the municipality that coordinates itself


def _owner_party(owner_organisation: int, parties: Parties) -> Party:
    if owner_organisation == parties.coordinating_id and parties.main_contractor_id is not None:
        return Party.MAIN_CONTRACTOR
    if owner_organisation == parties.municipality_id:
        return Party.MUNICIPALITY
    return Party.SUBCONTRACTOR


# --- the upsert ----------------------------------------------------------------------------------------

_COLUMNS = ('contract', 'rule', 'severity', 'dedup_key', 'status', '"case"', 'report_id', 'subcontractor',
            'owner_organisation', 'title', 'detail', 'confidential', 'response_due', 'escalation_level',
            'created_at', 'updated_at')
# PostgreSQL: one array per column, unnested into rows (created_at and updated_at are one moment for all).
_ARRAY_TYPES = ("int", "text", "text", "text", "text", "int", "int", "int", "int", "text", "text", "bool", "date",
                "int")
_ARRAYS = ", ".join(f"{{}}::{kind}[]" for kind in _ARRAY_TYPES)
_UNNEST = f"SELECT t.*, {{}}::timestamptz, {{}}::timestamptz FROM unnest({_ARRAYS}) AS t"  # noqa: S608 (our types)
_ROW = "(" + ", ".join("{}" for _ in _COLUMNS) + ")"
_CLOSED = SignalStatus.CLOSED.value
_RESOLVED = SignalStatus.RESOLVED.value
# A resolved signal stays resolved; a closed one (closed by the system: its cause had gone) is revived
# when the cause returns; an active one gets the new figures. Unchanged rows are not touched at all.
_ON_CONFLICT = f"""
ON CONFLICT (dedup_key) DO UPDATE SET
    severity = excluded.severity,
    escalation_level = excluded.escalation_level,
    title = excluded.title,
    detail = excluded.detail,
    updated_at = excluded.updated_at,
    status = CASE WHEN signal.status = '{_CLOSED}' THEN 'open' ELSE signal.status END,
    response_due = CASE WHEN signal.status = '{_CLOSED}' THEN excluded.response_due ELSE signal.response_due END,
    resolution = CASE WHEN signal.status = '{_CLOSED}' THEN NULL ELSE signal.resolution END,
    closed_at = CASE WHEN signal.status = '{_CLOSED}' THEN NULL ELSE signal.closed_at END
WHERE signal.status <> '{_RESOLVED}' AND (
    signal.status = '{_CLOSED}' OR signal.severity <> excluded.severity
    OR signal.escalation_level <> excluded.escalation_level OR signal.title <> excluded.title
    OR signal.detail <> excluded.detail)
RETURNING id, dedup_key"""
# PostgreSQL tells an inserted row from an updated one (xmax is 0 only for a new row version without a
# predecessor), so "created" counts what this statement created, also when another scan runs at the same time.
_RETURNING_INSERTED = ", (xmax = 0) AS inserted"
UPSERT_BATCH_POSTGRES = 5000  # rows per INSERT ... SELECT FROM unnest(...): 16 parameters whatever the size


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0  # changed figures or revived


async def upsert_drafts(drafts: Sequence[SignalDraft], parties: dict[int, Parties] | None = None) -> UpsertResult:
    """Store drafts on their dedup key (call inside a write transaction). Safe under concurrency: the
    unique index on ``dedup_key`` decides, never a read-then-write in Python."""
    result = UpsertResult()
    if not drafts:
        return result
    if parties is None or any(draft.contract_id not in parties for draft in drafts):
        parties = {**(parties or {}), **await _parties({draft.contract_id for draft in drafts})}
    by_key = {draft.dedup_key: draft for draft in drafts}  # one row per key in one statement
    existing: dict[str, dict] = {}
    for batch in batches(list(by_key), IN_BATCH):
        for row in await Signal.select(Signal.dedup_key, Signal.status, Signal.severity, Signal.escalation_level,
                                       Signal.title, Signal.detail).where(any_of(Signal.dedup_key, batch)):
            existing[row["dedup_key"]] = row
    # Rows the statement below would leave alone anyway (a resolved signal; an active one with the same
    # figures) are not sent at all: an idle rerun then writes nothing. The ON CONFLICT clause still decides.
    changed = [draft for draft in by_key.values() if _would_change(existing.get(draft.dedup_key), draft)]
    now = utc_now()
    rows = [(draft.contract_id, draft.rule.value, draft.severity.value, draft.dedup_key, SignalStatus.OPEN.value,
             draft.case_id, draft.report_id, draft.subcontractor_id,
             _owner_organisation(draft, parties[draft.contract_id]), draft.title, draft.detail, False,
             draft.response_due, draft.escalation_level) for draft in changed]
    insert = f"INSERT INTO signal ({', '.join(_COLUMNS)}) "
    if engine().engine_type == "postgres":
        for batch in batches(rows, UPSERT_BATCH_POSTGRES):
            written = await Signal.raw(insert + _UNNEST + _ON_CONFLICT + _RETURNING_INSERTED,
                                       now, now, *(list(column) for column in zip(*batch, strict=True)))
            inserted = sum(1 for row in written if row["inserted"])
            result.created += inserted
            result.updated += len(written) - inserted
        return result
    # SQLite: writers take turns (IMMEDIATE transactions), so the keys read above are still the whole truth.
    result.created = len(set(by_key) - set(existing))
    for batch in batches(rows, UPSERT_BATCH):
        values = [value for row in batch for value in (*row, now, now)]
        sql = insert + "VALUES " + ", ".join(_ROW for _ in batch) + _ON_CONFLICT  # noqa: S608 (no input in the SQL)
        written = await Signal.raw(sql, *values)
        result.updated += sum(1 for row in written if row["dedup_key"] in existing)
    return result


def _would_change(row: dict | None, draft: SignalDraft) -> bool:
    """Whether the upsert's ON CONFLICT clause would insert or update for this draft (see ``_ON_CONFLICT``)."""
    if row is None or row["status"] == _CLOSED:
        return True
    if row["status"] == _RESOLVED:
        return False
    return (row["severity"], row["escalation_level"], row["title"], row["detail"]) != (
        draft.severity.value, draft.escalation_level, draft.title, draft.detail)


# --- event-driven rules (inside the case event's transaction) ---------------------------------------


async def on_case_registered(actor: Actor, case_id: int) -> None:
    """Called in the transaction that registers a case: the re-report rule."""
    case = await Case.select(Case.id, Case.contract, Case.status, Case.status_since, Case.subcontractor,
                             Case.melding_date, Case.pseudonym, Case.end_reason).where(Case.id == case_id).first()
    if case is None:
        return
    window_start = _start_of(case["melding_date"] - timedelta(days=rules.RE_REPORT_WINDOW_DAYS))
    previous = await Case.select(Case.status_since).where(
        Case.contract == case["contract"], Case.pseudonym == case["pseudonym"], Case.id != case_id,
        Case.status.is_in(list(RE_REPORT_STATUSES)), Case.status_since >= window_start,
    ).order_by(Case.status_since, ascending=False).first()
    facts = CaseFacts(
        case_id=case_id, contract_id=case["contract"], status=case["status"],
        status_since=stored_date(case["status_since"]), subcontractor_id=case["subcontractor"],
        pseudonym_previous_closed_on=stored_date(previous["status_since"]) if previous else None,
        melding_date=case["melding_date"], end_reason=case["end_reason"],
    )
    await _fire_event_rules(facts, EventFacts(action=None), today_nl())


_EVENT_ACTIONS = frozenset({CaseAction.REJECT, CaseAction.DECLINE, CaseAction.END_CARE, CaseAction.CLOSE})


async def on_case_event(actor: Actor, case_before: dict, transition: Transition, event_id: int) -> None:
    """Called in the transaction of every lifecycle step: rejected_without_decision, rejection_review,
    bounced and closed_without_outcome."""
    if transition.action not in _EVENT_ACTIONS:
        return  # no event rule looks at other steps: no queries at all
    case_id = case_before["id"]
    event = await CaseEvent.select(CaseEvent.occurred_at).where(CaseEvent.id == event_id).first()
    day = stored_date(event["occurred_at"]) if event else today_nl()
    declines = 0
    if transition.action is CaseAction.DECLINE:
        declines = await CaseEvent.count().where(CaseEvent.case == case_id,
                                                 CaseEvent.action == CaseAction.DECLINE.value)
    facts = CaseFacts(
        case_id=case_id, contract_id=case_before["contract"], status=transition.to_status, status_since=day,
        # the subcontractor concerned: the one that declined, or the one the case is with
        subcontractor_id=transition.subcontractor_id or case_before["subcontractor"],
        decline_count=declines, melding_date=case_before["melding_date"],
        end_reason=transition.end_reason or case_before["end_reason"],
    )
    event_facts = EventFacts(
        action=transition.action, from_status=transition.from_status, reason_code=transition.reason_code,
        beschikking_issued=transition.beschikking_issued, objection_info_given=transition.objection_info_given,
        provision_type=case_before.get("provision_type") or "individual",
    )
    await _fire_event_rules(facts, event_facts, day)


async def _fire_event_rules(case: CaseFacts, event: EventFacts, day: date) -> None:
    contract = await Contract.select(Contract.id, Contract.municipality, Contract.main_contractor,
                                     Contract.rejection_review_sample_pct).where(
        Contract.id == case.contract_id).first()
    drafts = rules.signals_for_event(case, event, today=day,
                                     rejection_sample_pct=contract["rejection_review_sample_pct"],
                                     sample_draw=rules.deterministic_draw(case.case_id))
    if drafts:
        parties = {contract["id"]: Parties(contract["municipality"], contract["main_contractor"])}
        await upsert_drafts(drafts, parties)


# --- the scan (time-driven rules) -------------------------------------------------------------------


@dataclass
class RuleSummary:
    candidates: int = 0
    signals: int = 0  # drafts the rule produced (signals that should be active)
    created: int = 0
    updated: int = 0
    closed: int = 0
    millis: float = 0.0
    skipped: int = 0  # contracts left alone: the rule already ran on the same inputs today


@dataclass
class ScanSummary:
    today: date
    rules: dict[str, RuleSummary] = field(default_factory=dict)
    millis: float = 0.0

    def as_dict(self) -> dict:
        return {"today": self.today.isoformat(), "millis": self.millis,
                "rules": {name: vars(summary) for name, summary in self.rules.items()}}

    @property
    def created(self) -> int:
        return sum(summary.created for summary in self.rules.values())


@dataclass
class RuleOutcome:
    drafts: list[SignalDraft]
    candidates: int
    # dedup keys the rule looked at: an active signal with such a key that is no longer drafted has lost its
    # cause. None: the rule looked at everything (every active signal of the rule is in scope).
    evaluated: Container[str] | None = None
    # the same as a condition on Signal, for a rule that looked at more cases than it is worth listing
    evaluated_where: Combinable | None = None


async def run_scan(today: date | None = None, *, full: bool = False) -> ScanSummary:
    """Every time-driven rule once: upsert what fires, close what has lost its cause. Each rule runs in its
    own write transaction, so a scan that dies halfway leaves whole rules behind and a rerun completes it.

    A rule skips the contracts it already ran on today with the same inputs (``scan_inputs``): it would draft
    the same signals, and upserting them would change nothing. ``full`` runs every rule on every contract (after
    an upgrade that changed a rule's wording, say); the first scan of each day does so anyway."""
    today = today or today_nl()
    summary = ScanSummary(today=today)
    started = time.perf_counter()
    parties = await _parties()
    inputs = await scan_inputs.contract_inputs(parties)
    to_scan = {} if full else await scan_inputs.contracts_to_scan(inputs, today)
    steps = (
        (SignalRule.STALLED, _scan_stalled),
        (SignalRule.LEGAL_TERM_EXCEEDED, _scan_legal_terms),
        (SignalRule.REPORT_OVERDUE, _scan_reports),
        (SignalRule.OUTLIER, _scan_outliers),
        (SignalRule.SAVINGS_BEHIND, _scan_savings),
    )
    for rule, step in steps:
        rule_started = time.perf_counter()
        contracts: list[int] | None = to_scan.get(rule)  # None: every contract
        if contracts is not None and not contracts:
            summary.rules[rule.value] = RuleSummary(skipped=len(parties))
            continue
        if contracts is not None and len(contracts) == len(parties):
            contracts = None  # no need to name them all
        async with write_transaction():
            outcome = await step(today, parties, contracts)
            written = await upsert_drafts(outcome.drafts, parties)
            closed = await _auto_close(rule, {draft.dedup_key for draft in outcome.drafts}, outcome, contracts)
            await scan_inputs.remember(rule, inputs[rule], today, contracts)
        summary.rules[rule.value] = RuleSummary(
            candidates=outcome.candidates, signals=len({d.dedup_key for d in outcome.drafts}),
            created=written.created, updated=written.updated, closed=closed,
            skipped=len(parties) - len(contracts) if contracts is not None else 0,
            millis=round((time.perf_counter() - rule_started) * 1000, 1))
    summary.millis = round((time.perf_counter() - started) * 1000, 1)
    return summary


async def _auto_close(rule: SignalRule, produced: set[str], outcome: RuleOutcome,
                      contracts: Sequence[int] | None = None) -> int:
    """Close the rule's active signals whose cause has gone, with the rules' reason (set-based update). Only
    in ``contracts`` (None: all) when the rule looked at those alone."""
    query = Signal.select(Signal.id, Signal.dedup_key, Signal.case, Signal.status).where(
        Signal.rule == rule.value, Signal.status.is_in(ACTIVE))
    if contracts is not None:
        query = query.where(any_of(Signal.contract, contracts))
    if outcome.evaluated_where is not None:
        query = query.where(outcome.evaluated_where)
    evaluated = outcome.evaluated
    gone = [row for row in await query if row["dedup_key"] not in produced
            and (evaluated is None or row["dedup_key"] in evaluated)]
    if not gone:
        return 0
    statuses: dict[int, str] = {}
    if rule is SignalRule.STALLED:
        case_ids = sorted({row["case"] for row in gone if row["case"] is not None})
        for batch in batches(case_ids, IN_BATCH):
            statuses |= {row["id"]: row["status"] for row in
                         await Case.select(Case.id, Case.status).where(any_of(Case.id, batch))}
    by_reason: dict[str, list[int]] = defaultdict(list)
    for row in gone:
        reason = rules.auto_close_reason(rule, False, current_status=statuses.get(row["case"]))
        if reason is None:
            continue
        rules.decide_signal_transition(row["status"], SignalAction.AUTO_CLOSE, None, False, False, reason)
        by_reason[reason].append(row["id"])
    now, closed = utc_now(), 0
    for reason, ids in by_reason.items():
        for batch in batches(ids, IN_BATCH):
            done = await Signal.update({
                Signal.status: SignalStatus.CLOSED.value, Signal.resolution: reason, Signal.closed_at: now,
                Signal.updated_at: now,
            }).where(any_of(Signal.id, batch), Signal.status.is_in(ACTIVE)).returning(Signal.id)
            closed += len(done)
    return closed


def stalled_cutoff(today: date, norm: int) -> date:
    """The latest day a status may have started and still be stalled today: more than ``norm`` working
    days in (day, today]. Equivalent to ``working_days_between(day, today) > norm``."""
    day, counted = today, 0
    while counted < norm + 1:
        if is_working_day(day):
            counted += 1
        day -= timedelta(days=1)
    return day


async def _scan_stalled(today: date, parties: dict[int, Parties], contracts: Sequence[int] | None) -> RuleOutcome:
    """One query over the (contract, status, status_since) index: open cases whose status started before that
    status's cut-off in their contract (computed in Python from the contract's norms and the calendar), joined
    from a small table of (contract, status, cut-off) rows."""
    overrides: dict[int, dict[str, int]] = defaultdict(dict)
    for row in await StatusNorm.select(StatusNorm.contract, StatusNorm.status, StatusNorm.max_working_days):
        overrides[row["contract"]][row["status"]] = row["max_working_days"]
    norms_of: dict[int, dict[CaseStatus, int]] = {}
    cutoffs: dict[int, datetime] = {}
    thresholds: list[tuple[int, str, datetime]] = []
    for contract_id in sorted(parties) if contracts is None else contracts:
        norms_of[contract_id] = norms = rules.effective_norms(overrides.get(contract_id))
        for status, norm in norms.items():
            if norm not in cutoffs:
                cutoffs[norm] = _start_of(stalled_cutoff(today, norm) + timedelta(days=1))
            thresholds.append((contract_id, status.value, cutoffs[norm]))
    if not thresholds:
        return RuleOutcome([], 0)
    table, arguments = _row_source(thresholds, ("int", "text", "timestamptz"), engine().engine_type == "postgres")
    rows = await Case.raw(
        f"WITH n (contract, status, cutoff) AS ({table}) "  # noqa: S608
        "SELECT c.id, c.contract, c.status, c.status_since, c.subcontractor, c.status_before_hold "
        "FROM n JOIN portal_case AS c ON c.contract = n.contract AND c.status = n.status "
        "AND c.status_since < n.cutoff", *arguments)
    by_contract: dict[int, list[StalledCandidate]] = defaultdict(list)
    for row in rows:
        by_contract[row["contract"]].append(StalledCandidate(
            case_id=row["id"], contract_id=row["contract"], status=row["status"],
            status_since=stored_date(row["status_since"]), subcontractor_id=row["subcontractor"],
            ball=ball_in_court(CaseState(row["status"], row["subcontractor"], row["status_before_hold"])),
        ))
    drafts: list[SignalDraft] = []
    for contract_id, cases in sorted(by_contract.items()):
        drafts += rules.stalled_signals(cases, norms_of[contract_id], today)
    return RuleOutcome(drafts, len(rows))


STATUS_STEPS = WhereRaw("(from_status IS NULL OR from_status <> to_status OR action = 'decline')")
_STEP_SQL = "(e.from_status IS NULL OR e.from_status <> e.to_status OR e.action = 'decline')"
_LEGAL_CLOCKS = tuple(clock for clock in CLOCKS if clock.code in rules.LEGAL_TERM_CLOCKS)
# The set-based path below covers clocks of this shape: a key date starts them, statuses (and optionally a key
# date) stop them, a term in weeks that on_hold pauses. A clock of another shape would need the exact path only.
assert all(clock.starts_at and clock.unit is TermUnit.WEEKS and clock.pausable and not clock.runs_to_deadline
           and not clock.needs_beschikking for clock in _LEGAL_CLOCKS)


def _literal(value: int | str | date | datetime, postgres: bool) -> str:
    """An id, a code, a date or a UTC moment as an SQL literal, stored the way each database stores the column
    (Piccolo's SQLite adapters: ISO dates, ``str()`` of a UTC datetime). Only values computed here, never input."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        text = str(value.astimezone(UTC))
        return f"'{text}'::timestamptz" if postgres else f"'{text}'"
    return f"'{value.isoformat()}'::date" if postgres else f"'{value.isoformat()}'"


def _days(earliest: date, today: date) -> list[tuple]:
    """Every day from the earliest start up to today: the day, the moment it begins (Amsterdam midnight, in UTC)
    and, per legal clock, its deadline when nothing pauses it and the moment after that deadline."""
    rows = []
    for n in range((today - earliest).days + 1):
        day = earliest + timedelta(days=n)
        row = [day, _start_of(day)]
        for clock in _LEGAL_CLOCKS:
            deadline = term_deadline(clock, day)
            row += [deadline, _start_of(deadline + timedelta(days=1))]
        rows.append(tuple(row))
    return rows


_DAY_TYPES = ("date", "timestamptz") + ("date", "timestamptz") * len(_LEGAL_CLOCKS)


def _row_source(rows: list[tuple], types: tuple[str, ...], postgres: bool) -> tuple[str, tuple]:
    """Rows of our own making as an SQL row source and its parameters. PostgreSQL gets one array per column
    (unnest): a short statement whatever the number of rows; SQLite, without arrays, a VALUES list of literals."""
    if postgres:
        arrays = ", ".join(f"{{}}::{kind}[]" for kind in types)
        return f"SELECT * FROM unnest({arrays})", tuple(list(column) for column in zip(*rows, strict=True))  # noqa: S608 (our types)
    return "VALUES " + ", ".join("(" + ", ".join(_literal(value, False) for value in row) + ")" for row in rows), ()


@lru_cache(maxsize=4)
def _days_table(earliest: date, today: date, postgres: bool) -> tuple[str, tuple]:
    """The days from the earliest start up to today as an SQL row source (``_days``) and its parameters."""
    return _row_source(_days(earliest, today), _DAY_TYPES, postgres)


async def _scan_legal_terms(today: date, parties: dict[int, Parties],
                            contracts: Sequence[int] | None) -> RuleOutcome:
    """Set-based: candidates by date cut-offs (a term of 6 weeks after the melding or 2 weeks after the
    aanvraag can only be exceeded by cases older than that), and per candidate one grouped pass over its
    status steps that finds, per clock, the first step that stops it (on or after the clock's start, up to
    today) and whether the case was ever on hold. Without a pause a clock's deadline depends on its start
    date only: it is computed once per distinct date (``term_deadline``), so per case only a comparison
    remains. A case that was on hold (a pause moves the deadline) gets the exact clocks of
    ``compute_clocks`` from its status history. Both give what ``compute_clocks`` gives (tests compare)."""
    assessment_cut = today - timedelta(weeks=6)
    decision_cut = today - timedelta(weeks=2)
    old_enough = (Case.melding_date <= assessment_cut) | (Case.aanvraag_date <= decision_cut)
    undecided = Case.decision_date.is_null() & Case.status.not_in([s.value for s in TERMINAL_STATUSES])
    recently_decided = Case.decision_date >= today - timedelta(days=LEGAL_TERM_LOOKBACK_DAYS)
    where = old_enough & (undecided | recently_decided)
    if contracts is not None:
        where &= any_of(Case.contract, contracts)
    bounds = await Case.select(Min(Case.melding_date, alias="melding"), Min(Case.aanvraag_date, alias="aanvraag")
                               ).where(where).first()
    earliest = min((day for day in (bounds or {}).values() if day is not None), default=None)
    if earliest is None:
        return RuleOutcome([], 0, set())
    postgres = engine().engine_type == "postgres"
    earliest = stored_date(earliest)
    columns, joins, flags = [], [], []
    for clock in _LEGAL_CLOCKS:
        code = clock.code
        stops = ", ".join(f"'{status.value}'" for status in sorted(clock.stops_on_entering))
        joins.append(f"LEFT JOIN days AS {code}_day ON {code}_day.on_day = portal_case.{clock.starts_at}")
        columns.append(f"min(CASE WHEN e.to_status IN ({stops}) AND e.occurred_at >= {code}_day.opens "
                       f"THEN e.occurred_at END) AS {code}_stop")
        # exceeded (when never paused): started by today, the deadline passed, no stopping step on or before
        # the deadline, and no stopping key date on or before it (see _unpaused_clock, which builds the clock)
        key_stop = (f" AND NOT (g.{clock.stops_at} IS NOT NULL AND g.{clock.stops_at} <= {_literal(today, postgres)}"
                    f" AND g.{clock.stops_at} <= {code}_term.{code}_deadline)") if clock.stops_at else ""
        flags.append(f"CASE WHEN {code}_term.on_day IS NOT NULL AND {code}_term.{code}_deadline < "
                     f"{_literal(today, postgres)} AND (g.{code}_stop IS NULL OR g.{code}_stop >= "
                     f"{code}_term.{code}_late){key_stop} THEN 1 ELSE 0 END AS {code}_exceeded")
    case_columns = ", ".join(f"portal_case.{name}" for name in (
        "id", "contract", "subcontractor", "melding_date", "aanvraag_date", "decision_date", "beschikking_issued"))
    tomorrow = _literal(_start_of(today + timedelta(days=1)), postgres)
    day_columns = ", ".join(f"{clock.code}_deadline, {clock.code}_late" for clock in _LEGAL_CLOCKS)
    term_joins = " ".join(f"LEFT JOIN days AS {clock.code}_term ON {clock.code}_term.on_day = g.{clock.starts_at}"
                          for clock in _LEGAL_CLOCKS)
    days, day_arguments = _days_table(earliest, today, postgres)
    exceeded = " OR ".join(f"{clock.code}_exceeded = 1" for clock in _LEGAL_CLOCKS)
    stop_days = ", ".join(f"{amsterdam_day_sql(f'g.{clock.code}_stop')} AS {clock.code}_stop_day"
                          for clock in _LEGAL_CLOCKS)
    # statuses, dates and column names from our own definitions, never input. Only the cases Python has to
    # look at come back: those with an exceeded clock, and those ever on hold (a pause moves the deadline).
    sql = (
        f"WITH days (on_day, opens, {day_columns}) AS ({days}), "  # noqa: S608
        f"g AS (SELECT {case_columns}, {', '.join(columns)}, "
        f"max(CASE WHEN e.to_status = '{CaseStatus.ON_HOLD.value}' THEN 1 ELSE 0 END) AS holds "
        f"FROM portal_case {' '.join(joins)} "
        f'LEFT JOIN case_event AS e ON e."case" = portal_case.id AND {_STEP_SQL} AND e.occurred_at < {tomorrow} '
        "WHERE {} GROUP BY portal_case.id) "
        f"SELECT * FROM (SELECT g.*, {', '.join(flags)}, {stop_days} FROM g {term_joins}) AS checked "
        f"WHERE holds = 1 OR {exceeded}"
    )
    rows = await Case.raw(sql, *day_arguments, where.querystring)
    cases: list[CaseClocks] = []
    paused: list[dict] = []
    clock_columns = [(clock, f"{clock.code}_exceeded", f"{clock.code}_stop_day") for clock in _LEGAL_CLOCKS]
    for row in rows:
        if row["holds"]:
            paused.append(row)
            continue
        dates = _case_dates(row)
        clocks = [state for clock, exceeded_column, stop_column in clock_columns if row[exceeded_column]
                  and (state := _unpaused_clock(clock, dates, stored_date(row[stop_column]), today))]
        if clocks:
            cases.append(CaseClocks(row["id"], row["contract"], row["subcontractor"], clocks))
    cases += await _paused_case_clocks(paused, today)
    # every case the rule looked at: its signals whose cause has gone are closed; older cases are left alone
    looked_at = Signal.case.is_in(Case.select(Case.id).where(where))
    return RuleOutcome(rules.legal_term_signals(cases, today), len(rows), evaluated_where=looked_at)


def _case_dates(row: dict) -> CaseDates:
    return CaseDates(stored_date(row["melding_date"]), stored_date(row["aanvraag_date"]),
                     stored_date(row["decision_date"]), bool(row["beschikking_issued"]))


def _unpaused_clock(clock, dates: CaseDates, first_stop: date | None, today: date) -> ClockState | None:
    """An exceeded clock of a case that was never on hold (None when not exceeded or not started): what
    ``compute_clocks`` gives for it, from the day of the first stopping step (Amsterdam) and the key dates."""
    start = getattr(dates, clock.starts_at)
    if start is None or start > today:
        return None
    deadline = term_deadline(clock, start)
    stops = [first_stop] if first_stop is not None else []
    stop_date = getattr(dates, clock.stops_at) if clock.stops_at else None
    if stop_date is not None and stop_date <= today:
        stops.append(max(stop_date, start))
    stopped_on = min(stops, default=None)
    if (stopped_on or today) <= deadline:
        return None  # met, or still running within the term
    return ClockState(
        code=clock.code, label=clock.label, legal_basis=clock.legal_basis, started_on=start, deadline=deadline,
        stopped_on=stopped_on, paused=False, days_left=None if stopped_on else (deadline - today).days,
        exceeded_since=deadline + timedelta(days=1), met=False if stopped_on else None, unit=clock.unit.value)


async def _paused_case_clocks(rows: list[dict], today: date) -> list[CaseClocks]:
    """The exact clocks of the cases that were on hold, from their status steps (one query per batch)."""
    history: dict[int, list[StatusChange]] = defaultdict(list)
    for batch in batches([row["id"] for row in rows], IN_BATCH):
        events = await CaseEvent.select(CaseEvent.case, CaseEvent.occurred_at, CaseEvent.to_status).where(
            any_of(CaseEvent.case, batch), STATUS_STEPS).order_by(CaseEvent.case).order_by(
            CaseEvent.occurred_at).order_by(CaseEvent.id)
        for event in events:
            history[event["case"]].append(
                StatusChange(stored_date(event["occurred_at"]), CaseStatus(event["to_status"])))
    cases = []
    for row in rows:
        changes = sorted(history.get(row["id"], []), key=lambda change: change.at)
        clocks = compute_clocks(_case_dates(row), changes, today, _LEGAL_CLOCKS)
        cases.append(CaseClocks(row["id"], row["contract"], row["subcontractor"], clocks))
    return cases


async def _scan_reports(today: date, parties: dict[int, Parties], contracts: Sequence[int] | None) -> RuleOutcome:
    """Periods past their deadline x the organisations that owe a report for them, minus the reports that
    were submitted: three set-based queries, joined in memory (periods x subcontractors is small)."""
    query = ReportPeriod.select(ReportPeriod.id, ReportPeriod.contract, ReportPeriod.kind, ReportPeriod.starts_on,
                                ReportPeriod.ends_on, ReportPeriod.deadline).where(ReportPeriod.deadline < today)
    if contracts is not None:
        query = query.where(any_of(ReportPeriod.contract, contracts))
    periods = await query
    if not periods:
        return RuleOutcome([], 0)
    contract_ids = sorted({period["contract"] for period in periods})
    subcontracts = await Subcontract.select(Subcontract.contract, Subcontract.subcontractor, Subcontract.start_date,
                                            Subcontract.end_date).where(Subcontract.contract.is_in(contract_ids))
    reports: dict[tuple[int, int], dict] = {}
    for batch in batches([period["id"] for period in periods], IN_BATCH):
        for report in await Report.select(Report.id, Report.period, Report.organisation, Report.submitted_at).where(
                Report.period.is_in(list(batch))):
            reports[(report["period"], report["organisation"])] = report
    by_contract: dict[int, list[dict]] = defaultdict(list)
    for row in subcontracts:
        by_contract[row["contract"]].append(row)
    missing = []
    for period in periods:
        label = _period_label(period)
        owed: list[tuple[int, Party]] = [
            (sub["subcontractor"], Party.SUBCONTRACTOR) for sub in by_contract[period["contract"]]
            if sub["start_date"] <= period["ends_on"] and sub["end_date"] >= period["starts_on"]]
        contract_parties = parties.get(period["contract"])
        if contract_parties and contract_parties.main_contractor_id is not None:
            owed.append((contract_parties.main_contractor_id, Party.MAIN_CONTRACTOR))
        for organisation_id, party in owed:
            report = reports.get((period["id"], organisation_id))
            if report is not None and report["submitted_at"] is not None:
                continue
            missing.append(MissingReport(period["contract"], period["id"], label, organisation_id, party,
                                         period["deadline"], report["id"] if report else None))
    return RuleOutcome(rules.report_overdue_signals(missing, today), len(missing))


def _period_label(period: dict) -> str:
    start: date = period["starts_on"]
    if period["kind"] == "quarter":
        return f"{start.year} K{(start.month - 1) // 3 + 1}"
    if period["kind"] == "half_year":
        return f"{start.year} H{1 if start.month <= 6 else 2}"
    if period["kind"] == "year":
        return str(start.year)
    return f"{format_date(start)} - {format_date(period['ends_on'])}"


_OUTLIER_ACTIONS = [CaseAction.DECLINE.value, CaseAction.REQUEST_ALLOCATION.value, CaseAction.REJECT.value,
                    CaseAction.REFER_COLLECTIVE.value]


async def _scan_outliers(today: date, parties: dict[int, Parties], contracts: Sequence[int] | None) -> RuleOutcome:
    """One grouped query: events of the last 12 months per contract, subcontractor and action. Decline rate
    = declines / allocation requests; rejection rate = rejections / decisions concerning the subcontractor."""
    since = _start_of(today - timedelta(days=OUTLIER_WINDOW_DAYS))
    query = CaseEvent.select(CaseEvent.contract, CaseEvent.subcontractor, CaseEvent.action,
                             Count(alias="count")).where(
        CaseEvent.occurred_at >= since, CaseEvent.action.is_in(_OUTLIER_ACTIONS),
        CaseEvent.subcontractor.is_not_null(),
    )
    if contracts is not None:
        query = query.where(any_of(CaseEvent.contract, contracts))
    rows = await query.group_by(CaseEvent.contract, CaseEvent.subcontractor, CaseEvent.action)
    counts: dict[int, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for row in rows:
        counts[row["contract"]][row["subcontractor"]][row["action"]] += row["count"]
    drafts = []
    for contract_id, per_sub in sorted(counts.items()):
        declines = {sub: (c[CaseAction.DECLINE.value], c[CaseAction.REQUEST_ALLOCATION.value])
                    for sub, c in per_sub.items() if c[CaseAction.REQUEST_ALLOCATION.value]}
        rejections = {sub: (c[CaseAction.REJECT.value], c[CaseAction.REJECT.value]
                            + c[CaseAction.REQUEST_ALLOCATION.value] + c[CaseAction.REFER_COLLECTIVE.value])
                      for sub, c in per_sub.items()}
        rejections = {sub: figures for sub, figures in rejections.items() if figures[1]}
        for metric, figures in ((OutlierMetric.DECLINE_RATE, declines), (OutlierMetric.REJECTION_RATE, rejections)):
            drafts += rules.outlier_signals(figures, metric, contract_id=contract_id, period=OUTLIER_PERIOD,
                                            today=today)
    return RuleOutcome(drafts, sum(len(per_sub) for per_sub in counts.values()))


async def _scan_savings(today: date, parties: dict[int, Parties], contracts: Sequence[int] | None) -> RuleOutcome:
    """The savings position per contract and target level, computed by the savings area itself (indexation
    apart, corrections replacing, pro rata for the days with figures), so the signal and the savings page
    never disagree."""
    positions = await savings_service.contract_positions(today, None if contracts is None else list(contracts))
    drafts, evaluated = [], set()
    for position in positions:
        if position["last_period_end"] is None:
            continue
        year = position["last_period_end"].year
        evaluated.add(rules.savings_behind_key(position["contract_id"], year, position["level"]))
        draft = rules.savings_behind_signal(
            position["contract_id"], year, position["target_to_date_cents"], position["savings_to_date_cents"],
            float(position["tolerance_pct"]), today=today, level=position["level"])
        if draft is not None:
            drafts.append(draft)
    return RuleOutcome(drafts, len({p["contract_id"] for p in positions}), evaluated)


# --- reading signals -----------------------------------------------------------------------------------

SIGNAL_COLUMNS = (
    Signal.id, Signal.contract, Signal.contract.name.as_alias("contract_name"), Signal.rule, Signal.severity,
    Signal.status, Signal.case, Signal.case.case_number.as_alias("case_number"), Signal.report_id,
    Signal.subcontractor, Signal.subcontractor.name.as_alias("subcontractor_name"), Signal.owner_organisation,
    Signal.owner_organisation.name.as_alias("owner_name"), Signal.raised_by_organisation, Signal.title,
    Signal.confidential, Signal.response_due, Signal.escalation_level, Signal.created_at, Signal.updated_at,
    Signal.contract.municipality.as_alias("municipality"),
    Signal.contract.main_contractor.as_alias("main_contractor"),
)


@dataclass(frozen=True)
class SignalFilter:
    rule: str | None = None
    severity: str | None = None
    status: str | None = None  # None/"actief": open, acknowledged, escalated; "alle": every status
    overdue: bool = False
    contract_id: int | None = None  # one contract of the actor's (another contract: "not found")


async def _check_contract(actor: Actor, filters: SignalFilter) -> None:
    """A contract filter names one of the actor's own contracts; any other is "not found" (says nothing of it)."""
    if filters.contract_id is not None and not await Contract.exists().where(
            Contract.id == filters.contract_id, policy.contract_scope(actor)):
        raise NotFound(policy.NOT_FOUND_CONTRACT)


def _filter_clauses(filters: SignalFilter, today: date, *, facets: bool = False) -> list:
    clauses = []
    if filters.contract_id is not None:
        clauses.append(Signal.contract == filters.contract_id)
    status = (filters.status or "actief").strip()
    if status == "actief":
        clauses.append(Signal.status.is_in(ACTIVE))
    elif status != "alle":
        clauses.append(Signal.status == SignalStatus.parse(status, field="status").value)
    if filters.overdue:
        clauses.append(Signal.status.is_in(ACTIVE) & (Signal.response_due < today))
    if not facets:
        if filters.rule:
            clauses.append(Signal.rule == SignalRule.parse(filters.rule, field="regel").value)
        if filters.severity:
            clauses.append(Signal.severity == Severity.parse(filters.severity, field="ernst").value)
    return clauses


def _label(codelist, code: str | None) -> str:
    try:
        return codelist(code).label
    except ValueError:
        return code or ""


def _present(actor: Actor, row: dict, today: date) -> dict:
    """A signal row as the actor may see it, with Dutch labels, ball and overdue."""
    parties = Parties(row.pop("municipality"), row.pop("main_contractor"))
    owner_party = _owner_party(row["owner_organisation"], parties)
    ball = rules.ball_for_signal(row["status"], owner_party)
    row["rule_label"] = _label(SignalRule, row["rule"])
    row["severity_label"] = _label(Severity, row["severity"])
    row["status_label"] = _label(SignalStatus, row["status"])
    row["ball"] = ball.value if ball else None
    row["ball_label"] = ball.label if ball else "niemand"
    row["overdue"] = row["status"] in ACTIVE and rules.is_overdue(row["response_due"], today)
    row["days_overdue"] = (today - row["response_due"]).days if row["overdue"] else 0
    row["hidden"] = policy.signal_content_hidden(actor, row["confidential"], row["raised_by_organisation"])
    if row["hidden"]:
        row.update(title=HIDDEN_TITLE, case=None, case_number=None, subcontractor=None, subcontractor_name=None,
                   raised_by_organisation=None, report_id=None)
        if "detail" in row:
            row["detail"] = HIDDEN_TEXT
        if "resolution" in row:
            row["resolution"] = None
        if "raised_by_name" in row:
            row["raised_by_name"] = None
    return row


async def list_signals(actor: Actor, filters: SignalFilter, today: date | None = None) -> dict:
    """The inbox: signals in the actor's scope (SQL), filtered, with counts per rule and severity (grouped
    in SQL over the same scope, status and overdue filter, so they work as facets)."""
    policy.require_role(actor, policy.SIGNAL_READER_ROLES, "signalen")
    today = today or today_nl()
    scope = policy.signal_scope(actor)
    clauses = [scope, *_filter_clauses(filters, today)]
    facet_clauses = [scope, *_filter_clauses(filters, today, facets=True)]
    async with read_transaction():
        await _check_contract(actor, filters)
        rows = await Signal.select(*SIGNAL_COLUMNS).where(*clauses).order_by(
            Signal.response_due).order_by(Signal.id).limit(PAGE_SIZE)
        total = await Signal.count().where(*clauses)
        by_rule = await Signal.select(Signal.rule, Count(alias="count")).where(*facet_clauses).group_by(Signal.rule)
        by_severity = await Signal.select(Signal.severity, Count(alias="count")).where(*facet_clauses).group_by(
            Signal.severity)
        digest = await Digest.select(Digest.day, Digest.body, Digest.overdue_count).where(
            Digest.user == actor.user_id).order_by(Digest.day, ascending=False).first()
    rule_counts = {row["rule"]: row["count"] for row in by_rule}
    severity_counts = {row["severity"]: row["count"] for row in by_severity}
    return {
        "signals": [_present(actor, row, today) for row in rows],
        "total": total,
        "counts_by_rule": [{"rule": rule.value, "label": rule.label, "count": rule_counts.get(rule.value, 0)}
                           for rule in SignalRule],
        "counts_by_severity": [{"severity": sev.value, "label": sev.label, "count": severity_counts.get(sev.value, 0)}
                               for sev in Severity],
        "digest": digest,
        "today": today,
    }


async def signal_inbox_page(actor: Actor, filters: SignalFilter, today: date | None = None) -> dict:
    """The inbox page: ``list_signals`` plus the choices of its contract filter (the actor's contracts)."""
    result = await list_signals(actor, filters, today)
    contracts = await Contract.select(Contract.id, Contract.name).where(policy.contract_scope(actor)).order_by(
        Contract.name).order_by(Contract.id)
    return {**result, "contract_choices": contracts}


async def signal_export_ids(actor: Actor, filters: SignalFilter, today: date | None = None) -> list[int]:
    """The ids of every signal of the filtered inbox, in the inbox's order (one narrow query; the export
    then loads the rows in batches with ``signal_export_rows``)."""
    policy.require_role(actor, policy.SIGNAL_READER_ROLES, "signalen")
    clauses = [policy.signal_scope(actor), *_filter_clauses(filters, today or today_nl())]
    async with read_transaction():
        await _check_contract(actor, filters)
        rows = await Signal.select(Signal.id).where(*clauses).order_by(Signal.response_due).order_by(Signal.id)
    return [row["id"] for row in rows]


async def signal_export_rows(actor: Actor, ids: Sequence[int], today: date | None = None) -> list[dict]:
    """These signals as the inbox shows them to the actor (scoped again, confidential content hidden), in
    the order of ``ids``."""
    policy.require_role(actor, policy.SIGNAL_READER_ROLES, "signalen")
    today = today or today_nl()
    if not ids:
        return []
    async with read_transaction():
        rows = await Signal.select(*SIGNAL_COLUMNS).where(policy.signal_scope(actor), Signal.id.is_in(list(ids)))
    by_id = {row["id"]: _present(actor, row, today) for row in rows}
    return [by_id[signal_id] for signal_id in ids if signal_id in by_id]


async def _load(actor: Actor, signal_id: int) -> dict:
    row = await Signal.select(*SIGNAL_COLUMNS, Signal.detail, Signal.resolution, Signal.dedup_key,
                              Signal.closed_at, Signal.raised_by.display_name.as_alias("raised_by_name")).where(
        Signal.id == signal_id, policy.signal_scope(actor)).first()
    if row is None:
        raise NotFound(NOT_FOUND_SIGNAL)
    return row


def _roles_on(actor: Actor, row: dict) -> tuple[bool, bool]:
    """(is owner, is the municipality) of the signal, for the lifecycle table."""
    is_owner = actor.organisation_id == row["owner_organisation"] and actor.role in rules.ACTING_ROLES
    is_municipality = actor.role is Role.CONTRACT_MANAGER and actor.organisation_id == row["municipality"]
    return is_owner, is_municipality


async def get_signal(actor: Actor, signal_id: int, today: date | None = None) -> dict:
    """One signal with its comment thread and the actions the actor may take. The read is audited."""
    policy.require_role(actor, policy.SIGNAL_READER_ROLES, "signalen")
    today = today or today_nl()
    async with write_transaction():
        row = await _load(actor, signal_id)
        comments = await SignalComment.select(
            SignalComment.id, SignalComment.body, SignalComment.action, SignalComment.created_at,
            SignalComment.author.display_name.as_alias("author_name"),
            SignalComment.organisation.name.as_alias("organisation_name"),
        ).where(SignalComment.signal == signal_id).order_by(SignalComment.created_at).order_by(SignalComment.id)
        await audit.record(actor, "read", "signal", signal_id, contract_id=row["contract"],
                           purpose=default_purpose(actor.role))
    is_owner, is_municipality = _roles_on(actor, row)
    signal = _present(actor, row, today)
    hidden = signal["hidden"]
    actions = [] if hidden else rules.allowed_signal_actions(row["status"], actor.role, is_owner, is_municipality)
    actions = [action for action in actions if action is not SignalAction.AUTO_CLOSE]
    can_read_case = False
    if signal["case"] is not None and actor.role in policy.CASE_READER_ROLES:
        can_read_case = await Case.exists().where(Case.id == signal["case"], policy.case_scope(actor))
    for comment in comments:
        comment["action_label"] = _label(SignalAction, comment["action"]) if comment["action"] else None
    return {
        "signal": signal,
        "comments": [] if hidden else comments,
        "actions": [{"code": action.value, "label": action.label,
                     "text_label": rules.SIGNAL_LIFECYCLE[action].text_required} for action in actions],
        "can_comment": not hidden,
        "can_read_case": can_read_case,
        "why": RULES[SignalRule(row["rule"])].why if row["rule"] in SignalRule._value2member_map_ else "",
    }


async def act_on_signal(actor: Actor, signal_id: int, action: str, text: str | None,
                        today: date | None = None) -> dict:
    """Acknowledge, resolve, escalate or reopen, per the lifecycle table. The text goes on the thread; a
    resolution is also stored on the signal. The status only changes if nobody changed it meanwhile."""
    policy.require_role(actor, rules.ACTING_ROLES, "signalen")
    today = today or today_nl()
    parsed = SignalAction.parse(action, field="action")
    if parsed is SignalAction.AUTO_CLOSE:
        raise NotPermitted("Alleen het systeem sluit signalen automatisch.")
    async with write_transaction():
        row = await _load(actor, signal_id)
        if policy.signal_content_hidden(actor, row["confidential"], row["raised_by_organisation"]):
            raise NotPermitted("Dit vertrouwelijke signaal is alleen voor de gemeente en de melder.")
        is_owner, is_municipality = _roles_on(actor, row)
        target, cleaned = rules.decide_signal_transition(row["status"], parsed, actor.role, is_owner,
                                                         is_municipality, text)
        refuse_bsn_in_text(cleaned, "text")
        now = utc_now()
        changes: dict = {Signal.status: target.value, Signal.updated_at: now}
        if target is SignalStatus.RESOLVED:
            changes |= {Signal.resolution: cleaned, Signal.closed_at: now}
        if target in (SignalStatus.ACKNOWLEDGED, SignalStatus.ESCALATED, SignalStatus.OPEN):
            # the ball moves: whoever holds it now gets the rule's response term from today
            days = RULES[SignalRule(row["rule"])].response_days
            changes[Signal.response_due] = add_working_days(today, days)
        if target is SignalStatus.OPEN:
            changes |= {Signal.resolution: None, Signal.closed_at: None}
        updated = await Signal.update(changes).where(
            (Signal.id == signal_id) & (Signal.status == row["status"])).returning(Signal.id)
        if not updated:
            raise Conflict(STALE_SIGNAL)
        await SignalComment(signal=signal_id, author=actor.user_id, organisation=actor.organisation_id,
                            body=cleaned, action=parsed.value).save()
        await audit.record(actor, "change", "signal", signal_id, contract_id=row["contract"],
                           old={"status": row["status"]}, new={"action": parsed.value, "status": target.value})
    return {"id": signal_id, "status": target.value, "status_label": target.label}


async def comment_on_signal(actor: Actor, signal_id: int, body: str | None) -> dict:
    policy.require_role(actor, rules.ACTING_ROLES, "signalen")
    cleaned = (body or "").strip()
    if not cleaned:
        raise InvalidInput("Schrijf een reactie.", field="body")
    if len(cleaned) > rules.MAX_TEXT:
        raise InvalidInput(f"Een reactie mag hoogstens {rules.MAX_TEXT} tekens lang zijn.", field="body")
    refuse_bsn_in_text(cleaned, "body")
    async with write_transaction():
        row = await _load(actor, signal_id)
        if policy.signal_content_hidden(actor, row["confidential"], row["raised_by_organisation"]):
            raise NotPermitted("Dit vertrouwelijke signaal is alleen voor de gemeente en de melder.")
        comment = SignalComment(signal=signal_id, author=actor.user_id, organisation=actor.organisation_id,
                                body=cleaned)
        await comment.save()
        await Signal.update({Signal.updated_at: utc_now()}).where(Signal.id == signal_id)
        await audit.record(actor, "create", "signal_comment", comment.id, contract_id=row["contract"],
                           new={"signal": signal_id})
    return {"id": comment.id, "signal": signal_id}


@dataclass(frozen=True)
class RaiseInput:
    contract_id: int | None
    title: str
    detail: str
    case_number: str | None = None
    confidential: bool = False


RAISER_ROLES = frozenset({Role.SUBCONTRACTOR, Role.COORDINATOR})


async def raise_choices(actor: Actor) -> dict:
    """The contracts the actor may raise a signal on (the form's select)."""
    policy.require_role(actor, RAISER_ROLES, "het melden van signalen")
    contracts = await Contract.select(Contract.id, Contract.name).where(policy.contract_scope(actor)).order_by(
        Contract.name)
    return {"contracts": contracts, "may_be_confidential": actor.role is Role.SUBCONTRACTOR}


async def raise_signal(actor: Actor, data: RaiseInput, today: date | None = None) -> dict:
    """A subcontractor or coordinator raises a signal straight to the municipality, optionally about one of
    its cases; a subcontractor may mark it confidential (the main contractor then sees only that it exists)."""
    policy.require_role(actor, RAISER_ROLES, "het melden van signalen")
    today = today or today_nl()
    if data.contract_id is None:
        raise InvalidInput("Kies het contract waar het signaal over gaat.", field="contract_id")
    if data.confidential and actor.role is not Role.SUBCONTRACTOR:
        raise InvalidInput("Alleen een onderaannemer kan een signaal vertrouwelijk melden.", field="confidential")
    refuse_bsn_in_text(data.title, "title")
    refuse_bsn_in_text(data.detail, "detail")
    async with write_transaction():
        contract = await Contract.select(Contract.id).where(Contract.id == data.contract_id,
                                                            policy.contract_scope(actor)).first()
        if contract is None:
            raise NotFound(policy.NOT_FOUND_CONTRACT)
        case_id, case_sub = None, None
        number = (data.case_number or "").strip()
        if number:
            case = await Case.select(Case.id, Case.subcontractor).where(
                Case.case_number == number, Case.contract == data.contract_id, policy.case_scope(actor)).first()
            if case is None:
                raise InvalidInput("Deze casus bestaat niet binnen dit contract, of u heeft er geen toegang toe.",
                                   field="case_number")
            case_id, case_sub = case["id"], case["subcontractor"]
        subcontractor_id = actor.organisation_id if actor.role is Role.SUBCONTRACTOR else case_sub
        draft = rules.raised_signal(uuid.uuid4(), contract_id=data.contract_id, title=data.title, detail=data.detail,
                                    today=today, case_id=case_id, subcontractor_id=subcontractor_id)
        parties = await _parties([data.contract_id])
        now = utc_now()
        signal = Signal(contract=draft.contract_id, rule=draft.rule.value, severity=draft.severity.value,
                        dedup_key=draft.dedup_key, status=SignalStatus.OPEN.value, case=draft.case_id,
                        subcontractor=draft.subcontractor_id,
                        owner_organisation=_owner_organisation(draft, parties[draft.contract_id]),
                        raised_by=actor.user_id, raised_by_organisation=actor.organisation_id, title=draft.title,
                        detail=draft.detail, confidential=bool(data.confidential), response_due=draft.response_due,
                        escalation_level=0, created_at=now, updated_at=now)
        await signal.save()
        await audit.record(actor, "create", "signal", signal.id, contract_id=data.contract_id,
                           new={"rule": draft.rule.value, "case": case_id, "confidential": bool(data.confidential)})
    return {"id": signal.id}


# --- digests -------------------------------------------------------------------------------------------


@dataclass
class DigestSummary:
    day: date
    people: int = 0
    overdue: int = 0
    mailed: int = 0  # digests sent by e-mail in this run
    mail_failed: int = 0  # not accepted by the SMTP server: left unsent, retried by the next run


async def send_digests(today: date | None = None, settings: Settings | None = None) -> DigestSummary:
    """Per person: the signals past their response date in their organisation's court (open: the owner;
    acknowledged or escalated: the municipality). Stored as one Digest row per person and day (upsert on
    (user, day)), then, when SMTP is configured, today's digests that were not sent yet go out by e-mail
    (see ``_mail_digests``). Two set-based queries, grouped in memory per organisation."""
    today = today or today_nl()
    summary = DigestSummary(day=today)
    overdue = await Signal.select(
        Signal.id, Signal.rule, Signal.status, Signal.title, Signal.response_due, Signal.owner_organisation,
        Signal.case.case_number.as_alias("case_number"),
        Signal.confidential, Signal.raised_by_organisation, Signal.contract.name.as_alias("contract_name"),
        Signal.contract.municipality.as_alias("municipality"),
    ).where(Signal.status.is_in(ACTIVE), Signal.response_due < today).order_by(Signal.response_due).order_by(
        Signal.id)
    by_holder: dict[int, list[dict]] = defaultdict(list)
    for row in overdue:
        holder = row["owner_organisation"] if row["status"] == SignalStatus.OPEN.value else row["municipality"]
        by_holder[holder].append(row)
    if not by_holder:
        return await _mail_digests(settings or get_settings(), summary)
    people = await User.select(User.id, User.organisation, User.role, User.display_name).where(
        User.organisation.is_in(sorted(by_holder)), User.is_active.eq(True),
        User.role.is_in([role.value for role in rules.ACTING_ROLES]),
        User.organisation.is_in(Organisation.select(Organisation.id).where(Organisation.is_active.eq(True))))
    now = utc_now()
    rows = []
    for person in people:
        signals = by_holder[person["organisation"]]
        lines = []
        for signal in signals:
            hidden = person["role"] == Role.COORDINATOR.value and signal["confidential"] and (
                signal["raised_by_organisation"] != person["organisation"])
            title = HIDDEN_TITLE if hidden else signal["title"]
            if signal["case_number"] and not hidden:
                title = f"{title} (casus {signal['case_number']})"
            days = (today - signal["response_due"]).days
            lines.append(f"- {_label(SignalRule, signal['rule'])}: {title} ({signal['contract_name']}; "
                         f"reactie was uiterlijk {format_date(signal['response_due'])} verwacht, {days} dagen te laat) "
                         f"/signalen/{signal['id']}")
        body = (f"Overzicht van {format_date(today)} voor {person['display_name']}: {len(signals)} signalen wachten "
                f"op uw organisatie en zijn over de reactietermijn.\n" + "\n".join(lines))
        rows.append(Digest(user=person["id"], day=today, body=body, overdue_count=len(signals), created_at=now))
        summary.overdue += len(signals)
    async with write_transaction():
        for batch in batches(rows, UPSERT_BATCH):
            await Digest.insert(*batch).on_conflict(
                target=(Digest.user, Digest.day), action="DO UPDATE",
                values=[Digest.body, Digest.overdue_count, Digest.created_at])
    summary.people = len(rows)
    return await _mail_digests(settings or get_settings(), summary)


async def _mail_digests(settings: Settings, summary: DigestSummary) -> DigestSummary:
    """Send the day's stored digests that were not sent yet, one e-mail per person. Each digest is claimed
    first (``sent_at`` set where it was NULL, in one statement), so a rerun or a second worker never sends it
    twice; a digest the SMTP server did not accept gets ``sent_at`` cleared again and the next run retries it.
    (A worker killed between claim and send leaves that one digest unsent; it stays in the portal.) Only
    today's digests are sent: an older unsent one is superseded by today's. The mail is the stored digest:
    signal titles, case numbers, contract names and dates; never a pseudonym or a note."""
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return summary
    async with write_transaction():
        claimed = await Digest.update({Digest.sent_at: utc_now()}).where(
            Digest.day == summary.day, Digest.sent_at.is_null(), Digest.overdue_count > 0,
        ).returning(Digest.id, Digest.user, Digest.body, Digest.overdue_count)
    if not claimed:
        return summary
    addresses: dict[int, str] = {}
    for batch in batches(sorted({row["user"] for row in claimed}), IN_BATCH):
        addresses |= {row["id"]: row["email"] for row in await User.select(User.id, User.email).where(
            User.id.is_in(list(batch)), User.is_active.eq(True))}
    to_send = [row for row in claimed if addresses.get(row["user"])]
    mails = [Mail(to=addresses[row["user"]],
                  subject=f"Inzicht: {row['overdue_count']} signalen over de reactietermijn "
                          f"({format_date(summary.day)})",
                  body=row["body"] + "\n\nOpen Inzicht om te reageren. Dit bericht is automatisch verstuurd.")
             for row in to_send]
    sent = await send_mails(config, mails)
    failed = [row["id"] for row, ok in zip(to_send, sent, strict=True) if not ok]
    if failed:
        async with write_transaction():
            await Digest.update({Digest.sent_at: None}).where(Digest.id.is_in(failed))
    summary.mailed = len(to_send) - len(failed)
    summary.mail_failed = len(failed)
    return summary


__all__ = [
    "DigestSummary", "RaiseInput", "ScanSummary", "SignalFilter", "UpsertResult",
    "act_on_signal", "comment_on_signal", "get_signal", "list_signals", "on_case_event", "on_case_registered",
    "raise_choices", "raise_signal", "run_scan", "send_digests", "signal_inbox_page", "stalled_cutoff",
    "upsert_drafts",
]
