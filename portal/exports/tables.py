from piccolo.columns import JSON, Integer, Timestamptz, Varchar
from piccolo.table import Table

from portal.accounts.tables import User
from portal.lib.tables_base import created_at, restrict_fk


class ExportJob(Table, tablename="export_job"):
    """A large list export produced by a job. Only the person who asked may see it or download its file.

    The file lives under ``var/exports`` with a random name (never a name or path from input); it is removed
    24 hours after it was made. ``params`` holds the list's filters only, never personal data."""

    user = restrict_fk(User)
    kind = Varchar(length=16, null=False)  # cases, signals, waiting_list
    format = Varchar(length=4, null=False)  # csv, xlsx
    params = JSON(default="{}")
    status = Varchar(length=16, default="queued")  # queued, running, done, failed, expired
    rows_done = Integer(default=0, null=False)
    rows_total = Integer(default=0, null=False)
    file_name = Varchar(length=64, null=True, default=None)
    created_at = created_at()
    finished_at = Timestamptz(null=True, default=None)
