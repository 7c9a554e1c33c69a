"""Privacy use cases: the access request (AVG art. 15), retention after closing, and the pseudonym keys.

The BSN of an access request is used once, here, to compute the pseudonym, and is then dropped: it is never
stored, logged, audited or put in a job. The audit entry names the pseudonym.
"""

import io
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from piccolo.engine.postgres import PostgresEngine

from portal.accounts import audit, policy
from portal.accounts.rules import Actor, Role
from portal.accounts.tables import AuditEntry, User
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract
from portal.db import batches, engine, read_transaction, write_transaction
from portal.lib.errors import InvalidInput, NotFound, NotPermitted
from portal.lib.exports import PdfDocument, to_csv
from portal.lib.formatting import AMSTERDAM, format_date, format_datetime, today_nl
from portal.lib.pseudonym import TOMBSTONE_PREFIX, is_pseudonym, key_check, pseudonymise, rekey, tombstone
from portal.lib.tables_base import utc_now
from portal.privacy import rules
from portal.privacy.rules import AccessRequest
from portal.privacy.tables import PseudonymKeyState, RetentionRun
from portal.signals.tables import Signal, SignalComment

log = logging.getLogger("portal.privacy")
ACCESS_ROLES = frozenset({Role.CONTRACT_MANAGER})
NOT_PRIVACY_OFFICER = ("Een inzageverzoek (AVG artikel 15) kan alleen een contractmanager met de privacyrol "
                       "uitvoeren. Vraag de beheerder om u die rol te geven als dat bij uw taak hoort.")


# --- the privacy role -------------------------------------------------------------------------------


async def is_privacy_officer(actor: Actor) -> bool:
    if actor.role is not Role.CONTRACT_MANAGER:
        return False
    row = await User.select(User.is_privacy_officer, User.is_active).where(User.id == actor.user_id).first()
    return bool(row and row["is_active"] and row["is_privacy_officer"])


async def _require_privacy_officer(actor: Actor) -> None:
    policy.require_role(actor, ACCESS_ROLES, "inzageverzoeken")
    if not await is_privacy_officer(actor):
        raise NotPermitted(NOT_PRIVACY_OFFICER)


async def set_privacy_officer(actor: Actor | None, user_id: int, value: bool) -> None:
    """Give or take the privacy role (admin, or the command line with ``actor`` None). Only a contract manager
    can hold it. Audited as a change to the user."""
    if actor is not None:
        policy.require_role(actor, policy.ACCOUNT_MANAGER_ROLES, "het beheer van gebruikers")
    async with write_transaction():
        row = await User.select(User.id, User.role, User.is_privacy_officer).where(User.id == user_id).first()
        if row is None:
            raise NotFound("Dit account bestaat niet.")
        if value and row["role"] != Role.CONTRACT_MANAGER.value:
            raise InvalidInput("Alleen een contractmanager kan de privacyrol krijgen.", field="privacy")
        if bool(row["is_privacy_officer"]) == value:
            return
        await User.update({User.is_privacy_officer: value}).where(User.id == user_id)
        await audit.record(actor, "change", "user", user_id,
                           old={"is_privacy_officer": bool(row["is_privacy_officer"])},
                           new={"is_privacy_officer": value}, purpose="beheer van gebruikers",
                           origin=None if actor else "cli")


# --- the access request (AVG art. 15) -----------------------------------------------------------------


async def access_form(actor: Actor) -> dict:
    await _require_privacy_officer(actor)
    contracts = await Contract.select(Contract.id, Contract.name).where(policy.contract_scope(actor)).order_by(
        Contract.name)
    return {"contracts": contracts}


@dataclass
class AccessExport:
    file_name: str
    content: bytes
    cases: int
    contracts: list[int] = field(default_factory=list)


