"""Machine access to the JSON API: API keys per person, and idempotent POSTs.

An external system (a main contractor's or subcontractor's own case system) cannot log in with a cookie
session and CSRF token; it sends ``Authorization: Bearer <key>`` instead. A key acts as the person who made
it: same role, same organisation, same object-level checks. Only the SHA-256 of a key is stored; the key
itself is shown once, at creation. Creating and revoking a key is audited.

A POST with an ``Idempotency-Key`` header is done once per (person, key): the first response is stored in
the transaction of the change itself, and a retry gets that response back without changing anything.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import msgspec

from portal.accounts import audit, policy
from portal.accounts.rules import Actor, OrganisationKind, Role
from portal.accounts.tables import ApiKey, IdempotencyRecord, User
from portal.db import write_transaction
from portal.lib.errors import Conflict, InvalidInput, NotFound
from portal.lib.tables_base import utc_now
from portal.settings import get_settings

KEY_PREFIX = "inz_"
SHOWN_PREFIX_LENGTH = 8
API_KEY_ROLES = frozenset({Role.COORDINATOR, Role.SUBCONTRACTOR})
MAX_ACTIVE_KEYS = 20
LAST_USED_RESOLUTION = timedelta(minutes=5)  # last_used_at is written at most this often per key

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_LENGTH = 255


# --- keys --------------------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewApiKey:
    id: int
    name: str
    prefix: str
    key: str  # the secret: shown once, never stored

    def __repr__(self) -> str:  # never let the secret reach a log line
        return f"NewApiKey(id={self.id}, name={self.name!r}, prefix={self.prefix!r})"


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("Geef de sleutel een naam (maximaal 100 tekens), bijvoorbeeld het systeem dat hem "
                           "gebruikt.", field="naam")
    return name


async def _create(user_id: int, organisation_id: int, actor: Actor | None, name: str) -> NewApiKey:
    name = _check_name(name)
    key = _new_key()
    async with write_transaction():
        active = await ApiKey.count().where(ApiKey.user == user_id, ApiKey.revoked_at.is_null())
        if active >= MAX_ACTIVE_KEYS:
            raise InvalidInput(f"U heeft al {MAX_ACTIVE_KEYS} actieve sleutels. Trek er eerst een in.", field="naam")
        row = ApiKey(user=user_id, name=name, prefix=key[:SHOWN_PREFIX_LENGTH], key_hash=hash_key(key))
        await row.save()
        await audit.record(actor, "create", "api_key", row.id, new={"name": name, "prefix": row.prefix},
                           purpose="API-sleutel aangemaakt", origin=None if actor else "cli",
                           user_id=user_id, organisation_id=organisation_id)
    return NewApiKey(id=row.id, name=name, prefix=row.prefix, key=key)


async def create_api_key(actor: Actor, name: str) -> NewApiKey:
    """A new key for the actor itself (coordinators and subcontractors)."""
    policy.require_role(actor, API_KEY_ROLES, "API-sleutels")
    return await _create(actor.user_id, actor.organisation_id, actor, name)


async def create_api_key_for(email: str, name: str) -> NewApiKey:
    """From the command line (``portal create-api-key``): a key for the account with this e-mail address."""
    row = await User.select(User.id, User.organisation, User.role, User.is_active).where(
        User.email == (email or "").strip().lower()).first()
    if row is None or not row["is_active"]:
        raise NotFound("Er is geen actief account met dit e-mailadres.")
    if Role(row["role"]) not in API_KEY_ROLES:
        raise InvalidInput("Alleen coördinatoren en onderaannemers kunnen een API-sleutel krijgen.", field="email")
    return await _create(row["id"], row["organisation"], None, name)


async def list_api_keys(actor: Actor) -> list[dict]:
    policy.require_role(actor, API_KEY_ROLES, "API-sleutels")
    return await ApiKey.select(
        ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at,
    ).where(ApiKey.user == actor.user_id).order_by(ApiKey.id, ascending=False)


async def revoke_api_key(actor: Actor, key_id: int) -> None:
    """Revoke one of the actor's own keys; another person's key is 'not found'."""
    policy.require_role(actor, API_KEY_ROLES, "API-sleutels")
    async with write_transaction():
        row = await ApiKey.select(ApiKey.id, ApiKey.prefix, ApiKey.revoked_at).where(
            ApiKey.id == key_id, ApiKey.user == actor.user_id).first()
        if row is None:
            raise NotFound("Deze sleutel bestaat niet, of is niet van u.")
        if row["revoked_at"] is not None:
            return
        await ApiKey.update({ApiKey.revoked_at: utc_now()}).where(ApiKey.id == key_id)
        await audit.record(actor, "change", "api_key", key_id, old={"revoked": False},
                           new={"revoked": True, "prefix": row["prefix"]}, purpose="API-sleutel ingetrokken")


async def actor_for_key(key: str, address: str | None) -> Actor | None:
    """The person behind a bearer key, or None for an unknown or revoked key, or a deactivated person or
    organisation. The audit trail's origin names the key (``<address> api <prefix>``)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = await ApiKey.select(
        ApiKey.id, ApiKey.prefix, ApiKey.revoked_at, ApiKey.last_used_at, ApiKey.user.as_alias("user_id"),
        ApiKey.user.email.as_alias("email"), ApiKey.user.display_name.as_alias("display_name"),
        ApiKey.user.role.as_alias("role"), ApiKey.user.is_active.as_alias("user_active"),
        ApiKey.user.organisation.as_alias("organisation"),
        ApiKey.user.organisation.kind.as_alias("organisation_kind"),
        ApiKey.user.organisation.is_active.as_alias("organisation_active"),
    ).where(ApiKey.key_hash == hash_key(key)).first()
    if row is None or row["revoked_at"] is not None or not (row["user_active"] and row["organisation_active"]):
        return None
    if Role(row["role"]) not in API_KEY_ROLES:
        return None
    now = utc_now()
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
        await ApiKey.update({ApiKey.last_used_at: now}).where(ApiKey.id == row["id"])
    origin = f"{address or '?'} api {row['prefix']}"[:64]
    return Actor(user_id=row["user_id"], organisation_id=row["organisation"],
                 organisation_kind=OrganisationKind(row["organisation_kind"]), role=Role(row["role"]),
                 display_name=row["display_name"], email=row["email"], origin=origin)


