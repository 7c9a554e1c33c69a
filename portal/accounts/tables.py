from piccolo.columns import JSON, Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from portal.lib.tables_base import created_at, restrict_fk


class Organisation(Table, tablename="organisation"):
    name = Varchar(length=200, null=False)
    # OrganisationKind: municipality, main_contractor, subcontractor, platform
    kind = Varchar(length=32, null=False, index=True)
    kvk_number = Varchar(length=8, null=True, default=None)
    is_active = Boolean(default=True)
    created_at = created_at()


class User(Table, tablename="portal_user"):
    email = Varchar(length=254, unique=True, null=False)
    display_name = Varchar(length=200, null=False)
    organisation = restrict_fk(Organisation)
    role = Varchar(length=32, null=False)  # Role
    password_hash = Varchar(length=255, null=True, default=None)
    is_active = Boolean(default=True)
    # AVG art. 15 access requests are limited to contract managers who also hold the privacy duty.
    is_privacy_officer = Boolean(default=False)
    totp_secret = Varchar(length=64, null=True, default=None)
    failed_logins = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    # Raised to log a person out everywhere: sessions carry the generation they were issued with.
    session_generation = Integer(default=0)
    last_login_at = Timestamptz(null=True, default=None)
    created_at = created_at()


class AuditEntry(Table, tablename="audit_entry"):
    """NEN 7513-shaped, hash-chained in id order. Appended in the same transaction as the change it records."""

    occurred_at = created_at()
    user = restrict_fk(User, null=True)
    organisation = restrict_fk(Organisation, null=True)
    on_behalf_of = Varchar(length=200, null=True, default=None)
    role = Varchar(length=32, null=True, default=None)
    action = Varchar(length=16, null=False)  # read, search, export, create, change, delete, login
    object_type = Varchar(length=64, null=False)
    object_id = Varchar(length=64, null=True, default=None, index=True)
    contract_id = Integer(null=True, default=None, index=True)
    purpose = Text(null=True, default=None)
    result = Varchar(length=16, default="ok")
    origin = Varchar(length=64, null=True, default=None)
    old_values = JSON(null=True, default=None)
    new_values = JSON(null=True, default=None)
    prev_hash = Varchar(length=64, null=False)
    entry_hash = Varchar(length=64, null=False, unique=True)


class SessionRecord(Table, tablename="session_record"):
    """Key-value rows behind Litestar's ``Store``: server-side sessions and rate-limit counters.

    Shared by every portal process through the database. ``data`` holds the stored bytes as base64.
    """

    key = Varchar(length=255, unique=True, null=False)
    data = Text(null=False, default="")
    expires_at = Timestamptz(null=True, default=None, index=True)


class ApiKey(Table, tablename="api_key"):
    """A person's key for the JSON API (``Authorization: Bearer <key>``). Only the SHA-256 of the secret is
    stored; the secret is shown once, at creation. The key acts as its person: same role, same organisation."""

    user = restrict_fk(User)
    name = Varchar(length=100, null=False)
    prefix = Varchar(length=8, null=False)  # the first characters of the key, shown to recognise it
    key_hash = Varchar(length=64, unique=True, null=False)
    created_at = created_at()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The stored first response to a POST with an ``Idempotency-Key`` header, written in the transaction of
    the change itself and kept 24 hours.

    Unique on (user, key): ``scoped_key`` is the SHA-256 of the user id and the client's key, one unique column
    (a composite unique constraint cannot be added to a SQLite table by a Piccolo migration)."""

    user = restrict_fk(User)
    scoped_key = Varchar(length=64, unique=True, null=False)
    fingerprint = Varchar(length=64, null=False)  # keyed hash of method, path and canonical body
    response_status = Integer(null=True, default=None)
    response_body = JSON(null=True, default=None)
    created_at = created_at()
