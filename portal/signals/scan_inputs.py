"""What each time-driven rule reads, summarised per contract, so that a scan can skip the contracts a rule
already ran on today with the same inputs: the rule would draft exactly the same signals again.

A summary is exact, not a guess from timestamps:
- cases: their number and the sum of their versions. Every step in a case's life raises its version in the
  transaction that records the event (``cases.service``, ``rights.service``) and cases are never deleted, so
  the pair changes with every recorded step. Progress notes change no version; no rule reads them.
- the small tables (the contract itself, its norms, report periods, subcontracts, money): per contract the
  number of rows and the sum of a hash of each row's columns, so any insert, update or delete changes it.
- reports: the same, over the columns the report rule reads (not the draft text, which autosave rewrites).

Both are read before any rule reads. A change committed after that makes the next summary differ from the one
stored, so the next scan looks again: a change costs at most a needless rerun, never a missed one."""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from piccolo.query.functions.aggregate import Count
from piccolo.table import Table

from portal.cases.tables import Case
from portal.contracts.tables import Contract, ContractYear, StatusNorm, Subcontract
from portal.db import any_of, batches, stored_date
from portal.lib.tables_base import utc_now
from portal.reports.tables import Report, ReportPeriod
from portal.savings.tables import Investment, SavingsActual, SavingsTarget
from portal.signals.rules import SignalRule
from portal.signals.tables import ScanState, Signal

CASES = "cases"
# source name: (table, the columns summarised; None: every column)
TABLES: dict[str, tuple[type[Table], tuple | None]] = {
    "contract": (Contract, None),
    "status_norm": (StatusNorm, None),
    "report_period": (ReportPeriod, None),
    "subcontract": (Subcontract, None),
    "portal_report": (Report, (Report.id, Report.period, Report.organisation, Report.submitted_at)),
    "contract_year": (ContractYear, None),
    "savings_target": (SavingsTarget, None),
    "savings_actual": (SavingsActual, None),
    "investment": (Investment, None),
}
# What each rule reads besides the day. The contract row holds its parties (the owners of new signals).
SOURCES: dict[SignalRule, tuple[str, ...]] = {
    SignalRule.STALLED: (CASES, "contract", "status_norm"),
    SignalRule.LEGAL_TERM_EXCEEDED: (CASES, "contract"),
    SignalRule.REPORT_OVERDUE: ("contract", "report_period", "subcontract", "portal_report"),
    SignalRule.OUTLIER: (CASES, "contract"),
    SignalRule.SAVINGS_BEHIND: ("contract", "contract_year", "savings_target", "savings_actual", "investment"),
}


def _summary_sql(name: str) -> str:
    """Per contract: how many rows, and the sum of ``hashtext`` over each row's columns as text (PostgreSQL's
    built-in; on SQLite the portal registers one, ``portal.db.hashtext``). Names from our own tables only."""
    table, columns = TABLES[name]
    columns = columns or tuple(table._meta.columns)
    text = " || '|' || ".join(f"COALESCE(CAST(\"{column._meta.db_column_name}\" AS TEXT), '')" for column in columns)
    key = "id" if table is Contract else "contract"
    return (f"SELECT '{name}' AS source, {key} AS contract, COUNT(*) AS n, SUM(hashtext({text})) AS digest "  # noqa: S608
            f"FROM {table._meta.tablename} GROUP BY {key}")


SUMMARIES_SQL = " UNION ALL ".join(_summary_sql(name) for name in TABLES)
CASES_SQL = "SELECT contract, COUNT(*) AS n, SUM(version) AS digest FROM portal_case GROUP BY contract"


async def contract_inputs(contract_ids: Iterable[int]) -> dict[SignalRule, dict[int, str]]:
    """Per rule and contract, a digest of the summaries of what the rule reads. Two statements in all."""
    parts: dict[tuple[str, int], str] = {}
    for row in await Case.raw(CASES_SQL):
        parts[(CASES, row["contract"])] = f"{row['n']}.{row['digest']}"
    for row in await Case.raw(SUMMARIES_SQL):
        parts[(row["source"], row["contract"])] = f"{row['n']}.{row['digest']}"
    inputs: dict[SignalRule, dict[int, str]] = defaultdict(dict)
    for contract_id in contract_ids:
        for rule, sources in SOURCES.items():
            text = "|".join(parts.get((source, contract_id), "0") for source in sources)
            inputs[rule][contract_id] = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return inputs


async def signal_counts(rules: Iterable[SignalRule], contracts: Sequence[int] | None = None
                        ) -> dict[tuple[str, int], int]:
    """How many signals (any status) each rule has per contract."""
    query = Signal.select(Signal.rule, Signal.contract, Count(alias="signals")).where(
        Signal.rule.is_in([rule.value for rule in rules]))
    if contracts is not None:
        query = query.where(any_of(Signal.contract, contracts))
    return {(row["rule"], row["contract"]): row["signals"]
            for row in await query.group_by(Signal.rule, Signal.contract)}


async def contracts_to_scan(inputs: dict[SignalRule, dict[int, str]], today: date) -> dict[SignalRule, list[int]]:
    """Per rule, the contracts whose inputs, or number of signals of the rule, differ from the rule's last run
    today. The count catches signals removed behind the scan's back: the rule then runs and drafts them again."""
    stored = {(row["rule"], row["contract"]): row for row in await ScanState.select(
        ScanState.rule, ScanState.contract, ScanState.scanned_on, ScanState.inputs, ScanState.signals)}
    counts = await signal_counts(inputs)
    return {rule: [contract_id for contract_id, digest in sorted(per_contract.items())
                   if (state := stored.get((rule.value, contract_id))) is None
                   or stored_date(state["scanned_on"]) != today or state["inputs"] != digest
                   or state["signals"] != counts.get((rule.value, contract_id), 0)]
            for rule, per_contract in inputs.items()}


_UPSERT = (
    "INSERT INTO signal_scan_state (rule, contract, scanned_on, inputs, signals, updated_at) VALUES {} "
    "ON CONFLICT (rule, contract) DO UPDATE SET scanned_on = excluded.scanned_on, inputs = excluded.inputs, "
    "signals = excluded.signals, updated_at = excluded.updated_at")
BATCH = 500  # rows per statement (6 parameters each)


async def remember(rule: SignalRule, inputs: dict[int, str], today: date, contracts: Sequence[int] | None) -> None:
    """Store what the rule ran on (``contracts``; None: all), in the rule's own transaction: a rule that fails
    remembers nothing. Its signals are counted after its own writes."""
    ran_on = sorted(inputs) if contracts is None else list(contracts)
    counts = await signal_counts([rule], contracts)
    now = utc_now()
    for batch in batches(ran_on, BATCH):
        values = [value for contract_id in batch for value in (
            rule.value, contract_id, today, inputs[contract_id], counts.get((rule.value, contract_id), 0), now)]
        await ScanState.raw(_UPSERT.format(", ".join("({}, {}, {}, {}, {}, {})" for _ in batch)), *values)
