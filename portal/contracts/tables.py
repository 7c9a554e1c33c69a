from piccolo.columns import BigInt, Boolean, Date, Integer, Text, Varchar
from piccolo.table import Table

from portal.accounts.tables import Organisation
from portal.lib.tables_base import created_at, restrict_fk


class Contract(Table, tablename="contract"):
    municipality = restrict_fk(Organisation)
    # None when the municipality coordinates the providers itself (Zaltbommel).
    main_contractor = restrict_fk(Organisation, null=True)
    name = Varchar(length=200, null=False)
    # Public case numbers read "<prefix>-<year>-<number>", e.g. HLM-2026-000123.
    case_prefix = Varchar(length=8, default="CASE")
    covers_wmo = Boolean(default=True)
    covers_jeugd = Boolean(default=False)
    start_date = Date(null=False)
    end_date = Date(null=False)
    # What happens when a savings target is missed, as agreed in the contract.
    missed_target_terms = Text(default="")
    savings_tolerance_pct = Integer(default=5)
    rejection_review_sample_pct = Integer(default=10)
    retention_years = Integer(default=15)
    requires_totp = Boolean(default=False)
    # As the contract says: whether the municipality (contract manager) reads the underlying subcontractor
    # reports of the learning cycle, or only the consolidated contract report of the main contractor.
    municipality_reads_subcontractor_reports = Boolean(default=True)
    created_at = created_at()


class ContractYear(Table, tablename="contract_year"):
    """Money per contract year, in integer cents. Unique on (contract, year)."""

    contract = restrict_fk(Contract)
    year = Integer(null=False)
    lump_sum_cents = BigInt(default=0)
    # CAO rise paid by the municipality on top: never a saving, never an overrun.
    indexation_cents = BigInt(default=0)
    baseline_cents = BigInt(default=0)


class Subcontract(Table, tablename="subcontract"):
    contract = restrict_fk(Contract)
    subcontractor = restrict_fk(Organisation)
    start_date = Date(null=False)
    end_date = Date(null=False)
    lump_sum_share_cents = BigInt(default=0)
    # Comma-separated WMO020 codes, e.g. "02,07".
    product_categories = Varchar(length=100, default="")
    capacity = Integer(default=0)
    created_at = created_at()


class StatusNorm(Table, tablename="status_norm"):
    """How long a case may stay in a status before it counts as stalled. Unique on (contract, status)."""

    contract = restrict_fk(Contract)
    status = Varchar(length=32, null=False)
    max_working_days = Integer(null=False)