async def collect_access(actor: Actor, pseudonym: str, earlier: Sequence[str] = ()) -> dict:
    """Everything the portal holds on one pseudonym within the actor's municipality's contracts: the cases,
    their events, the signals about them with their comments, and the audit entries of who read or changed
    them (and earlier access requests for this resident, also those recorded before a key rotation under the
    pseudonyms of a shorter key chain, ``earlier``)."""
    managed = policy.managed_contract_ids(actor)
    cases = await Case.select(
        Case.id, Case.case_number, Case.contract, Case.contract.name.as_alias("contract_name"), Case.neighbourhood,
        Case.domain, Case.product_category, Case.provision_type, Case.urgency, Case.status, Case.status_since,
        Case.melding_date, Case.aanvraag_date, Case.decision_date, Case.beschikking_issued, Case.end_reason,
        Case.reassessment_due, Case.subcontractor.name.as_alias("subcontractor_name"), Case.created_at,
    ).where(Case.pseudonym == pseudonym, Case.contract.is_in(managed)).order_by(Case.id)
    ids = [row["id"] for row in cases]
    events: list[dict] = []
    signals: list[dict] = []
    comments: list[dict] = []
    reads: list[dict] = []
    if ids:
        events = await CaseEvent.select(
            CaseEvent.id, CaseEvent.case, CaseEvent.occurred_at, CaseEvent.action, CaseEvent.from_status,
            CaseEvent.to_status, CaseEvent.actor_user.display_name.as_alias("actor_name"),
            CaseEvent.actor_organisation.name.as_alias("actor_organisation_name"),
            CaseEvent.subcontractor.name.as_alias("subcontractor_name"), CaseEvent.reason_code, CaseEvent.end_reason,
            CaseEvent.beschikking_issued, CaseEvent.objection_info_given, CaseEvent.referred_to, CaseEvent.note,
            CaseEvent.outcome, CaseEvent.due_date,
        ).where(CaseEvent.case.is_in(ids)).order_by(CaseEvent.case).order_by(CaseEvent.occurred_at).order_by(
            CaseEvent.id)
        signals = await Signal.select(
            Signal.id, Signal.case, Signal.rule, Signal.severity, Signal.status, Signal.title, Signal.detail,
            Signal.resolution, Signal.created_at, Signal.closed_at,
        ).where(Signal.case.is_in(ids)).order_by(Signal.id)
        if signals:
            comments = await SignalComment.select(
                SignalComment.id, SignalComment.signal, SignalComment.created_at, SignalComment.action,
                SignalComment.body, SignalComment.author.display_name.as_alias("author_name"),
                SignalComment.organisation.name.as_alias("organisation_name"),
            ).where(SignalComment.signal.is_in([row["id"] for row in signals])).order_by(SignalComment.id)
    about = (AuditEntry.object_type == "resident") & AuditEntry.object_id.is_in([pseudonym, *earlier])
    if ids:
        about |= (AuditEntry.object_type == "case") & AuditEntry.object_id.is_in([str(i) for i in ids])
    reads = await AuditEntry.select(
        AuditEntry.id, AuditEntry.occurred_at, AuditEntry.user.display_name.as_alias("user_name"),
        AuditEntry.organisation.name.as_alias("organisation_name"), AuditEntry.role, AuditEntry.action,
        AuditEntry.object_type, AuditEntry.object_id, AuditEntry.purpose, AuditEntry.result,
    ).where(about).order_by(AuditEntry.id)
    return {"cases": cases, "events": events, "signals": signals, "comments": comments, "audit": reads}


