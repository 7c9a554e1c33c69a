"""List exports (CSV and XLSX) of the case list, the signal inbox and the central waiting list.

An export holds exactly the rows the person may see on the page with the same filters: every kind reads
through its own area's scoped service functions, never through a query of its own. A small export
(``DIRECT_LIMIT`` rows or fewer) is made at once; a larger one becomes an ``ExportJob`` that a job fills
(jobs carry the export's id only) while the person watches its progress. Only the person who asked sees
the job or downloads its file; anyone else gets "not found". Files are removed 24 hours after they were
made. Every export is audited (action "export", purpose, row count).
"""

import contextlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from portal.accounts import audit
from portal.accounts.rules import Actor, OrganisationKind, Role, default_purpose
from portal.accounts.tables import User
from portal.cases import service as cases_service
from portal.cases.service import CaseFilter, CaseOrder
from portal.db import read_transaction, write_transaction
from portal.exports.tables import ExportJob
from portal.lib.errors import InvalidInput, NotFound
from portal.lib.exports import Cell, Sheet, to_csv, to_xlsx
from portal.lib.tables_base import utc_now
from portal.settings import Settings, get_settings
from portal.signals import service as signals_service
from portal.signals.service import SignalFilter

log = logging.getLogger("portal.exports")

DIRECT_LIMIT = 2000  # rows; more than this is produced by a job
BATCH_SIZE = 1000
RETENTION = timedelta(hours=24)
NOT_FOUND_EXPORT = "Deze export bestaat niet, of u heeft er geen toegang toe."
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
STATUS_LABELS = {"queued": "In de wachtrij", "running": "Bezig", "done": "Klaar", "failed": "Mislukt",
                 "expired": "Verlopen"}

Row = list[Cell]


@dataclass(frozen=True)
class ExportKind:
    code: str
    title: str  # sheet title and the start of the file name
    headers: Callable[[Actor], list[str]]
    count: Callable[[Actor, dict], "object"]  # async: rows in the export
    batches: Callable[[Actor, dict], AsyncIterator[list[Row]]]


# --- the case list ----------------------------------------------------------------------------------


def case_params(filters: CaseFilter) -> dict:
    """The filters of the case list as the export stores them (no keyset cursor: an export starts at the top)."""
    params = asdict(filters)
    params.pop("cursor", None)
    params["order"] = str(filters.order.value)
    return params


def _case_filter(params: dict) -> CaseFilter:
    known = {key: params[key] for key in ("status", "search", "subcontractor_id", "category", "neighbourhood",
                                          "overdue", "contract_id") if key in params}
    return CaseFilter(**known, order=CaseOrder(params.get("order") or CaseOrder.RECENT.value))


CASE_HEADERS = ["Casus", "Status", "Sinds", "Categorie", "Urgentie", "Onderaannemer", "Wijk", "Melding", "Contract"]


def _case_headers(actor: Actor) -> list[str]:
    # The columns of the list page and no more: the pseudonym links one resident's cases, and an export file
    # travels further than a page (AVG: data minimisation).
    return list(CASE_HEADERS)


async def _case_count(actor: Actor, params: dict) -> int:
    return await cases_service.count_cases(actor, _case_filter(params))


async def _case_batches(actor: Actor, params: dict) -> AsyncIterator[list[Row]]:
    async for rows in cases_service.case_export_batches(actor, _case_filter(params), BATCH_SIZE):
        batch = []
        for case in rows:
            row: Row = [case["case_number"], case["status_label"], cases_service.local_date(case["status_since"]),
                        f"{case['product_category']} {case['category_label']}", case.get("urgency_label", ""),
                        case["subcontractor_name"] or "", case["neighbourhood"] or "", case["melding_date"],
                        case["contract_name"]]
            batch.append(row)
        yield batch


# --- the signal inbox -------------------------------------------------------------------------------


def signal_params(filters: SignalFilter) -> dict:
    return asdict(filters)


