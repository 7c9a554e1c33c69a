"""Account use cases: login (password, lock-out, second factor), sessions, logout everywhere, and the
management of organisations and users. Every change and every login attempt is audited in its transaction.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.query.functions.aggregate import Count

from portal.accounts import audit, policy
from portal.accounts.passwords import hash_password, needs_rehash, verify_password
from portal.accounts.rules import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    Actor,
    FailureState,
    OrganisationKind,
    Role,
    after_failed_login,
    check_role_fits_organisation,
    is_locked,
)
from portal.accounts.schemas import OrganisationInput, UserInput, check_password_strength
from portal.accounts.store import DatabaseStore
from portal.accounts.tables import Organisation, User
from portal.contracts.tables import Contract, Subcontract
from portal.db import engine, write_transaction
from portal.lib.errors import InvalidInput, NotFound
from portal.lib.tables_base import utc_now

REFUSED_MESSAGE = "Het e-mailadres of het wachtwoord is onjuist."
LOCKED_MESSAGE = (
    f"Er is {MAX_FAILED_LOGINS} keer achter elkaar onjuist ingelogd. Om misbruik te voorkomen kunt u "
    f"{int(LOCKOUT.total_seconds() // 60)} minuten niet inloggen met dit e-mailadres. Probeer het daarna opnieuw."
)
WRONG_CODE_MESSAGE = "De code is onjuist of verlopen. Controleer de tijd op uw telefoon en probeer het opnieuw."
TOTP_ISSUER = "Inzicht"

# Failed attempts for e-mail addresses without an account are counted too (keyed by a hash, never the
# address itself), so the answers for existing and unknown addresses cannot be told apart.
_unknown_failures = DatabaseStore("login_failures")
_dummy_hash: str | None = None


class LoginStep(StrEnum):
    DONE = "done"
    SECOND_FACTOR = "second_factor"  # the person has a TOTP secret: ask for the code
    ENROL_SECOND_FACTOR = "enrol_second_factor"  # a contract requires TOTP and the person has none yet
    REFUSED = "refused"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginOutcome:
    step: LoginStep
    user_id: int | None = None
    session_generation: int | None = None

    @property
    def message(self) -> str | None:
        return {LoginStep.REFUSED: REFUSED_MESSAGE, LoginStep.LOCKED: LOCKED_MESSAGE}.get(self.step)


def _actor(row: dict, origin: str | None) -> Actor:
    return Actor(
        user_id=row["id"],
        organisation_id=row["organisation"],
        organisation_kind=OrganisationKind(row["organisation_kind"]),
        role=Role(row["role"]),
        display_name=row["display_name"],
        email=row["email"],
        origin=origin,
    )


async def _user_row(where) -> dict | None:
    return await User.select(
        User.id, User.email, User.display_name, User.organisation, User.role, User.password_hash,
        User.is_active, User.totp_secret, User.failed_logins, User.locked_until, User.session_generation,
        User.organisation.kind.as_alias("organisation_kind"),
        User.organisation.is_active.as_alias("organisation_active"),
    ).where(where).first()


def _spend_password_time(password: str) -> None:
    """Verify against a throw-away hash, so an unknown address takes as long as a known one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("geen-account-" + "x" * 16)
    verify_password(_dummy_hash, password)


async def totp_required_by_contract(organisation_id: int) -> bool:
    """A contract with ``requires_totp`` forces a second factor on everyone of the organisations on it."""
    as_party = await Contract.exists().where(
        Contract.requires_totp.eq(True),
        (Contract.municipality == organisation_id) | (Contract.main_contractor == organisation_id),
    )
    if as_party:
        return True
    return await Subcontract.exists().where(
        Subcontract.subcontractor == organisation_id, Subcontract.contract.requires_totp.eq(True)
    )


async def _lock_user(where) -> None:
    """Concurrent logins of one account take turns, so no failure is lost and no more passwords are checked
    than the lock-out allows. PostgreSQL: a row lock until the transaction ends (READ COMMITTED would let
    every concurrent attempt read the same count); SQLite's write transactions already queue."""
    if not isinstance(engine(), SQLiteEngine):
        await User.select(User.id).where(where).lock_rows()


