from piccolo.columns import JSON, Timestamptz, Varchar
from piccolo.table import Table

from portal.lib.tables_base import created_at


class JobRun(Table, tablename="job_run"):
    """A ledger of background job runs, so operators (and the health page) see what ran and when."""

    job = Varchar(length=64, null=False, index=True)
    runner = Varchar(length=16, null=False)  # arq, in_process, cli
    started_at = created_at()
    finished_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=16, default="running")  # running, ok, failed
    summary = JSON(null=True, default=None)