def _signal_filter(params: dict) -> SignalFilter:
    return SignalFilter(rule=params.get("rule"), severity=params.get("severity"), status=params.get("status"),
                        overdue=bool(params.get("overdue")), contract_id=params.get("contract_id"))


SIGNAL_HEADERS = ["Signaal", "Vertrouwelijk", "Regel", "Ernst", "Status", "Contract", "Casus", "Bal ligt bij",
                  "Reactie uiterlijk", "Dagen te laat"]


async def _signal_count(actor: Actor, params: dict) -> int:
    return len(await signals_service.signal_export_ids(actor, _signal_filter(params)))


async def _signal_batches(actor: Actor, params: dict) -> AsyncIterator[list[Row]]:
    ids = await signals_service.signal_export_ids(actor, _signal_filter(params))
    for start in range(0, len(ids), BATCH_SIZE):
        rows = await signals_service.signal_export_rows(actor, ids[start:start + BATCH_SIZE])
        yield [[s["title"], bool(s["confidential"]), s["rule_label"], s["severity_label"], s["status_label"],
                s["contract_name"], s["case_number"] or "", s["ball_label"], s["response_due"],
                s["days_overdue"] if s["overdue"] else None] for s in rows]


# --- the central waiting list -----------------------------------------------------------------------


def waiting_list_params(contract_id: int | None, category: str | None) -> dict:
    return {"contract_id": contract_id, "category": category or None}


WAITING_LIST_HEADERS = ["Contract", "Productcategorie", "Plaats", "Casus", "Urgentie", "Op de lijst sinds",
                        "Wachttijd (dagen)", "Wijk"]


async def _waiting_entries(actor: Actor, params: dict) -> list[Row]:
    result = await cases_service.waiting_list(actor, params.get("contract_id"), params.get("category"))
    return [[entry["contract_name"], f"{entry['category']} {entry['category_label']}", case["position"],
             case["case_number"], case.get("urgency_label", ""), cases_service.local_date(case["status_since"]),
             case["days"], case["neighbourhood"] or ""]
            for entry in result["lists"] for case in entry["entries"]]


async def _waiting_count(actor: Actor, params: dict) -> int:
    return len(await _waiting_entries(actor, params))


async def _waiting_batches(actor: Actor, params: dict) -> AsyncIterator[list[Row]]:
    rows = await _waiting_entries(actor, params)
    for start in range(0, len(rows), BATCH_SIZE):
        yield rows[start:start + BATCH_SIZE]


KINDS: dict[str, ExportKind] = {
    "cases": ExportKind("cases", "Casussen", _case_headers, _case_count, _case_batches),
    "signals": ExportKind("signals", "Signalen", lambda actor: list(SIGNAL_HEADERS), _signal_count, _signal_batches),
    "waiting_list": ExportKind("waiting_list", "Wachtlijst", lambda actor: list(WAITING_LIST_HEADERS),
                               _waiting_count, _waiting_batches),
}


# --- making an export -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    content: bytes
    filename: str
    media_type: str
    rows: int


@dataclass(frozen=True)
class Queued:
    export_id: int


def _kind(code: str) -> ExportKind:
    try:
        return KINDS[code]
    except KeyError:
        raise InvalidInput("Onbekende export.", field="kind") from None


def _format(code: str) -> str:
    if code not in MEDIA_TYPES:
        raise InvalidInput("Kies CSV of Excel (xlsx).", field="format")
    return code


def _filename(kind: ExportKind, fmt: str, day: date) -> str:
    return f"{kind.title.lower()}-{day.isoformat()}.{fmt}"


def _render(kind: ExportKind, actor: Actor, fmt: str, rows: list[Row]) -> bytes:
    headers = kind.headers(actor)
    if fmt == "csv":
        return to_csv(headers, rows)
    return to_xlsx([Sheet(kind.title, headers, rows)])