async def _register_failure(row: dict, now: datetime) -> FailureState:
    state = after_failed_login(FailureState(row["failed_logins"] or 0, row["locked_until"]), now)
    await User.update({User.failed_logins: state.failed_logins, User.locked_until: state.locked_until}).where(
        User.id == row["id"]
    )
    return state


async def _register_unknown_failure(email: str) -> bool:
    """Count a failure for an address without an account; True when it is now 'locked'."""
    key = hashlib.sha256(email.encode()).hexdigest()
    stored = await _unknown_failures.get(key)
    count = int(stored or b"0") + 1
    await _unknown_failures.set(key, str(count).encode(), expires_in=LOCKOUT)
    return count >= MAX_FAILED_LOGINS


async def authenticate(email: str, password: str, origin: str | None) -> LoginOutcome:
    """Check e-mail and password. Never tells whether the address exists; locks after 5 failures."""
    email = (email or "").strip().lower()
    now = utc_now()
    async with write_transaction():
        if email:
            await _lock_user(User.email == email)
        row = await _user_row(User.email == email) if email else None
        if row is None:
            _spend_password_time(password)
            locked = await _register_unknown_failure(email)
            step = LoginStep.LOCKED if locked else LoginStep.REFUSED
            await audit.record(None, "login", "user", None, origin=origin, result=str(step),
                               purpose="inloggen")
            return LoginOutcome(step)
        actor = _actor(row, origin)
        if is_locked(row["locked_until"], now):
            _spend_password_time(password)  # a locked account answers as slowly as any other
            await audit.record(actor, "login", "user", row["id"], result="locked", purpose="inloggen")
            return LoginOutcome(LoginStep.LOCKED)
        usable = row["is_active"] and row["organisation_active"]
        if not (verify_password(row["password_hash"], password) and usable):
            state = await _register_failure(row, now)
            step = LoginStep.LOCKED if is_locked(state.locked_until, now) else LoginStep.REFUSED
            await audit.record(actor, "login", "user", row["id"], result="refused", purpose="inloggen",
                               new={"locked": step is LoginStep.LOCKED})
            return LoginOutcome(step)
        if needs_rehash(row["password_hash"]):
            await User.update({User.password_hash: hash_password(password)}).where(User.id == row["id"])
        generation = row["session_generation"]
        if row["totp_secret"]:
            await audit.record(actor, "login", "user", row["id"], result="second_factor", purpose="inloggen")
            return LoginOutcome(LoginStep.SECOND_FACTOR, row["id"], generation)
        if await totp_required_by_contract(row["organisation"]):
            await audit.record(actor, "login", "user", row["id"], result="enrol_totp",
                               purpose="inloggen")
            return LoginOutcome(LoginStep.ENROL_SECOND_FACTOR, row["id"], generation)
        await _complete_login(actor, now)
        return LoginOutcome(LoginStep.DONE, row["id"], generation)


async def _complete_login(actor: Actor, now: datetime) -> None:
    await User.update({User.failed_logins: 0, User.locked_until: None, User.last_login_at: now}).where(
        User.id == actor.user_id
    )
    await audit.record(actor, "login", "user", actor.user_id, result="ok", purpose="inloggen")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _code_matches(secret: str, code: str) -> bool:
    code = "".join((code or "").split())
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


async def complete_second_factor(user_id: int, generation: int, code: str, origin: str | None,
                                 new_secret: str | None = None) -> LoginOutcome:
    """Second login step: the TOTP code (for enrolment at login, against ``new_secret``, which is then kept).

    A wrong code counts as a failed login, so the lock-out also protects the code."""
    now = utc_now()
    async with write_transaction():
        await _lock_user(User.id == user_id)
        row = await _user_row(User.id == user_id)
        if row is None or row["session_generation"] != generation or not row["is_active"]:
            return LoginOutcome(LoginStep.REFUSED)
        actor = _actor(row, origin)
        if is_locked(row["locked_until"], now):
            await audit.record(actor, "login", "user", user_id, result="locked", purpose="tweede factor")
            return LoginOutcome(LoginStep.LOCKED)
        secret = row["totp_secret"] or new_secret
        if not secret or not _code_matches(secret, code):
            state = await _register_failure(row, now)
            await audit.record(actor, "login", "user", user_id, result="refused", purpose="tweede factor")
            locked = is_locked(state.locked_until, now)
            return LoginOutcome(LoginStep.LOCKED if locked else LoginStep.REFUSED)
        if not row["totp_secret"]:
            await User.update({User.totp_secret: secret}).where(User.id == user_id)
            await audit.record(actor, "change", "user", user_id, old={"totp": False}, new={"totp": True},
                               purpose="tweestapsverificatie ingesteld bij inloggen")
        await _complete_login(actor, now)
        return LoginOutcome(LoginStep.DONE, user_id, generation)