# --- idempotent POSTs --------------------------------------------------------------------------------


class IdempotencyKeyReused(InvalidInput):
    """The same Idempotency-Key with another request."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    """A request with this key is still running (a concurrent duplicate)."""

    code = "idempotency_in_progress"


REUSED_MESSAGE = ("Deze Idempotency-Key is in de afgelopen 24 uur al gebruikt voor een ander verzoek. Gebruik een "
                  "nieuwe sleutel voor een nieuw verzoek.")
IN_PROGRESS_MESSAGE = ("Een verzoek met deze Idempotency-Key wordt nog verwerkt. Probeer het over enkele seconden "
                       "opnieuw.")


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request's fingerprint: method, path and canonical body, hashed with the server's secret key (a body
    can hold a BSN, and a plain hash of a BSN is easily reversed by trying them all)."""
    secret = get_settings().secret_key
    assert secret is not None
    message = method.upper().encode() + b"\n" + path.encode() + b"\n" + body
    return hmac.new(secret.get_secret_value().encode(), message, hashlib.sha256).hexdigest()


def canonical_json(value: object) -> bytes:
    """One encoding per meaning: sorted keys, no whitespace."""
    return msgspec.json.encode(msgspec.to_builtins(value), order="sorted")


def _scoped_key(user_id: int, key: str) -> str:
    return hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(f"Een Idempotency-Key bestaat uit 1 tot {MAX_IDEMPOTENCY_KEY_LENGTH} leesbare ASCII-tekens,"
                           " bijvoorbeeld een UUID.", field="Idempotency-Key")
    return key


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: object
    replayed: bool


class _Duplicate(Exception):
    """Another request with the same (person, key) committed its row first."""


def _is_unique_violation(exc: Exception) -> bool:
    return "unique" in f"{type(exc).__name__} {exc}".lower()


async def _stored(scoped: str, request_fingerprint: str) -> StoredResponse | None:
    row = await IdempotencyRecord.select().where(IdempotencyRecord.scoped_key == scoped).first()
    if row is None:
        return None
    if utc_now() - row["created_at"] > IDEMPOTENCY_TTL:
        await IdempotencyRecord.delete().where(IdempotencyRecord.id == row["id"])
        return None
    if not hmac.compare_digest(row["fingerprint"], request_fingerprint):
        raise IdempotencyKeyReused(REUSED_MESSAGE, field="Idempotency-Key")
    if row["response_status"] is None:
        raise IdempotencyInProgress(IN_PROGRESS_MESSAGE)
    body = row["response_body"]
    return StoredResponse(row["response_status"], json.loads(body) if isinstance(body, str) else body, True)


async def run_idempotent(actor: Actor, key: str | None, request_fingerprint: str,
                         work: Callable[[], Awaitable[tuple[int, object]]]) -> StoredResponse:
    """Run ``work`` (which returns status and JSON-able body) once per (actor, key).

    The key's row is inserted in the same write transaction as the work, so the stored response commits with
    the change or not at all (a failed request stores nothing; a retry runs it again). Concurrent duplicates:
    on SQLite the write transactions queue and the second reads the stored response; on PostgreSQL the second
    insert waits on the unique index and then fails, after which the stored response is read (or, when the
    first is somehow still unfinished, 409)."""
    if key is None:
        status, body = await work()
        return StoredResponse(status, body, False)
    scoped = _scoped_key(actor.user_id, key)
    try:
        async with write_transaction():
            found = await _stored(scoped, request_fingerprint)
            if found is not None:
                return found
            if secrets.randbelow(50) == 0:  # housekeeping now and then: keys are kept 24 hours
                await IdempotencyRecord.delete().where(IdempotencyRecord.created_at < utc_now() - IDEMPOTENCY_TTL)
            record = IdempotencyRecord(user=actor.user_id, scoped_key=scoped, fingerprint=request_fingerprint)
            try:
                await record.save()
            except Exception as exc:
                if _is_unique_violation(exc):
                    raise _Duplicate from exc
                raise
            status, body = await work()
            await IdempotencyRecord.update({
                IdempotencyRecord.response_status: status,
                IdempotencyRecord.response_body: json.dumps(body, ensure_ascii=False, default=str),
            }).where(IdempotencyRecord.id == record.id)
    except _Duplicate:
        # a concurrent duplicate committed first: answer with its response
        async with write_transaction():
            found = await _stored(scoped, request_fingerprint)
        if found is None:
            raise IdempotencyInProgress(IN_PROGRESS_MESSAGE) from None
        return found
    return StoredResponse(status, body, False)
