from piccolo.columns import Boolean, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from portal.accounts.tables import Organisation, User
from portal.contracts.tables import Contract
from portal.lib.tables_base import created_at, restrict_fk, utc_now


class Case(Table, tablename="portal_case"):
    """Current state of one resident's request. No name, address or BSN: only a keyed pseudonym."""

    contract = restrict_fk(Contract)
    case_number = Varchar(length=32, unique=True, null=False)
    pseudonym = Varchar(length=64, null=False, index=True)
    neighbourhood = Varchar(length=100, default="")
    domain = Varchar(length=8, null=False)  # Domain
    product_category = Varchar(length=2, null=False)  # ProductCategory (WMO020)
    provision_type = Varchar(length=16, default="individual")  # ProvisionType
    urgency = Varchar(length=16, default="normal")
    status = Varchar(length=32, null=False)
    status_since = Timestamptz(default=utc_now, null=False)
    status_before_hold = Varchar(length=32, null=True, default=None)
    subcontractor = restrict_fk(Organisation, null=True)
    version = Integer(default=1, null=False)
    melding_date = Date(null=False)
    aanvraag_date = Date(null=True, default=None)
    decision_date = Date(null=True, default=None)
    beschikking_issued = Boolean(null=True, default=None)
    end_reason = Varchar(length=2, null=True, default=None)
    reassessment_due = Date(null=True, default=None)  # the next re-assessment (herindicatie) of a provision
    created_at = created_at()


class CaseEvent(Table, tablename="case_event"):
    """Append-only history: the truth about a case. Never updated, never deleted."""

    case = restrict_fk(Case)
    contract = restrict_fk(Contract)
    occurred_at = Timestamptz(default=utc_now, null=False)
    recorded_at = created_at()
    actor_user = restrict_fk(User, null=True)
    actor_organisation = restrict_fk(Organisation, null=True)
    action = Varchar(length=32, null=False)
    from_status = Varchar(length=32, null=True, default=None)
    to_status = Varchar(length=32, null=False)
    subcontractor = restrict_fk(Organisation, null=True)
    reason_code = Varchar(length=3, null=True, default=None)
    end_reason = Varchar(length=2, null=True, default=None)
    beschikking_issued = Boolean(null=True, default=None)
    objection_info_given = Boolean(null=True, default=None)
    referred_to = Varchar(length=200, null=True, default=None)
    note = Text(null=True, default=None)
    # Non-status events (portal.rights.rules): the outcome of an objection or a re-assessment talk, and a date
    # that goes with it (objection_filed: the last day of the objection term; reassessment: the next one due).
    outcome = Varchar(length=32, null=True, default=None)
    due_date = Date(null=True, default=None)