async def enrol_second_factor(actor: Actor, secret: str, code: str) -> None:
    """A logged-in person turns on TOTP: the first code proves the authenticator app has the secret."""
    if not _code_matches(secret, code):
        raise InvalidInput(WRONG_CODE_MESSAGE, field="code")
    async with write_transaction():
        await User.update({User.totp_secret: secret}).where(User.id == actor.user_id)
        await audit.record(actor, "change", "user", actor.user_id, old={"totp": False}, new={"totp": True},
                           purpose="tweestapsverificatie ingesteld")


async def has_second_factor(actor: Actor) -> bool:
    return await User.exists().where(User.id == actor.user_id, User.totp_secret.is_not_null())


async def actor_for_session(user_id: int, generation: int, origin: str | None) -> Actor | None:
    """The actor behind a session, or None when the person, its organisation or the session is no longer
    valid (deactivated, or logged out everywhere since: the session's generation is outdated)."""
    rows = await User.raw(SESSION_USER_SQL, user_id)  # every request: plain SQL, no query building
    row = rows[0] if rows else None
    if row is None or not (row["is_active"] and row["organisation_active"]):
        return None
    if row["session_generation"] != generation:
        return None
    return _actor(row, origin)


# What actor_for_session needs, as one statement; the same columns as _user_row's (minus the secrets).
SESSION_USER_SQL = (
    "SELECT u.id, u.email, u.display_name, u.organisation, u.role, u.is_active, u.session_generation, "
    "o.kind AS organisation_kind, o.is_active AS organisation_active "
    "FROM portal_user u JOIN organisation o ON o.id = u.organisation WHERE u.id = {}"
)


async def logout(actor: Actor) -> None:
    async with write_transaction():
        await audit.record(actor, "logout", "user", actor.user_id, purpose="uitloggen")


async def logout_everywhere(actor: Actor) -> int:
    """Raise the session generation: every session issued before is refused from now on."""
    async with write_transaction():
        row = await User.select(User.session_generation).where(User.id == actor.user_id).first()
        if row is None:
            raise NotFound("Dit account bestaat niet meer.")
        generation = row["session_generation"] + 1
        await User.update({User.session_generation: generation}).where(User.id == actor.user_id)
        await audit.record(actor, "logout", "user", actor.user_id, old={"session_generation": generation - 1},
                           new={"session_generation": generation}, purpose="overal uitloggen")
    return generation


# --- management of organisations and users (admin) -------------------------------------------------


async def list_organisations(actor: Actor) -> list[dict]:
    policy.require_role(actor, policy.ACCOUNT_MANAGER_ROLES, "het beheer van organisaties")
    rows = await Organisation.select(
        Organisation.id, Organisation.name, Organisation.kind, Organisation.kvk_number, Organisation.is_active,
        Organisation.created_at,
    ).order_by(Organisation.name)
    counts = await User.select(User.organisation, Count(alias="users")).group_by(User.organisation)
    per_org = {row["organisation"]: row["users"] for row in counts}
    for row in rows:
        row["kind_label"] = OrganisationKind(row["kind"]).label
        row["users"] = per_org.get(row["id"], 0)
    return rows