async def access_request(actor: Actor, request: AccessRequest, keys: Sequence[bytes]) -> AccessExport:
    """Run an access request: one ZIP of everything on the resident in the actor's municipality's contracts.
    The request is audited (action ``inzage``, the pseudonym as object, per contract searched) in the same
    transaction as the reading."""
    await _require_privacy_officer(actor)
    pseudonym = pseudonymise(request.bsn, keys)
    earlier = [pseudonymise(request.bsn, keys[:layers]) for layers in range(1, len(keys))]
    async with write_transaction():
        data = await collect_access(actor, pseudonym, earlier)
        managed = [row["id"] for row in await Contract.select(Contract.id).where(policy.contract_scope(actor))]
        found = sorted({row["contract"] for row in data["cases"]})
        layers = len(keys)
        for contract_id in managed or [None]:
            await audit.record(actor, "inzage", "resident", pseudonym, contract_id=contract_id,
                               purpose=f"inzageverzoek AVG art. 15: {request.purpose}",
                               new={"cases": sum(row["contract"] == contract_id for row in data["cases"]),
                                    "key_layers": layers})
    now = utc_now()
    content = build_access_zip(data, request.purpose, now)
    stamp = now.astimezone(AMSTERDAM).strftime("%Y%m%d-%H%M")
    return AccessExport(file_name=f"inzage-{stamp}.zip", content=content, cases=len(data["cases"]),
                        contracts=found)


def _json_default(value):
    if isinstance(value, datetime):
        return value.astimezone(AMSTERDAM).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def build_access_zip(data: dict, purpose: str, now: datetime) -> bytes:
    tables = rules.export_tables(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("LEESMIJ.txt", rules.README)
        for table in tables:
            archive.writestr(f"{table.name}.csv", to_csv(table.headers, table.rows))
        archive.writestr("gegevens.json", json.dumps(
            {"aangemaakt": now, "kenmerk": purpose, **{table.name: [dict(zip(table.headers, row, strict=True))
                                                                 for row in table.rows] for table in tables}},
            default=_json_default, ensure_ascii=False, indent=1))
        archive.writestr("overzicht.pdf", _access_pdf(tables, purpose, now))
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    return str(value)


def _access_pdf(tables: list, purpose: str, now: datetime) -> bytes:
    document = PdfDocument("Inzage in persoonsgegevens (AVG artikel 15)", subtitle=f"Kenmerk: {purpose}",
                           footer=f"Inzicht, {format_datetime(now)}")
    document.facts([(table.title, str(len(table.rows))) for table in tables])
    document.paragraph("Het portaal legt geen naam, adres of BSN vast, alleen een pseudoniem. Het BSN waarmee dit "
                       "verzoek is gedaan, is niet bewaard.", muted=True)
    for table in tables:
        document.heading(table.title)
        if not table.rows:
            document.paragraph("Geen gegevens.", muted=True)
            continue
        for row in table.rows:
            document.bullets(["; ".join(f"{header}: {_cell(value)}" for header, value in
                                        zip(table.headers, row, strict=True) if value not in (None, ""))])
    return document.output()


# --- retention -----------------------------------------------------------------------------------------


async def retention_page(actor: Actor) -> dict:
    """The contract manager's contracts with their term, and the latest runs of the retention job."""
    policy.require_role(actor, {Role.CONTRACT_MANAGER}, "bewaartermijnen")
    async with read_transaction():
        contracts = await Contract.select(Contract.id, Contract.name, Contract.retention_years).where(
            policy.contract_scope(actor)).order_by(Contract.name)
        runs = await RetentionRun.select().order_by(RetentionRun.id, ascending=False).limit(20)
    mine = {str(row["id"]) for row in contracts}
    for run in runs:  # counts of the actor's own contracts only: another municipality's are none of its business
        summary = run["summary"]
        per_contract = (json.loads(summary) if isinstance(summary, str) else summary or {}).get("contracts", {})
        own = [counts for contract_id, counts in per_contract.items() if contract_id in mine]
        run["own"] = {key: sum(counts.get(key, 0) for counts in own)
                      for key in ("cases", "event_texts", "signal_texts", "comment_texts")}
    today = today_nl()
    for row in contracts:
        row["cutoff"] = rules.retention_cutoff(today, row["retention_years"])
    return {"contracts": contracts, "runs": runs, "default_years": rules.WMO_RETENTION_YEARS,
            "min_years": rules.MIN_RETENTION_YEARS, "max_years": rules.MAX_RETENTION_YEARS}


async def set_retention_years(actor: Actor, contract_id: int, text: str | None) -> int:
    policy.require_role(actor, {Role.CONTRACT_MANAGER}, "bewaartermijnen")
    async with write_transaction():
        row = await Contract.select(Contract.id, Contract.municipality, Contract.retention_years).where(
            Contract.id == contract_id).first()
        if row is None or row["municipality"] != actor.organisation_id:
            raise NotFound(policy.NOT_FOUND_CONTRACT)
        years = rules.parse_retention_years(text)
        if years != row["retention_years"]:
            await Contract.update({Contract.retention_years: years}).where(Contract.id == contract_id)
            await audit.record(actor, "change", "contract", contract_id, contract_id=contract_id,
                               old={"retention_years": row["retention_years"]}, new={"retention_years": years})
    return years


@dataclass
class RetentionSummary:
    day: date
    contracts: int = 0
    cases: int = 0
    event_texts: int = 0
    signal_texts: int = 0
    comment_texts: int = 0
    per_contract: dict[str, dict[str, int]] = field(default_factory=dict)
    run_id: int | None = None

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "contracts": self.contracts, "cases": self.cases,
                "event_texts": self.event_texts, "signal_texts": self.signal_texts,
                "comment_texts": self.comment_texts}


