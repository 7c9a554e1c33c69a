from piccolo.columns import JSON, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from portal.accounts.tables import Organisation, User
from portal.contracts.tables import Contract
from portal.lib.tables_base import created_at, restrict_fk, utc_now


class ReportTemplate(Table, tablename="report_template"):
    """Indicators and narrative sections per contract; versioned, unique on (contract, version)."""

    contract = restrict_fk(Contract)
    version = Integer(null=False)
    period_kind = Varchar(length=16, default="quarter")  # month, quarter, half_year, year
    deadline_days = Integer(default=30)
    definition = JSON(default="{}")
    created_by = restrict_fk(User, null=True)
    created_at = created_at()


class ReportPeriod(Table, tablename="report_period"):
    contract = restrict_fk(Contract)
    kind = Varchar(length=16, null=False)
    starts_on = Date(null=False)
    ends_on = Date(null=False)
    deadline = Date(null=False, index=True)


class Report(Table, tablename="portal_report"):
    """One organisation's report for one period: a subcontractor's, or the consolidated contract report."""

    period = restrict_fk(ReportPeriod)
    contract = restrict_fk(Contract)
    template = restrict_fk(ReportTemplate)
    organisation = restrict_fk(Organisation)
    kind = Varchar(length=16, null=False)  # subcontractor, contract
    status = Varchar(length=16, default="draft", null=False)
    # The working copy; every submission is frozen into a ReportVersion.
    draft = JSON(default="{}")
    current_version = Integer(default=0)
    returned_reason = Text(null=True, default=None)
    updated_at = Timestamptz(default=utc_now, null=False)
    submitted_at = Timestamptz(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    created_at = created_at()


class ReportVersion(Table, tablename="report_version"):
    """An immutable submission. Unique on (report, number)."""

    report = restrict_fk(Report)
    number = Integer(null=False)
    content = JSON(null=False)
    submitted_by = restrict_fk(User)
    submitted_at = created_at()


class ReportComment(Table, tablename="report_comment"):
    report = restrict_fk(Report)
    section = Varchar(length=64, null=True, default=None)
    author = restrict_fk(User)
    organisation = restrict_fk(Organisation)
    body = Text(null=False)
    created_at = created_at()
