"""The audit trail (NEN 7513): append hash-chained entries in the caller's transaction, verify the chain.

``record`` is called inside the ``write_transaction()`` of the change it records, so the entry and the change
commit or roll back together. Appends are serialised, or two concurrent writers would both chain onto the
same last entry and fork the chain: on PostgreSQL with a transaction-scoped advisory lock taken before the
last hash is read; on SQLite the IMMEDIATE write transaction already holds the one write lock.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from portal.accounts import policy
from portal.accounts.rules import (
    AUDIT_ACTIONS,
    GENESIS_HASH,
    Actor,
    ChainBreak,
    audit_entry_hash,
    find_chain_break,
)
from portal.accounts.tables import AuditEntry
from portal.cases.tables import Case
from portal.db import engine, write_transaction
from portal.lib.formatting import AMSTERDAM
from portal.lib.tables_base import utc_now

# Any constant: every append to the one chain takes this lock (pg_advisory_xact_lock, released at commit).
AUDIT_CHAIN_LOCK = 7513_2026
VERIFY_BATCH = 5000


def _json(value: dict | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


async def record(
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any = None,
    contract_id: int | None = None,
    old: dict | None = None,
    new: dict | None = None,
    purpose: str | None = None,
    origin: str | None = None,
    result: str = "ok",
    *,
    user_id: int | None = None,
    organisation_id: int | None = None,
) -> AuditEntry:
    """Append one entry. ``actor`` may be ``None`` (a failed login of an unknown person, a job); then
    ``user_id``/``organisation_id`` may name the person concerned."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    async with write_transaction():  # joins the caller's transaction when there is one
        db = engine()
        if isinstance(db, PostgresEngine):
            await db.run_ddl(f"SELECT pg_advisory_xact_lock({AUDIT_CHAIN_LOCK})")
        last = await AuditEntry.select(AuditEntry.entry_hash).order_by(AuditEntry.id, ascending=False).first()
        prev_hash = last["entry_hash"] if last else GENESIS_HASH
        values = {
            "occurred_at": utc_now(),
            "user": actor.user_id if actor else user_id,
            "organisation": actor.organisation_id if actor else organisation_id,
            "on_behalf_of": None,
            "role": str(actor.role) if actor else None,
            "action": action,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "contract_id": contract_id,
            "purpose": purpose,
            "result": result,
            "origin": origin if origin is not None else (actor.origin if actor else None),
            "old_values": _json(old),
            "new_values": _json(new),
        }
        entry = AuditEntry(**values, prev_hash=prev_hash, entry_hash=audit_entry_hash(values, prev_hash))
        await entry.save()
        return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken: ChainBreak | None = None

    def describe(self) -> str:
        if self.ok:
            return f"Audittrail intact: {self.checked} regels gecontroleerd."
        assert self.broken is not None
        return f"Audittrail gebroken bij regel {self.broken.entry_id}: {self.broken.reason}."


async def verify_chain() -> ChainReport:
    """Walk the chain in id order, in batches; the first broken link (id and reason), or OK."""
    prev_hash, checked, after_id = GENESIS_HASH, 0, 0
    while True:
        batch = await AuditEntry.select().where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(
            VERIFY_BATCH
        )
        if not batch:
            return ChainReport(ok=True, checked=checked)
        broken = find_chain_break(batch, prev_hash)
        if broken:
            return ChainReport(ok=False, checked=checked, broken=broken)
        checked += len(batch)
        prev_hash, after_id = batch[-1]["entry_hash"], batch[-1]["id"]


# --- reading the trail (contract managers, their contracts) ------------------------------------------

AUDIT_PAGE_SIZE = 200


@dataclass(frozen=True)
class AuditFilter:
    user_id: int | None = None
    case_number: str | None = None
    date_from: date | None = None
    date_to: date | None = None


async def list_entries(actor: Actor, filters: AuditFilter) -> dict:
    """Entries of the actor's contracts, newest first, filtered by person, case and period (Dutch dates).

    Reading the trail is itself recorded (action ``search``)."""
    policy.require_role(actor, policy.AUDIT_READER_ROLES, "de audittrail")
    clauses = [policy.audit_scope(actor)]
    if filters.user_id is not None:
        clauses.append(AuditEntry.user == filters.user_id)
    if filters.case_number:
        case = await Case.select(Case.id).where(Case.case_number == filters.case_number).first()
        clauses.append((AuditEntry.object_type == "case") & (AuditEntry.object_id == str(case["id"] if case else 0)))
    if filters.date_from is not None:
        clauses.append(AuditEntry.occurred_at >= datetime.combine(filters.date_from, time.min, AMSTERDAM))
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, AMSTERDAM)
        clauses.append(AuditEntry.occurred_at < end)
    async with write_transaction():
        rows = await AuditEntry.select(
            AuditEntry.id, AuditEntry.occurred_at, AuditEntry.user.display_name.as_alias("user_name"),
            AuditEntry.organisation.name.as_alias("organisation_name"), AuditEntry.role, AuditEntry.action,
            AuditEntry.object_type, AuditEntry.object_id, AuditEntry.contract_id, AuditEntry.purpose,
            AuditEntry.result, AuditEntry.origin,
        ).where(*clauses).order_by(AuditEntry.id, ascending=False).limit(AUDIT_PAGE_SIZE)
        people = await AuditEntry.select(
            AuditEntry.user.as_alias("id"), AuditEntry.user.display_name.as_alias("name")
        ).where(policy.audit_scope(actor), AuditEntry.user.is_not_null()).distinct()
        await record(actor, "search", "audit_entry", None, purpose="controle van de audittrail",
                     new={"user_id": filters.user_id, "case_number": filters.case_number,
                          "from": filters.date_from, "to": filters.date_to})
    people = sorted({(p["id"], p["name"]) for p in people}, key=lambda person: person[1] or "")
    return {"entries": rows, "people": [{"id": pid, "name": name} for pid, name in people]}