RETENTION_BATCH = 500


async def _expired_case_ids(contract: dict, today: date) -> list[dict]:
    cutoff = rules.retention_cutoff(today, contract["retention_years"])
    start = datetime.combine(cutoff, datetime.min.time(), tzinfo=AMSTERDAM)
    return await Case.select(Case.id, Case.pseudonym).where(
        Case.contract == contract["id"], Case.status.is_in(sorted(rules.RETENTION_STATUSES)),
        Case.status_since < start)


async def _anonymise_contract(contract: dict, today: date) -> dict[str, int]:
    """Within the caller's transaction: the contract's cases past their term lose their pseudonym (a random
    tombstone, the same one for the cases of one resident, so per-resident counts stay as they were) and the
    free text around them. Status, dates, codes and the neighbourhood stay for the figures. Only rows that
    still hold something are changed, so a second run changes nothing."""
    counts = {"cases": 0, "event_texts": 0, "signal_texts": 0, "comment_texts": 0}
    expired = await _expired_case_ids(contract, today)
    if not expired:
        return counts
    stones: dict[str, str] = {}
    for row in expired:
        if is_pseudonym(row["pseudonym"]):
            stones.setdefault(row["pseudonym"], tombstone())
    for old, new in stones.items():
        changed = await Case.update({Case.pseudonym: new}).where(
            Case.contract == contract["id"], Case.pseudonym == old,
            Case.id.is_in([row["id"] for row in expired if row["pseudonym"] == old])).returning(Case.id)
        counts["cases"] += len(changed)
    ids = [row["id"] for row in expired]
    for batch in batches(ids, RETENTION_BATCH):
        notes = await CaseEvent.update({CaseEvent.note: None}).where(
            CaseEvent.case.is_in(list(batch)), CaseEvent.note.is_not_null()).returning(CaseEvent.id)
        referred = await CaseEvent.update({CaseEvent.referred_to: rules.REMOVED_TEXT}).where(
            CaseEvent.case.is_in(list(batch)), CaseEvent.referred_to.is_not_null(),
            CaseEvent.referred_to.not_in([rules.NOWHERE_TEXT, rules.REMOVED_TEXT])).returning(CaseEvent.id)
        counts["event_texts"] += len({row["id"] for row in notes} | {row["id"] for row in referred})
        signal_ids = [row["id"] for row in await Signal.select(Signal.id).where(Signal.case.is_in(list(batch)))]
        if not signal_ids:
            continue
        details = await Signal.update({Signal.detail: rules.REMOVED_TEXT}).where(
            Signal.id.is_in(signal_ids), Signal.detail != rules.REMOVED_TEXT, Signal.detail != "").returning(Signal.id)
        resolutions = await Signal.update({Signal.resolution: rules.REMOVED_TEXT}).where(
            Signal.id.is_in(signal_ids), Signal.resolution.is_not_null(),
            Signal.resolution != rules.REMOVED_TEXT).returning(Signal.id)
        raised_titles = await Signal.update({Signal.title: rules.REMOVED_TEXT}).where(
            Signal.id.is_in(signal_ids), Signal.rule == "raised", Signal.title != rules.REMOVED_TEXT).returning(
            Signal.id)
        counts["signal_texts"] += len({row["id"] for row in [*details, *resolutions, *raised_titles]})
        comments = await SignalComment.update({SignalComment.body: rules.REMOVED_TEXT}).where(
            SignalComment.signal.is_in(signal_ids), SignalComment.body != rules.REMOVED_TEXT).returning(
            SignalComment.id)
        counts["comment_texts"] += len(comments)
    return counts