async def _audit(actor: Actor, kind: ExportKind, fmt: str, params: dict, rows: int,
                 export_id: int | None = None) -> None:
    new = {"soort": kind.code, "formaat": fmt, "filters": params, "regels": rows}
    if export_id is not None:
        new["export"] = export_id
    async with write_transaction():
        await audit.record(actor, "export", kind.code, export_id, purpose=default_purpose(actor.role), new=new)


async def request_export(actor: Actor, kind_code: str, fmt: str, params: dict,
                         settings: Settings | None = None) -> Download | Queued:
    """The export of a list for this person: at once when small, otherwise as a job (enqueued here)."""
    from portal.exports.jobs import run_export  # the job calls back into this module
    from portal.lib.queue import enqueue_recorded

    kind, fmt = _kind(kind_code), _format(fmt)
    total = await kind.count(actor, params)
    if total > DIRECT_LIMIT:
        async with write_transaction():
            job = ExportJob(user=actor.user_id, kind=kind.code, format=fmt, params=json.dumps(params),
                            rows_total=total)
            await job.save()
        # Redis down: the row stays queued and the worker's catch-up job queues it once Redis is back.
        await enqueue_recorded(settings or get_settings(), run_export, job.id, job_id=export_job_id(job.id))
        return Queued(job.id)
    rows: list[Row] = []
    async for batch in kind.batches(actor, params):
        rows.extend(batch)
    await _audit(actor, kind, fmt, params, len(rows))
    return Download(_render(kind, actor, fmt, rows), _filename(kind, fmt, cases_service.today_nl()),
                    MEDIA_TYPES[fmt], len(rows))


# --- the job ------------------------------------------------------------------------------------------


def export_job_id(export_id: int) -> str:
    """The arq job id of an export: queueing the same export twice (a retry, the catch-up) queues it once."""
    return f"export:{export_id}"


def export_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).var_dir / "exports"


async def _actor_of(user_id: int, export_id: int) -> Actor | None:
    row = await User.select(
        User.id, User.email, User.display_name, User.organisation, User.role, User.is_active,
        User.organisation.kind.as_alias("organisation_kind"),
        User.organisation.is_active.as_alias("organisation_active"),
    ).where(User.id == user_id).first()
    if row is None or not (row["is_active"] and row["organisation_active"]):
        return None
    return Actor(user_id=row["id"], organisation_id=row["organisation"],
                 organisation_kind=OrganisationKind(row["organisation_kind"]), role=Role(row["role"]),
                 display_name=row["display_name"], email=row["email"], origin=f"export {export_id}")


def _params_of(job: dict) -> dict:
    params = job["params"]
    return json.loads(params) if isinstance(params, str) else (params or {})


async def run_export_job(export_id: int, settings: Settings | None = None) -> str:
    """Fill one export job. Idempotent: a finished job is left alone; a job that was running when its
    worker died starts again from the top (arq delivers at least once). The person's rights are those of
    now, not of when they asked: the export reads through the same scoped services as the page."""
    job = await ExportJob.select().where(ExportJob.id == export_id).first()
    if job is None or job["status"] in ("done", "expired", "failed"):
        return job["status"] if job else "missing"
    kind, fmt, params = _kind(job["kind"]), _format(job["format"]), _params_of(job)
    actor = await _actor_of(job["user"], export_id)
    if actor is None:
        await _finish(export_id, "failed")
        return "failed"
    try:
        total = await kind.count(actor, params)
        await ExportJob.update({ExportJob.status: "running", ExportJob.rows_total: total,
                                ExportJob.rows_done: 0}).where(ExportJob.id == export_id)
        rows: list[Row] = []
        async for batch in kind.batches(actor, params):
            rows.extend(batch)
            await ExportJob.update({ExportJob.rows_done: len(rows)}).where(ExportJob.id == export_id)
        content = _render(kind, actor, fmt, rows)
        folder = export_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{fmt}"  # random: never a name or path from input
        partial = folder / f"{name}.part"
        partial.write_bytes(content)
        partial.replace(folder / name)
    except Exception:
        log.exception("export %s failed", export_id)
        await _finish(export_id, "failed")
        return "failed"
    await ExportJob.update({ExportJob.status: "done", ExportJob.rows_done: len(rows), ExportJob.rows_total: len(rows),
                            ExportJob.file_name: name, ExportJob.finished_at: utc_now()}).where(
        ExportJob.id == export_id)
    await _audit(actor, kind, fmt, params, len(rows), export_id)
    return "done"


