from piccolo.columns import BigInt, Date, Integer, Text, Varchar
from piccolo.table import Table

from portal.accounts.tables import User
from portal.contracts.tables import Contract
from portal.lib.tables_base import created_at, restrict_fk


class SavingsTarget(Table, tablename="savings_target"):
    """Agreed savings per year; `level` separates e.g. Hengelo's tender and transformation targets."""

    contract = restrict_fk(Contract)
    year = Integer(null=False)
    level = Varchar(length=40, default="contract")
    product_category = Varchar(length=2, null=True, default=None)
    amount_cents = BigInt(null=False)


class SavingsActual(Table, tablename="savings_actual"):
    """Actual spend in a period. A correction is a new row pointing at the one it corrects."""

    contract = restrict_fk(Contract)
    period_start = Date(null=False)
    period_end = Date(null=False)
    spend_cents = BigInt(null=False)
    source = Varchar(length=24, null=False)  # ledger, contractor_statement, estimate
    corrects = restrict_fk("self", null=True)
    note = Text(default="")
    entered_by = restrict_fk(User, null=True)
    entered_at = created_at()


class Investment(Table, tablename="investment"):
    contract = restrict_fk(Contract)
    invested_on = Date(null=False)
    amount_cents = BigInt(null=False)
    description = Varchar(length=300, null=False)