async def run_retention(today: date | None = None, runner: str = "cli") -> RetentionSummary:
    """The daily retention job: per contract, in one transaction each, anonymise what has passed the
    contract's term after closing. Idempotent: a second run on the same day finds nothing left to change.
    Writes a :class:`RetentionRun` with the counts (and per contract in its summary)."""
    today = today or today_nl()
    summary = RetentionSummary(day=today)
    run = RetentionRun(runner=runner, day=today, outcome="running")
    await run.save()
    summary.run_id = run.id
    try:
        contracts = await Contract.select(Contract.id, Contract.retention_years).order_by(Contract.id)
        for contract in contracts:
            summary.contracts += 1
            async with write_transaction():
                counts = await _anonymise_contract(contract, today)
                if any(counts.values()):
                    await audit.record(None, "delete", "retention_run", run.id, contract_id=contract["id"],
                                       purpose="bewaartermijn verstreken (AVG art. 5 lid 1 onder e)", origin="job",
                                       new={"retention_years": contract["retention_years"], **counts})
            if any(counts.values()):
                summary.per_contract[str(contract["id"])] = counts
            summary.cases += counts["cases"]
            summary.event_texts += counts["event_texts"]
            summary.signal_texts += counts["signal_texts"]
            summary.comment_texts += counts["comment_texts"]
    except Exception:
        await RetentionRun.update({RetentionRun.outcome: "failed", RetentionRun.finished_at: utc_now()}).where(
            RetentionRun.id == run.id)
        raise
    await RetentionRun.update({
        RetentionRun.outcome: "ok", RetentionRun.finished_at: utc_now(), RetentionRun.contracts: summary.contracts,
        RetentionRun.cases: summary.cases, RetentionRun.event_texts: summary.event_texts,
        RetentionRun.signal_texts: summary.signal_texts, RetentionRun.comment_texts: summary.comment_texts,
        RetentionRun.summary: json.dumps({"contracts": summary.per_contract}),
    }).where(RetentionRun.id == run.id)
    return summary


# --- the pseudonym keys ----------------------------------------------------------------------------------

KEY_SCOPE = "case"
KEY_STATE_LOCK = 7513_2027  # pg_advisory_xact_lock: one rotation at a time
REKEY_BATCH = 500
WRONG_KEYS = ("De ingestelde pseudoniemsleutel(s) passen niet bij de database: de pseudoniemen zijn met andere "
              "sleutels gemaakt. Controleer PORTAL_PSEUDONYM_KEY en PORTAL_PSEUDONYM_PREVIOUS_KEYS.")


class KeyMismatch(Exception):
    """The configured key chain is not the one the stored pseudonyms were made with."""


async def check_pseudonym_keys(keys: Sequence[bytes]) -> bool:
    """Whether the configured chain matches the database; records the check value when none is stored yet
    (the first start). Raises :class:`KeyMismatch` when it does not match."""
    expected = key_check(keys)
    async with write_transaction():
        row = await PseudonymKeyState.select().where(PseudonymKeyState.scope == KEY_SCOPE).first()
        if row is None:
            await PseudonymKeyState.insert(PseudonymKeyState(scope=KEY_SCOPE, key_check=expected, layers=len(keys),
                                                             updated_at=utc_now())).on_conflict(action="DO NOTHING")
            return True
    if row["key_check"] != expected:
        raise KeyMismatch(WRONG_KEYS)
    return True


