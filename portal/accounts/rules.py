"""Pure rules about organisations, roles and who may do what. No I/O."""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from portal.lib.errors import InvalidInput


class OrganisationKind(StrEnum):
    MUNICIPALITY = "municipality"
    MAIN_CONTRACTOR = "main_contractor"
    SUBCONTRACTOR = "subcontractor"
    PLATFORM = "platform"

    @property
    def label(self) -> str:
        return ORGANISATION_KIND_LABELS[self]


ORGANISATION_KIND_LABELS = {
    OrganisationKind.MUNICIPALITY: "Gemeente",
    OrganisationKind.MAIN_CONTRACTOR: "Hoofdaannemer",
    OrganisationKind.SUBCONTRACTOR: "Onderaannemer",
    OrganisationKind.PLATFORM: "Platformbeheer",
}


class Role(StrEnum):
    CONTRACT_MANAGER = "contract_manager"
    COORDINATOR = "coordinator"
    SUBCONTRACTOR = "subcontractor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.CONTRACT_MANAGER: "Contractmanager",
    Role.COORDINATOR: "Coördinator",
    Role.SUBCONTRACTOR: "Onderaannemer",
    Role.ADMIN: "Beheerder",
}


# --- the actor: who is acting, for every service call --------------------------------------------


@dataclass(frozen=True)
class Actor:
    """The logged-in person a service acts for (``request.user``). Services take it explicitly.

    ``origin`` is the client address the request came from; the audit trail records it (NEN 7513).
    """

    user_id: int
    organisation_id: int
    organisation_kind: OrganisationKind
    role: Role
    display_name: str
    email: str
    origin: str | None = None


# Which organisation kind may hold which role. Where a contract has no main contractor the municipality's
# own staff coordinate (Zaltbommel), so a municipality may have coordinators.
ROLES_BY_KIND: dict[OrganisationKind, frozenset[Role]] = {
    OrganisationKind.MUNICIPALITY: frozenset({Role.CONTRACT_MANAGER, Role.COORDINATOR, Role.ADMIN}),
    OrganisationKind.MAIN_CONTRACTOR: frozenset({Role.COORDINATOR, Role.ADMIN}),
    OrganisationKind.SUBCONTRACTOR: frozenset({Role.SUBCONTRACTOR, Role.ADMIN}),
    OrganisationKind.PLATFORM: frozenset({Role.ADMIN}),
}


def check_role_fits_organisation(role: Role, kind: OrganisationKind) -> None:
    if role not in ROLES_BY_KIND[kind]:
        raise InvalidInput(
            f"De rol {role.label} past niet bij een organisatie van het soort {kind.label}.", field="role"
        )


# --- login: lock-out after repeated failures -------------------------------------------------------

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class FailureState:
    failed_logins: int
    locked_until: datetime | None


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def after_failed_login(state: FailureState, now: datetime) -> FailureState:
    """The 5th failure in a row locks the account for 15 minutes; the counter then starts again."""
    if is_locked(state.locked_until, now):
        return state
    failed = state.failed_logins + 1
    if failed >= MAX_FAILED_LOGINS:
        return FailureState(failed_logins=0, locked_until=now + LOCKOUT)
    return FailureState(failed_logins=failed, locked_until=None)


# --- the audit trail: canonical form and the hash chain --------------------------------------------

GENESIS_HASH = "0" * 64
# "inzage": an access request of a resident (AVG art. 15), recorded with the pseudonym, never the BSN.
AUDIT_ACTIONS = frozenset({"read", "search", "export", "create", "change", "delete", "login", "logout", "inzage"})
HASHED_AUDIT_FIELDS = (
    "occurred_at", "user", "organisation", "on_behalf_of", "role", "action", "object_type", "object_id",
    "contract_id", "purpose", "result", "origin", "old_values", "new_values",
)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, str) and value[:1] in ("{", "["):
        # JSON columns: parsed, so the database's own formatting (spaces, key order) does not matter.
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def audit_entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """sha256 over the canonical JSON of the entry's recorded fields plus the previous entry's hash."""
    payload = {name: _canonical_value(entry.get(name)) for name in HASHED_AUDIT_FIELDS}
    payload["prev_hash"] = prev_hash
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    reason: str


def find_chain_break(entries: Iterable[Mapping[str, Any]], prev_hash: str = GENESIS_HASH) -> ChainBreak | None:
    """The first entry (in id order) whose link or own hash is wrong, or ``None`` for an intact chain."""
    for entry in entries:
        if entry["prev_hash"] != prev_hash:
            return ChainBreak(entry["id"], "de verwijzing naar de vorige regel klopt niet "
                                           "(een regel is verwijderd, ingevoegd of verplaatst)")
        if audit_entry_hash(entry, prev_hash) != entry["entry_hash"]:
            return ChainBreak(entry["id"], "de inhoud van de regel is gewijzigd na het vastleggen")
        prev_hash = entry["entry_hash"]
    return None


def default_purpose(role: Role) -> str:
    """The purpose recorded for a read when the person gave none (NEN 7513 'doel')."""
    return {
        Role.CONTRACT_MANAGER: "toezicht op het contract",
        Role.COORDINATOR: "uitvoering: regie en toewijzing",
        Role.SUBCONTRACTOR: "uitvoering: ondersteuning",
        Role.ADMIN: "beheer",
    }[role]
