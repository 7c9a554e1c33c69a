from piccolo.columns import JSON, Date, Integer, Timestamptz, Varchar
from piccolo.table import Table

from portal.lib.tables_base import created_at


class RetentionRun(Table, tablename="retention_run"):
    """One run of the daily retention job: what it anonymised, per contract in ``summary``. Counts only,
    never a pseudonym or a text. A rerun on the same day writes a new row with zero counts."""

    started_at = created_at()
    finished_at = Timestamptz(null=True, default=None)
    runner = Varchar(length=16, null=False)  # arq, in_process, cli, test
    outcome = Varchar(length=16, default="running")  # running, ok, failed
    day = Date(null=False)  # the day the run counted from (Europe/Amsterdam)
    contracts = Integer(default=0)  # contracts checked
    cases = Integer(default=0)  # cases past their term whose pseudonym was replaced in this run
    event_texts = Integer(default=0)  # case events whose note or referral text was removed
    signal_texts = Integer(default=0)  # signals whose detail or resolution was removed
    comment_texts = Integer(default=0)  # signal comments whose text was removed
    summary = JSON(null=True, default=None)


class PseudonymKeyState(Table, tablename="pseudonym_key_state"):
    """Which key chain the stored pseudonyms were made with, as a one-way check value (never a key), so a
    rotation with the wrong keys, or a portal started with them, is refused. One row, ``scope`` 'case'."""

    scope = Varchar(length=16, unique=True, null=False)
    key_check = Varchar(length=64, null=False)
    layers = Integer(default=1, null=False)  # how many keys the chain has (1 + the number of rotations)
    updated_at = created_at()