@dataclass(frozen=True)
class RotationResult:
    pseudonyms: int  # distinct pseudonyms re-keyed
    cases: int  # case rows changed
    layers: int  # keys in the chain now


async def rotate_pseudonym_key(old_keys: Sequence[bytes], new_key: bytes) -> RotationResult:
    """Re-key every stored pseudonym, in ONE transaction: ``p -> HMAC(new_key, p)`` (``portal.lib.pseudonym``).
    Refused (nothing changes) when ``old_keys`` is not the chain the database was made with. Tombstones of
    retention are left alone. Afterwards the chain is ``old_keys + [new_key]``."""
    old_keys = tuple(old_keys)
    if new_key in old_keys:
        raise InvalidInput("De nieuwe sleutel moet anders zijn dan de huidige en de eerdere sleutels.")
    new_chain = (*old_keys, new_key)
    expected_old = key_check(old_keys)
    async with write_transaction():
        db = engine()
        if isinstance(db, PostgresEngine):
            await db.run_ddl(f"SELECT pg_advisory_xact_lock({KEY_STATE_LOCK})")
        state = await PseudonymKeyState.select().where(PseudonymKeyState.scope == KEY_SCOPE).first()
        if state is not None and state["key_check"] != expected_old:
            raise KeyMismatch(WRONG_KEYS)
        distinct = await Case.select(Case.pseudonym).where(
            Case.pseudonym.not_like(f"{TOMBSTONE_PREFIX}%")).distinct()
        mapping = {row["pseudonym"]: rekey(row["pseudonym"], new_key) for row in distinct
                   if is_pseudonym(row["pseudonym"])}
        changed = 0
        old_values = list(mapping)
        for batch in batches(old_values, REKEY_BATCH):
            # One UPDATE per batch: CASE maps each old value to its new one. Values are parameters.
            cases = " ".join("WHEN {} THEN {}" for _ in batch)
            marks = ", ".join("{}" for _ in batch)
            params: list = []
            for old in batch:
                params += [old, mapping[old]]
            rows = await Case.raw(
                f"UPDATE portal_case SET pseudonym = CASE pseudonym {cases} END "  # noqa: S608 (placeholders only)
                f"WHERE pseudonym IN ({marks}) RETURNING id", *params, *batch)
            changed += len(rows)
        values = {PseudonymKeyState.key_check: key_check(new_chain), PseudonymKeyState.layers: len(new_chain),
                  PseudonymKeyState.updated_at: utc_now()}
        if state is None:
            await PseudonymKeyState(scope=KEY_SCOPE, key_check=key_check(new_chain), layers=len(new_chain),
                                    updated_at=utc_now()).save()
        else:
            await PseudonymKeyState.update(values).where(PseudonymKeyState.scope == KEY_SCOPE)
        await audit.record(None, "change", "pseudonym_key", None, purpose="sleutelrotatie pseudoniemen",
                           origin="cli", new={"pseudonyms": len(mapping), "cases": changed, "layers": len(new_chain)})
    return RotationResult(pseudonyms=len(mapping), cases=changed, layers=len(new_chain))


async def check_keys_at_start(settings) -> None:
    """At the start of a portal process: a key chain that does not match the stored pseudonyms would silently
    break re-report detection and access requests. Production refuses to start; elsewhere it is logged."""
    try:
        await check_pseudonym_keys(settings.pseudonym_keys)
    except KeyMismatch:
        if settings.environment == "production":
            raise RuntimeError(WRONG_KEYS) from None
        log.error(WRONG_KEYS)
    except Exception as exc:  # e.g. a database that is not migrated yet: the pages say so themselves
        log.warning("pseudonym key check skipped: %s", type(exc).__name__)