async def list_users(actor: Actor) -> list[dict]:
    policy.require_role(actor, policy.ACCOUNT_MANAGER_ROLES, "het beheer van gebruikers")
    rows = await User.select(
        User.id, User.email, User.display_name, User.role, User.is_active, User.last_login_at,
        User.locked_until, User.totp_secret, User.organisation, User.is_privacy_officer,
        User.organisation.name.as_alias("organisation_name"),
    ).order_by(User.organisation.name).order_by(User.display_name)
    for row in rows:
        row["has_totp"] = bool(row.pop("totp_secret"))  # the secret itself never leaves the service
        row["role_label"] = Role(row["role"]).label
    return rows


async def create_organisation(actor: Actor | None, data: OrganisationInput) -> int:
    """Create an organisation. ``actor`` is None only from the command line (``portal create-organisation``)."""
    if actor is not None:
        policy.require_role(actor, policy.ACCOUNT_MANAGER_ROLES, "het beheer van organisaties")
    async with write_transaction():
        if await Organisation.exists().where(Organisation.name == data.name):
            raise InvalidInput("Er bestaat al een organisatie met deze naam.", field="name")
        row = Organisation(name=data.name, kind=str(data.kind), kvk_number=data.kvk_number)
        await row.save()
        await audit.record(actor, "create", "organisation", row.id, new=data.model_dump(mode="json"),
                           purpose="beheer van organisaties", origin=None if actor else "cli")
    return row.id


async def create_user(actor: Actor | None, data: UserInput, password: str | None) -> int:
    """Create an account. ``actor`` is None only from the command line (``portal create-user``)."""
    if actor is not None:
        policy.require_role(actor, policy.ACCOUNT_MANAGER_ROLES, "het beheer van gebruikers")
    if password is not None:
        check_password_strength(password)
    password_hash = hash_password(password) if password else None
    async with write_transaction():
        org = await Organisation.select(Organisation.kind, Organisation.is_active).where(
            Organisation.id == data.organisation_id
        ).first()
        if org is None:
            raise InvalidInput("Deze organisatie bestaat niet.", field="organisation_id")
        check_role_fits_organisation(data.role, OrganisationKind(org["kind"]))
        if await User.exists().where(User.email == data.email):
            raise InvalidInput("Er bestaat al een account met dit e-mailadres.", field="email")
        if data.privacy_officer and data.role is not Role.CONTRACT_MANAGER:
            raise InvalidInput("Alleen een contractmanager kan de privacyrol krijgen.", field="privacy_officer")
        row = User(email=data.email, display_name=data.display_name, organisation=data.organisation_id,
                   role=str(data.role), password_hash=password_hash, is_privacy_officer=data.privacy_officer)
        await row.save()
        await audit.record(
            actor, "create", "user", row.id, new=data.model_dump(mode="json"),
            purpose="beheer van gebruikers" if actor else "beheer van gebruikers (opdrachtregel)",
            origin=None if actor else "cli",
        )
    return row.id


# --- contract security: the contract manager may require a second factor on a contract ----------------


async def contract_security(actor: Actor) -> list[dict]:
    """The contracts the actor manages, with whether a second factor is required on them."""
    policy.require_role(actor, {Role.CONTRACT_MANAGER}, "de beveiliging van contracten")
    return await Contract.select(Contract.id, Contract.name, Contract.requires_totp).where(
        policy.contract_scope(actor)).order_by(Contract.name)


async def set_contract_totp(actor: Actor, contract_id: int, required: bool) -> None:
    """Require (or stop requiring) a second factor for everyone of every organisation on the contract;
    it takes effect at their next login. Audited as a change to the contract."""
    policy.require_role(actor, {Role.CONTRACT_MANAGER}, "de beveiliging van contracten")
    async with write_transaction():
        row = await Contract.select(Contract.id, Contract.municipality, Contract.requires_totp).where(
            Contract.id == contract_id).first()
        if row is None or row["municipality"] != actor.organisation_id:
            raise NotFound(policy.NOT_FOUND_CONTRACT)
        if row["requires_totp"] == required:
            return
        await Contract.update({Contract.requires_totp: required}).where(Contract.id == contract_id)
        await audit.record(actor, "change", "contract", contract_id, contract_id=contract_id,
                           old={"requires_totp": row["requires_totp"]}, new={"requires_totp": required})
