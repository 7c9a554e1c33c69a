"""The one Piccolo app over every area's tables; its migrations live in the top-level migrations/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from portal.accounts.tables import ApiKey, AuditEntry, IdempotencyRecord, Organisation, SessionRecord, User
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, ContractYear, StatusNorm, Subcontract
from portal.exports.tables import ExportJob
from portal.ops.tables import JobRun
from portal.privacy.tables import PseudonymKeyState, RetentionRun
from portal.reports.tables import Report, ReportComment, ReportPeriod, ReportTemplate, ReportVersion
from portal.savings.tables import Investment, SavingsActual, SavingsTarget
from portal.signals.tables import Digest, ScanState, Signal, SignalComment

ALL_TABLES = [
    Organisation,
    User,
    AuditEntry,
    Contract,
    ContractYear,
    Subcontract,
    StatusNorm,
    Case,
    CaseEvent,
    Signal,
    SignalComment,
    Digest,
    ScanState,
    ReportTemplate,
    ReportPeriod,
    Report,
    ReportVersion,
    ReportComment,
    SavingsTarget,
    SavingsActual,
    Investment,
    JobRun,
    SessionRecord,
    ApiKey,
    IdempotencyRecord,
    ExportJob,
    RetentionRun,
    PseudonymKeyState,
]

APP_CONFIG = AppConfig(
    app_name="portal",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations"),
    table_classes=ALL_TABLES,
    migration_dependencies=[],
    commands=[],
)
