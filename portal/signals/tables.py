from piccolo.columns import Boolean, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from portal.accounts.tables import Organisation, User
from portal.cases.tables import Case
from portal.contracts.tables import Contract
from portal.lib.tables_base import created_at, restrict_fk, utc_now


class Signal(Table, tablename="signal"):
    contract = restrict_fk(Contract)
    rule = Varchar(length=40, null=False)
    severity = Varchar(length=16, null=False)
    # Stable per cause (e.g. "stalled:case:123:assessment"): re-running a scan never duplicates a signal.
    dedup_key = Varchar(length=200, unique=True, null=False)
    status = Varchar(length=16, default="open", null=False)
    case = restrict_fk(Case, null=True)
    report_id = Integer(null=True, default=None, index=True)
    subcontractor = restrict_fk(Organisation, null=True)
    owner_organisation = restrict_fk(Organisation)
    raised_by = restrict_fk(User, null=True)
    # The organisation that raised a ``raised`` signal (it keeps seeing what it raised).
    raised_by_organisation = restrict_fk(Organisation, null=True)
    title = Varchar(length=300, null=False)
    detail = Text(default="")
    confidential = Boolean(default=False)
    response_due = Date(null=True, default=None)
    escalation_level = Integer(default=0)
    resolution = Text(null=True, default=None)
    created_at = created_at()
    updated_at = Timestamptz(default=utc_now, null=False)
    closed_at = Timestamptz(null=True, default=None)


class SignalComment(Table, tablename="signal_comment"):
    signal = restrict_fk(Signal)
    author = restrict_fk(User)
    organisation = restrict_fk(Organisation)
    body = Text(null=False)
    created_at = created_at()
    # The lifecycle step this text came with (acknowledge, resolve, ...); None for a plain reaction.
    action = Varchar(length=16, null=True, default=None)


class Digest(Table, tablename="signal_digest"):
    """What was overdue in a person's court on one day. Unique on (user, day): a rerun does not duplicate."""

    user = restrict_fk(User)
    day = Date(null=False)
    body = Text(null=False, default="")
    overdue_count = Integer(default=0)
    created_at = created_at()
    # Sent by e-mail (NULL: not sent yet, or no SMTP configured). Claimed before sending, cleared on failure.
    sent_at = Timestamptz(null=True, default=None)


class ScanState(Table, tablename="signal_scan_state"):
    """What a time-driven rule last ran on, per contract: the day, a summary of the inputs it read and how
    many signals of the rule the contract then had. A rerun on the same day skips a contract whose summary is
    unchanged: the rule would draft exactly the same signals (``portal.signals.service.run_scan``).
    Unique on (rule, contract)."""

    rule = Varchar(length=40, null=False)
    contract = restrict_fk(Contract)
    scanned_on = Date(null=False)
    inputs = Varchar(length=200, null=False)
    signals = Integer(default=0, null=False)
    updated_at = Timestamptz(default=utc_now, null=False)