async def _finish(export_id: int, status: str) -> None:
    await ExportJob.update({ExportJob.status: status, ExportJob.finished_at: utc_now()}).where(
        ExportJob.id == export_id)


# --- the progress page and the file -------------------------------------------------------------------


async def _own_job(actor: Actor, export_id: int) -> dict:
    async with read_transaction():
        job = await ExportJob.select().where(ExportJob.id == export_id, ExportJob.user == actor.user_id).first()
    if job is None:
        raise NotFound(NOT_FOUND_EXPORT)
    return job


async def export_status(actor: Actor, export_id: int) -> dict:
    """The progress of one of the person's own exports (anyone else: not found)."""
    job = await _own_job(actor, export_id)
    kind = _kind(job["kind"])
    expires = job["finished_at"] + RETENTION if job["finished_at"] and job["status"] == "done" else None
    return {
        "id": job["id"], "kind_title": kind.title, "format": job["format"], "status": job["status"],
        "status_label": STATUS_LABELS.get(job["status"], job["status"]),
        "rows_done": job["rows_done"], "rows_total": job["rows_total"],
        "running": job["status"] in ("queued", "running"), "done": job["status"] == "done",
        "created_at": job["created_at"], "finished_at": job["finished_at"], "expires_at": expires,
    }


_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(csv|xlsx)")


def _stored_file(folder: Path, name: str | None) -> Path | None:
    """The file of a job: only a name as ``run_export_job`` makes them, inside the export folder (a row that
    says otherwise, "..", "/etc/passwd", is no file of ours)."""
    if not name or not _STORED_NAME.fullmatch(name):
        return None
    return folder / name


async def export_file(actor: Actor, export_id: int, settings: Settings | None = None) -> Download:
    """The file of one of the person's own finished exports; the download is audited."""
    job = await _own_job(actor, export_id)
    if job["status"] != "done" or not job["file_name"]:
        raise NotFound("Dit bestand is (nog) niet beschikbaar. Het wordt 24 uur na het maken verwijderd.")
    path = _stored_file(export_dir(settings), job["file_name"])
    if path is None or not path.is_file():
        raise NotFound("Dit bestand is niet meer beschikbaar. Het wordt 24 uur na het maken verwijderd.")
    kind = _kind(job["kind"])
    await _audit(actor, kind, job["format"], _params_of(job), job["rows_done"], export_id)
    return Download(path.read_bytes(), _filename(kind, job["format"], cases_service.local_date(job["created_at"])),
                    MEDIA_TYPES[job["format"]], job["rows_done"])


async def purge_expired(now: datetime | None = None, settings: Settings | None = None) -> int:
    """Remove the files of exports finished more than 24 hours ago (the job row stays, marked expired), and
    give up on jobs that never finished within that time. Idempotent."""
    cutoff = (now or utc_now()) - RETENTION
    columns = (ExportJob.id, ExportJob.file_name, ExportJob.status)
    old = [*await ExportJob.select(*columns).where(ExportJob.status == "done", ExportJob.finished_at < cutoff),
           *await ExportJob.select(*columns).where(ExportJob.status.is_in(["queued", "running"]),
                                                   ExportJob.created_at < cutoff)]
    folder = export_dir(settings)
    for job in old:
        path = _stored_file(folder, job["file_name"])
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        status = "expired" if job["status"] == "done" else "failed"
        await ExportJob.update({ExportJob.status: status, ExportJob.file_name: None}).where(ExportJob.id == job["id"])
    return len(old)
