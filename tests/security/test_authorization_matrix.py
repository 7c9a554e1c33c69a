"""The authorization matrix: every route of the app x every role x own versus other organisation.

Routes are enumerated from ``app.routes``, so a new route without an entry in ``EXPECTATIONS`` fails this
test (and so does an entry for a route that no longer exists). Every actor belongs to side A of a world
with two complete contracts (A and B); "own" asks for side A's object, "other" for side B's. Besides the
status code of each cell, no response to anyone on side A may ever contain side B's case number or
pseudonym, and lists must contain exactly the caller's own cases.
"""

import itertools
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

from portal.contracts.tables import ContractYear
from tests import factories

ROLES = ("anonymous", "admin", "contract_manager", "coordinator", "subcontractor")
SIDES = ("own", "other")
CASE_READERS = ("contract_manager", "coordinator", "subcontractor")
IGNORED_METHODS = {"OPTIONS", "HEAD"}
_unique = itertools.count(1)


@dataclass(frozen=True)
class Outcome:
    status: int
    location: str | None = None  # the redirect target starts with this
    contains: tuple[str, ...] = ()  # markers (formatted with the world) that must appear
    absent: tuple[str, ...] = ()  # markers that must not appear


@dataclass(frozen=True)
class RouteCase:
    url: Callable[[dict, str], str]
    expect: Callable[[str, str], Outcome]
    form: Callable[[dict, str], dict] | None = None  # POST: the form (a CSRF token is added)
    own_login: bool = False  # runs in a fresh login (it ends the session, or depends on its state)
    api: bool = False
    json: Callable[[dict, str], dict] | None = None  # POST: a JSON body (the CSRF token goes in a header)
    files: Callable[[dict, str], dict] | None = None  # POST with form: multipart files
    note: str = field(default="")


def fixed(path: str) -> Callable[[dict, str], str]:
    return lambda world, side: path


def case_url(prefix: str) -> Callable[[dict, str], str]:
    return lambda world, side: f"{prefix}/{world[side]['case_id']}"


LOGIN_REDIRECT = Outcome(303, "/inloggen")
FORBIDDEN = Outcome(403)


def page(ok: Outcome, allowed: tuple[str, ...] = ROLES[1:]) -> Callable[[str, str], Outcome]:
    """An HTML page: anonymous visitors go to the login; roles outside ``allowed`` get 403."""
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return LOGIN_REDIRECT
        return ok if role in allowed else FORBIDDEN
    return expect


def api(ok: Outcome, allowed: tuple[str, ...]) -> Callable[[str, str], Outcome]:
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return Outcome(401)
        return ok if role in allowed else FORBIDDEN
    return expect


def case_detail(json: bool) -> Callable[[str, str], Outcome]:
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return Outcome(401) if json else LOGIN_REDIRECT
        if role == "admin":
            return FORBIDDEN
        if side == "other":
            return Outcome(404)
        hidden = ("{own_pseudonym}",) if role == "contract_manager" else ()
        return Outcome(200, contains=("{own_case_number}",), absent=hidden)
    return expect


def public(outcome: Outcome) -> Callable[[str, str], Outcome]:
    return lambda role, side: outcome


def _unique_organisation(world: dict, side: str) -> dict:
    return {"name": f"Matrix organisatie {next(_unique)}", "kind": "subcontractor"}


def _unique_user(world: dict, side: str) -> dict:
    number = next(_unique)
    return {"display_name": f"Matrix persoon {number}", "email": f"matrix{number}@example.nl",
            "organisation_id": str(world[side]["subcontractor_org"]), "role": "subcontractor",
            "password": "een-goed-wachtwoord"}


LISTED = Outcome(200, contains=("{own_case_number}",))
BOARD_READERS = ("contract_manager", "coordinator")


def _new_melding(world: dict, side: str) -> dict:
    return {"contract_id": str(world[side]["contract_id"]), "bsn": "111222333", "neighbourhood": "Matrixwijk",
            "domain": "wmo", "product_category": "02", "urgency": "normal", "provision_type": "individual",
            "melding_date": ""}


def register_melding(role: str, side: str) -> Outcome:
    """Only the coordinator of the contract registers; another contract is not known to it (404)."""
    if role == "anonymous":
        return LOGIN_REDIRECT
    if role != "coordinator":
        return FORBIDDEN
    return Outcome(303, "/casussen/") if side == "own" else Outcome(404)


def accept_allocation(role: str, side: str) -> Outcome:
    """The own case waits on the own subcontractor's answer: only it may accept; the other side's case is
    not known to anyone here (404); a coordinator sees the case page again with the refusal (403)."""
    if role == "anonymous":
        return LOGIN_REDIRECT
    if role in ("admin", "contract_manager"):
        return FORBIDDEN
    if side == "other":
        return Outcome(404)
    if role == "coordinator":
        return Outcome(403, contains=("{own_case_number}", "Alleen de toegewezen onderaannemer"))
    return Outcome(303, "/casussen/")
SCHEMA_OK = public(Outcome(200))
SIGNAL_LISTED = Outcome(200, contains=("{own_signal}",), absent=("{other_signal}",))


def signal_url(suffix: str = "") -> Callable[[dict, str], str]:
    return lambda world, side: f"/signalen/{world[side]['signal_id']}{suffix}"


def signal_detail(role: str, side: str) -> Outcome:
    if role == "anonymous":
        return LOGIN_REDIRECT
    if role == "admin":
        return FORBIDDEN
    return Outcome(404) if side == "other" else Outcome(200, contains=("{own_signal}",))


def signal_acknowledge_without_text(role: str, side: str) -> Outcome:
    """Only the owner (the own subcontractor) may acknowledge: it gets the form back asking for the text
    (422, nothing changes); the others may see the signal but not take this step (403)."""
    outcome = signal_detail(role, side)
    if outcome.status != 200:
        return outcome
    return Outcome(422, contains=("Schrijf een toelichting",)) if role == "subcontractor" else FORBIDDEN


def signal_comment(role: str, side: str) -> Outcome:
    outcome = signal_detail(role, side)
    return Outcome(303, "/signalen/") if outcome.status == 200 else outcome


def raise_signal(role: str, side: str) -> Outcome:
    if role == "anonymous":
        return LOGIN_REDIRECT
    if role not in ("coordinator", "subcontractor"):
        return FORBIDDEN
    return Outcome(303, "/signalen/") if side == "own" else Outcome(404)


async def _matrix_signal(contract, case, sub, label: str) -> int:
    from portal.signals.tables import Signal

    signal = Signal(contract=contract.id, rule="stalled", severity="low", dedup_key=f"matrix:{label}",
                    case=case.id, subcontractor=sub.id, owner_organisation=sub.id, title=f"Matrix signaal {label}")
    await signal.save()
    return signal.id

SAVINGS_READERS = ("contract_manager", "coordinator")


def case_url_suffix(suffix: str) -> Callable[[dict, str], str]:
    return lambda world, side: f"/casussen/{world[side]['case_id']}{suffix}"


def record_on_case(role: str, side: str) -> Outcome:
    """Objections and re-assessment talks: only the coordinator records them (403 for the others before any
    lookup); the other side's case is not known (404); the own case has no beschikking and no running provision
    (or has moved on since version 1), so the case page comes back with the refusal (409)."""
    if role == "anonymous":
        return LOGIN_REDIRECT
    if role != "coordinator":
        return FORBIDDEN
    return Outcome(404) if side == "other" else Outcome(409, contains=("{own_case_number}",))


def dashboard(role: str, side: str) -> Outcome:
    """Dashboard of a contract: its contract manager and coordinator (whole contract) and its subcontractors
    (their own scoped page); another contract is not known (404); an admin has no dashboard (403)."""
    if role == "anonymous":
        return LOGIN_REDIRECT
    if role == "admin":
        return FORBIDDEN
    if side == "other":
        return Outcome(404)
    return Outcome(200, contains=("Dashboard: Contract Noord",), absent=("Contract Zuid", "Onderaannemer Zuid"))


def contract_url(prefix: str, suffix: str = "") -> Callable[[dict, str], str]:
    return lambda world, side: f"{prefix}/{world[side]['contract_id']}{suffix}"


def dashboard_file(ok: Outcome) -> Callable[[str, str], Outcome]:
    """The dashboard's CSV, XLSX and quarterly PDF: exactly who may open the dashboard page, nothing of the
    other contract (a subcontractor gets its own scoped figures)."""
    def expect(role: str, side: str) -> Outcome:
        outcome = dashboard(role, side)
        return ok if outcome.status == 200 else outcome
    return expect


def savings(ok: Outcome, json: bool = False, managers_only: bool = False) -> Callable[[str, str], Outcome]:
    """Savings: contract manager and coordinator of the contract; another contract is not known (404);
    a subcontractor or admin has no savings area at all (403). Targets and terms: the contract manager."""
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return Outcome(401) if json else LOGIN_REDIRECT
        if role not in SAVINGS_READERS:
            return FORBIDDEN
        if side == "other":
            return Outcome(404)
        if managers_only and role != "contract_manager":
            return FORBIDDEN
        return ok
    return expect


def _savings_actual(world: dict, side: str) -> dict:
    """A contractor statement for one day of 2026 that no other cell uses (periods may not overlap)."""
    day = date(2026, 1, 1) + timedelta(days=next(_unique) % 300)
    return {"van": day.strftime("%d-%m-%Y"), "tot": day.strftime("%d-%m-%Y"), "bedrag": "1.234,56",
            "bron": "contractor_statement"}


# --- learning-cycle reports (portal/reports) ---------------------------------------------------------
REPORT_READERS = CASE_READERS
REPORT_AUTHORS = ("coordinator", "subcontractor")
REPORT_REVIEWERS = ("contract_manager", "coordinator")


def report_object(guard_roles: tuple[str, ...], own: dict[str, Outcome], json: bool = False
                  ) -> Callable[[str, str], Outcome]:
    """A report, period or template route: the role guard (403), then the object check (404 for the other
    side), then what the role may do with its own side's object (403 when the policy refuses)."""
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return Outcome(401) if json else LOGIN_REDIRECT
        if role not in guard_roles:
            return FORBIDDEN
        if side == "other":
            return Outcome(404)
        return own.get(role, FORBIDDEN)
    return expect


def report_url(which: str, suffix: str = "") -> Callable[[dict, str], str]:
    return lambda world, side: f"/leercyclus/rapportages/{world[side][which]}{suffix}"


def period_url(suffix: str = "") -> Callable[[dict, str], str]:
    return lambda world, side: f"/leercyclus/perioden/{world[side]['period_id']}{suffix}"


async def _matrix_reports(contract, sub, label: str) -> dict:
    """Per side: a template, one ended quarter, and the subcontractor's reports: two submitted (one to
    accept, one to return) and one draft."""
    import json as _json

    from portal.demo.generator import DEFAULT_REPORT_TEMPLATE
    from portal.reports.tables import Report, ReportPeriod, ReportTemplate, ReportVersion

    template = ReportTemplate(contract=contract.id, version=1, definition=DEFAULT_REPORT_TEMPLATE)
    await template.save()
    period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=date(2026, 1, 1),
                          ends_on=date(2026, 3, 31), deadline=date(2026, 4, 30))
    await period.save()
    writer = await factories.user(sub, "subcontractor", display_name=f"Schrijver {label}")
    ids = {"period_id": period.id}
    content = {"indicators": {"inwoners_ondersteund": 12, "nieuwe_hulpvragen": 3},
               "sections": {"goed": f"Matrix verhaal {label}"}, "computed": {}}
    for key, kind, status in (("report_accept", "subcontractor", "submitted"),
                              ("report_return", "subcontractor", "submitted"),
                              ("report_draft", "subcontractor", "draft")):
        report = Report(period=period.id, contract=contract.id, template=template.id, organisation=sub.id,
                        kind=kind, status=status, current_version=1 if status == "submitted" else 0,
                        draft=_json.dumps({"values": {}, "sections": {}}))
        if key != "report_accept":  # one report per (period, organisation, kind): the others in other periods
            other_period = ReportPeriod(contract=contract.id, kind="quarter",
                                        starts_on=date(2025, 1, 1) if key == "report_return" else date(2025, 4, 1),
                                        ends_on=date(2025, 3, 31) if key == "report_return" else date(2025, 6, 30),
                                        deadline=date(2025, 7, 30))
            await other_period.save()
            report.period = other_period.id
        await report.save()
        if status == "submitted":
            await ReportVersion(report=report.id, number=1, content=_json.dumps(content), submitted_by=writer.id).save()
        ids[key] = report.id
    return ids


REPORT_TEXT = Outcome(200, contains=("{own_report_text}",), absent=("{other_report_text}",))
REPORT_LISTED = Outcome(200, contains=("Onderaannemer Noord",), absent=("Onderaannemer Zuid", "{other_report_text}"))
ON_REPORT_PAGE = Outcome(303, "/leercyclus/rapportages/")

REPORT_EXPECTATIONS: dict[tuple[str, str], RouteCase] = {
    ("GET", "/leercyclus"): RouteCase(fixed("/leercyclus"), page(
        Outcome(200, contains=("Leercyclus", "Contract Noord"), absent=("Contract Zuid",)), REPORT_READERS)),
    ("POST", "/leercyclus/perioden/{period_id:int}/rapportage"): RouteCase(
        period_url("/rapportage"), report_object(REPORT_AUTHORS, {role: ON_REPORT_PAGE for role in REPORT_AUTHORS}),
        form=lambda world, side: {}),
    ("GET", "/leercyclus/rapportages/{report_id:int}"): RouteCase(
        report_url("report_accept"), report_object(REPORT_READERS, {role: REPORT_TEXT for role in REPORT_READERS})),
    ("POST", "/leercyclus/rapportages/{report_id:int}/concept"): RouteCase(
        report_url("report_draft", "/concept"), report_object(REPORT_AUTHORS, {"subcontractor": ON_REPORT_PAGE}),
        form=lambda world, side: {"tekst-goed": "Matrix concept"}),
    ("POST", "/leercyclus/rapportages/{report_id:int}/autosave"): RouteCase(
        report_url("report_draft", "/autosave"),
        report_object(REPORT_AUTHORS, {"subcontractor": Outcome(200, contains=("opgeslagen",))}),
        form=lambda world, side: {"tekst-goed": "Matrix autosave"}),
    ("POST", "/leercyclus/rapportages/{report_id:int}/indienen"): RouteCase(
        report_url("report_draft", "/indienen"),
        report_object(REPORT_AUTHORS, {"subcontractor": Outcome(422, contains=("Inwoners ondersteund",))}),
        form=lambda world, side: {"tekst-goed": "Matrix indienen"}),
    ("POST", "/leercyclus/rapportages/{report_id:int}/accepteren"): RouteCase(
        report_url("report_accept", "/accepteren"), report_object(REPORT_REVIEWERS, {"coordinator": ON_REPORT_PAGE}),
        form=lambda world, side: {}),
    ("POST", "/leercyclus/rapportages/{report_id:int}/terugsturen"): RouteCase(
        report_url("report_return", "/terugsturen"), report_object(REPORT_REVIEWERS, {"coordinator": ON_REPORT_PAGE}),
        form=lambda world, side: {"reason": "Matrix: graag aanvullen."}),
    ("POST", "/leercyclus/rapportages/{report_id:int}/reacties"): RouteCase(
        report_url("report_accept", "/reacties"),
        report_object(REPORT_READERS, {role: ON_REPORT_PAGE for role in REPORT_READERS}),
        form=lambda world, side: {"body": "Matrix reactie op rapportage"}),
    ("GET", "/leercyclus/rapportages/{report_id:int}/pdf"): RouteCase(
        report_url("report_accept", "/pdf"),
        report_object(REPORT_READERS, {role: Outcome(200, contains=("%PDF-",)) for role in REPORT_READERS})),
    ("GET", "/leercyclus/perioden/{period_id:int}"): RouteCase(
        period_url(), report_object(REPORT_REVIEWERS, {role: REPORT_LISTED for role in REPORT_REVIEWERS})),
    ("GET", "/leercyclus/perioden/{period_id:int}/indicatoren.xlsx"): RouteCase(
        period_url("/indicatoren.xlsx"),
        report_object(REPORT_READERS, {role: Outcome(200) for role in REPORT_READERS})),
    ("GET", "/leercyclus/perioden/{period_id:int}/indicatoren.csv"): RouteCase(
        period_url("/indicatoren.csv"),
        report_object(REPORT_READERS, {role: REPORT_LISTED for role in REPORT_READERS})),
    ("GET", "/leercyclus/contracten/{contract_id:int}/sjabloon"): RouteCase(
        lambda world, side: f"/leercyclus/contracten/{world[side]['contract_id']}/sjabloon",
        report_object(("contract_manager",), {"contract_manager": Outcome(200, contains=("Rapportagesjabloon",))})),
    ("POST", "/leercyclus/contracten/{contract_id:int}/sjabloon"): RouteCase(
        lambda world, side: f"/leercyclus/contracten/{world[side]['contract_id']}/sjabloon",
        report_object(("contract_manager",), {"contract_manager": Outcome(303, "/leercyclus/contracten/")}),
        form=lambda world, side: {"period_kind": "quarter", "deadline_days": "30", "i1-name": "Matrix indicator",
                                  "i1-type": "integer", "s1-title": "Matrix onderdeel"}),
    ("POST", "/leercyclus/contracten/{contract_id:int}/inzage"): RouteCase(
        lambda world, side: f"/leercyclus/contracten/{world[side]['contract_id']}/inzage",
        report_object(("contract_manager",), {"contract_manager": Outcome(303, "/leercyclus/contracten/")}),
        form=lambda world, side: {"underlying": "ja"}),  # "ja" keeps the later cells' reads as they are
    ("GET", "/api/v1/reports"): RouteCase(fixed("/api/v1/reports"), api(REPORT_LISTED, REPORT_READERS), api=True),
    ("GET", "/beheer/normen"): RouteCase(
        fixed("/beheer/normen"),
        page(Outcome(200, contains=("Contract Noord",), absent=("Contract Zuid",)), ("contract_manager",))),
    ("GET", "/beheer/normen/{contract_id:int}"): RouteCase(
        contract_url("/beheer/normen"),
        report_object(("contract_manager",), {"contract_manager": Outcome(200, contains=("Contract Noord",))})),
    ("POST", "/beheer/normen/{contract_id:int}"): RouteCase(
        contract_url("/beheer/normen"),
        report_object(("contract_manager",), {"contract_manager": Outcome(303, "/beheer/normen/")}),
        form=lambda world, side: {"norm-assessment": "30"}),
    ("GET", "/beheer/beveiliging"): RouteCase(
        fixed("/beheer/beveiliging"),
        page(Outcome(200, contains=("Contract Noord",), absent=("Contract Zuid",)), ("contract_manager",))),
    ("POST", "/beheer/beveiliging/{contract_id:int}"): RouteCase(
        contract_url("/beheer/beveiliging"),
        report_object(("contract_manager",), {"contract_manager": Outcome(303, "/beheer/beveiliging")}),
        form=lambda world, side: {"verplicht": "nee"}),  # "nee": later cells log in without a second factor
}


# --- JSON writes, the CSV import and API keys (portal/cases/api.py, portal/accounts/api_key_pages.py) ----
IMPORTERS = ("coordinator", "subcontractor")


def api_register(role: str, side: str) -> Outcome:
    if role == "anonymous":
        return Outcome(401)
    if role != "coordinator":
        return FORBIDDEN
    return Outcome(201) if side == "own" else Outcome(404)


def api_event_with_stale_version(role: str, side: str) -> Outcome:
    """A stale version changes nothing: 409 for whoever may act on the case, 404 when it is not theirs."""
    if role == "anonymous":
        return Outcome(401)
    if role in ("admin", "contract_manager"):
        return FORBIDDEN
    return Outcome(404) if side == "other" else Outcome(409)


def _api_melding(world: dict, side: str) -> dict:
    return {"contract_id": world[side]["contract_id"], "bsn": "111222333", "neighbourhood": "Matrixwijk",
            "domain": "wmo", "product_category": "02"}


def _import_file(world: dict, side: str) -> dict:
    """A dry run of one step on the side's case: a result table (200) for every importer; the other side's
    case is reported as unknown, without its number."""
    content = f"regel_type;zaaknummer;actie\ngebeurtenis;{world[side]['case_number']};start_care\n"
    return {"bestand": ("matrix.csv", content.encode(), "text/csv")}


# --- list exports and export jobs (portal/exports) ----------------------------------------------------


def list_export(ok: Outcome, allowed: tuple[str, ...]) -> Callable[[str, str], Outcome]:
    """A list export: the page's guard; a contract manager's case export carries no pseudonym."""
    def expect(role: str, side: str) -> Outcome:
        outcome = page(ok, allowed)(role, side)
        if outcome.status == 200 and role == "contract_manager":
            return Outcome(200, contains=ok.contains, absent=(*ok.absent, "{own_pseudonym}"))
        return outcome
    return expect


def own_export(ok: Outcome) -> Callable[[str, str], Outcome]:
    """An export job is the asker's alone (side A's coordinator here): anyone else gets 404."""
    def expect(role: str, side: str) -> Outcome:
        if role == "anonymous":
            return LOGIN_REDIRECT
        return ok if role == "coordinator" and side == "own" else Outcome(404)
    return expect


def export_url(suffix: str = "") -> Callable[[dict, str], str]:
    return lambda world, side: f"/exports/{world[side]['export_id']}{suffix}"


async def _matrix_export(user_id: int, case_number: str) -> int:
    """A finished one-row case export of ``user_id`` with its file on disk."""
    import secrets

    from portal.exports.service import export_dir
    from portal.exports.tables import ExportJob
    from portal.lib.exports import to_csv
    from portal.lib.tables_base import utc_now

    name = f"{secrets.token_hex(16)}.csv"
    export_dir().mkdir(parents=True, exist_ok=True)
    (export_dir() / name).write_bytes(to_csv(["Casus"], [[case_number]]))
    job = ExportJob(user=user_id, kind="cases", format="csv", params="{}", status="done", rows_done=1,
                    rows_total=1, file_name=name, finished_at=utc_now())
    await job.save()
    return job.id


EXPORT_EXPECTATIONS: dict[tuple[str, str], RouteCase] = {
    ("GET", "/casussen/export.csv"): RouteCase(fixed("/casussen/export.csv"), list_export(LISTED, CASE_READERS)),
    ("GET", "/casussen/export.xlsx"): RouteCase(fixed("/casussen/export.xlsx"),
                                                list_export(Outcome(200), CASE_READERS)),
    ("GET", "/signalen/export.csv"): RouteCase(fixed("/signalen/export.csv"),
                                               list_export(SIGNAL_LISTED, CASE_READERS)),
    ("GET", "/signalen/export.xlsx"): RouteCase(fixed("/signalen/export.xlsx"),
                                                list_export(Outcome(200), CASE_READERS)),
    ("GET", "/wachtlijst/export.csv"): RouteCase(fixed("/wachtlijst/export.csv"), list_export(
        Outcome(200, contains=("Wachttijd",), absent=("Contract Zuid",)), BOARD_READERS)),
    ("GET", "/wachtlijst/export.xlsx"): RouteCase(fixed("/wachtlijst/export.xlsx"),
                                                  list_export(Outcome(200), BOARD_READERS)),
    ("GET", "/exports/{export_id:int}"): RouteCase(
        export_url(), own_export(Outcome(200, contains=("1 van 1 regels",)))),
    ("GET", "/exports/{export_id:int}/bestand"): RouteCase(
        export_url("/bestand"), own_export(Outcome(200, contains=("{own_case_number}",)))),
}


EXPECTATIONS: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/cases"): RouteCase(fixed("/api/v1/cases"), api_register, json=_api_melding, api=True),
    ("POST", "/api/v1/cases/{case_id:int}/events"): RouteCase(
        lambda world, side: f"/api/v1/cases/{world[side]['case_id']}/events", api_event_with_stale_version,
        json=lambda world, side: {"action": "withdraw", "version": 999_999}, api=True),
    ("POST", "/api/v1/imports"): RouteCase(
        fixed("/api/v1/imports?dry_run=true"), api(Outcome(200, contains=('"dry_run":true',)), IMPORTERS),
        form=lambda world, side: {}, files=_import_file, api=True),
    ("GET", "/casussen/import"): RouteCase(
        fixed("/casussen/import"), page(Outcome(200, contains=("Casussen importeren",)), IMPORTERS)),
    ("GET", "/casussen/import/voorbeeld.csv"): RouteCase(
        fixed("/casussen/import/voorbeeld.csv"), page(Outcome(200, contains=("regel_type;referentie",)), IMPORTERS)),
    ("POST", "/casussen/import"): RouteCase(
        fixed("/casussen/import"), page(Outcome(200, contains=("Uitkomst van de proefimport",)), IMPORTERS),
        form=lambda world, side: {"proefimport": "ja"}, files=_import_file),
    ("GET", "/account/api-sleutels"): RouteCase(
        fixed("/account/api-sleutels"), page(Outcome(200, contains=("Uw sleutels",)), IMPORTERS)),
    ("POST", "/account/api-sleutels"): RouteCase(
        fixed("/account/api-sleutels"), page(Outcome(200, contains=("eenmalig",)), IMPORTERS),
        form=lambda world, side: {"actie": "aanmaken", "naam": "Matrixsysteem"}),
    ("GET", "/"): RouteCase(fixed("/"), page(Outcome(200, contains=("Mijn werk",)))),
    ("GET", "/health"): RouteCase(fixed("/health"), public(Outcome(200))),
    ("GET", "/health/live"): RouteCase(fixed("/health/live"), public(Outcome(200))),
    ("GET", "/inloggen"): RouteCase(fixed("/inloggen"), public(Outcome(200, contains=("Inloggen bij Inzicht",)))),
    ("POST", "/inloggen"): RouteCase(
        fixed("/inloggen"), public(Outcome(400, contains=("onjuist",))),
        form=lambda world, side: {"email": "niemand@example.nl", "password": "fout"}),
    ("GET", "/inloggen/tweede-stap"): RouteCase(fixed("/inloggen/tweede-stap"), public(Outcome(303, "/inloggen"))),
    ("POST", "/inloggen/tweede-stap"): RouteCase(
        fixed("/inloggen/tweede-stap"), public(Outcome(400, contains=("verlopen",))),
        form=lambda world, side: {"code": "123456"}),
    ("POST", "/uitloggen"): RouteCase(
        fixed("/uitloggen"), page(Outcome(303, "/inloggen?uitgelogd=1")), form=lambda w, s: {}, own_login=True),
    ("POST", "/uitloggen/overal"): RouteCase(
        fixed("/uitloggen/overal"), page(Outcome(303, "/inloggen?uitgelogd=overal")), form=lambda w, s: {},
        own_login=True),
    ("GET", "/account"): RouteCase(fixed("/account"), page(Outcome(200, contains=("Mijn account",)))),
    ("GET", "/account/tweestapsverificatie"): RouteCase(
        fixed("/account/tweestapsverificatie"), page(Outcome(200, contains=("secret=",)))),
    ("POST", "/account/tweestapsverificatie"): RouteCase(
        fixed("/account/tweestapsverificatie"), page(Outcome(303, "/account/tweestapsverificatie")),
        form=lambda world, side: {"code": "123456"}, own_login=True),
    ("GET", "/beheer"): RouteCase(fixed("/beheer"), page(Outcome(200, contains=("Beheer",)), ("admin",))),
    ("POST", "/beheer/organisaties"): RouteCase(
        fixed("/beheer/organisaties"), page(Outcome(303, "/beheer?aangemaakt=organisatie"), ("admin",)),
        form=_unique_organisation),
    ("POST", "/beheer/gebruikers"): RouteCase(
        fixed("/beheer/gebruikers"), page(Outcome(303, "/beheer?aangemaakt=gebruiker"), ("admin",)),
        form=_unique_user),
    # privacy (portal/privacy): the access request needs the privacy role, which side A's contract manager has
    ("POST", "/beheer/gebruikers/{user_id:int}/privacy"): RouteCase(
        lambda world, side: f"/beheer/gebruikers/{world['people']['contract_manager'].id}/privacy",
        page(Outcome(303, "/beheer?aangemaakt=privacy"), ("admin",)), form=lambda world, side: {"privacy": "ja"}),
    ("GET", "/beheer/inzage"): RouteCase(
        fixed("/beheer/inzage"),
        page(Outcome(200, contains=("Inzageverzoek", "Contract Noord"), absent=("Contract Zuid",)),
             ("contract_manager",))),
    ("POST", "/beheer/inzage"): RouteCase(
        fixed("/beheer/inzage"), page(Outcome(200, contains=("LEESMIJ.txt",)), ("contract_manager",)),
        form=lambda world, side: {"bsn": "111222333", "kenmerk": "Matrix inzage"}),
    ("GET", "/beheer/bewaartermijnen"): RouteCase(
        fixed("/beheer/bewaartermijnen"),
        page(Outcome(200, contains=("Contract Noord",), absent=("Contract Zuid",)), ("contract_manager",))),
    ("POST", "/beheer/bewaartermijnen/{contract_id:int}"): RouteCase(
        contract_url("/beheer/bewaartermijnen"),
        report_object(("contract_manager",), {"contract_manager": Outcome(303, "/beheer/bewaartermijnen")}),
        form=lambda world, side: {"jaren": "15"}),
    ("GET", "/beheer/audit"): RouteCase(
        fixed("/beheer/audit"),
        page(Outcome(200, contains=("{own_reader}",), absent=("{other_reader}",)), ("contract_manager",))),
    ("GET", "/casussen"): RouteCase(fixed("/casussen"), page(LISTED, CASE_READERS)),
    ("GET", "/casussen/{case_id:int}"): RouteCase(case_url("/casussen"), case_detail(json=False)),
    ("GET", "/casussen/nieuw"): RouteCase(
        fixed("/casussen/nieuw"), page(Outcome(200, contains=("Nieuwe melding",)), ("coordinator",))),
    ("POST", "/casussen/nieuw"): RouteCase(fixed("/casussen/nieuw"), register_melding, form=_new_melding),
    ("POST", "/casussen/{case_id:int}/acties/{action:str}"): RouteCase(
        lambda world, side: f"/casussen/{world[side]['case_id']}/acties/accept", accept_allocation,
        form=lambda world, side: {"version": "1"}),
    ("GET", "/toewijzen"): RouteCase(fixed("/toewijzen"), page(
        Outcome(200, contains=("Toewijzen", "Onderaannemer Noord"), absent=("Onderaannemer Zuid",)), BOARD_READERS)),
    ("GET", "/wachtlijst"): RouteCase(fixed("/wachtlijst"), page(
        Outcome(200, contains=("Wachtlijst",), absent=("Contract Zuid",)), BOARD_READERS)),
    ("GET", "/inbox"): RouteCase(
        fixed("/inbox"), page(Outcome(200, contains=("{own_case_number}",)), ("subcontractor",))),
    ("GET", "/api/v1/cases"): RouteCase(fixed("/api/v1/cases"), api(LISTED, CASE_READERS), api=True),
    ("GET", "/signalen"): RouteCase(fixed("/signalen"), page(SIGNAL_LISTED, CASE_READERS)),
    ("GET", "/signalen/{signal_id:int}"): RouteCase(signal_url(), signal_detail),
    ("POST", "/signalen/{signal_id:int}/acties/{action:str}"): RouteCase(
        signal_url("/acties/acknowledge"), signal_acknowledge_without_text, form=lambda world, side: {"text": ""}),
    ("POST", "/signalen/{signal_id:int}/reacties"): RouteCase(
        signal_url("/reacties"), signal_comment, form=lambda world, side: {"body": "Matrix reactie"}),
    ("GET", "/signalen/nieuw"): RouteCase(
        fixed("/signalen/nieuw"), page(Outcome(200, contains=("Signaal melden",)), ("coordinator", "subcontractor"))),
    ("POST", "/signalen/nieuw"): RouteCase(fixed("/signalen/nieuw"), raise_signal, form=lambda world, side: {
        "contract_id": str(world[side]["contract_id"]), "title": "Matrix gemeld", "detail": "Matrix tekst"}),
    ("GET", "/api/v1/signals"): RouteCase(fixed("/api/v1/signals"), api(SIGNAL_LISTED, CASE_READERS), api=True),
    ("GET", "/api/v1/cases/{case_id:int}"): RouteCase(case_url("/api/v1/cases"), case_detail(json=True), api=True),
    ("GET", "/dashboard"): RouteCase(fixed("/dashboard"), page(
        Outcome(200, contains=("Dashboard: Contract Noord",), absent=("Contract Zuid",)), CASE_READERS)),
    ("GET", "/dashboard/{contract_id:int}"): RouteCase(contract_url("/dashboard"), dashboard),
    ("GET", "/dashboard/{contract_id:int}/export.csv"): RouteCase(
        contract_url("/dashboard", "/export.csv"),
        dashboard_file(Outcome(200, contains=("Contract Noord",), absent=("Contract Zuid", "Onderaannemer Zuid")))),
    ("GET", "/dashboard/{contract_id:int}/export.xlsx"): RouteCase(
        contract_url("/dashboard", "/export.xlsx"), dashboard_file(Outcome(200, contains=("PK",)))),
    ("GET", "/dashboard/{contract_id:int}/kwartaalrapportage.pdf"): RouteCase(
        contract_url("/dashboard", "/kwartaalrapportage.pdf"), dashboard_file(Outcome(200, contains=("%PDF-",)))),
    ("GET", "/besparingen"): RouteCase(fixed("/besparingen"), page(
        Outcome(200, contains=("Contract Noord",), absent=("Contract Zuid",)), SAVINGS_READERS)),
    ("GET", "/besparingen/{contract_id:int}"): RouteCase(
        contract_url("/besparingen"), savings(Outcome(200, contains=("Besparingen: Contract Noord", "<svg")))),
    ("POST", "/besparingen/{contract_id:int}/werkelijk"): RouteCase(
        contract_url("/besparingen", "/werkelijk"), savings(Outcome(303, "/besparingen/")), form=_savings_actual),
    ("POST", "/besparingen/{contract_id:int}/doelstellingen"): RouteCase(
        contract_url("/besparingen", "/doelstellingen"), savings(Outcome(303, "/besparingen/"), managers_only=True),
        form=lambda world, side: {"jaar": "2026", "niveau": "contract", "doel": "1.000,00"}),
    ("POST", "/besparingen/{contract_id:int}/afspraken"): RouteCase(
        contract_url("/besparingen", "/afspraken"), savings(Outcome(303, "/besparingen/"), managers_only=True),
        form=lambda world, side: {"afspraken": "Matrix afspraak", "tolerantie": "5"}),
    ("POST", "/besparingen/{contract_id:int}/investeringen"): RouteCase(
        contract_url("/besparingen", "/investeringen"), savings(Outcome(303, "/besparingen/"), managers_only=True),
        form=lambda world, side: {"datum": "01-02-2026", "bedrag": "1.000,00", "omschrijving": "Matrix investering"}),
    # --- rights (portal/rights): the page per contract, and the coordinator's forms on the case page
    ("GET", "/rechten"): RouteCase(fixed("/rechten"), page(Outcome(303, "/rechten/"), SAVINGS_READERS)),
    ("GET", "/rechten/{contract_id:int}"): RouteCase(
        contract_url("/rechten"), savings(Outcome(200, contains=("Rechten: Contract Noord",),
                                                  absent=("Onderaannemer Zuid",)))),
    ("POST", "/casussen/{case_id:int}/bezwaar"): RouteCase(
        case_url_suffix("/bezwaar"), record_on_case, form=lambda world, side: {"version": "1",
                                                                                "filed_on": "02-11-2026"}),
    ("POST", "/casussen/{case_id:int}/bezwaar/besluit"): RouteCase(
        case_url_suffix("/bezwaar/besluit"), record_on_case,
        form=lambda world, side: {"version": "1", "outcome": "ongegrond", "decided_on": "02-11-2026"}),
    ("POST", "/casussen/{case_id:int}/herindicatie"): RouteCase(
        case_url_suffix("/herindicatie"), record_on_case,
        form=lambda world, side: {"version": "1", "outcome": "gestopt", "talk_on": "02-11-2026"}),
    ("POST", "/besparingen/{contract_id:int}/categoriedoelen"): RouteCase(
        contract_url("/besparingen", "/categoriedoelen"), savings(Outcome(303, "/besparingen/"), managers_only=True),
        form=lambda world, side: {"jaar": "2026", "niveau": "contract", "categorie": "02", "doel": "500,00"}),
    ("GET", "/api/v1/contracts/{contract_id:int}/savings"): RouteCase(
        contract_url("/api/v1/contracts", "/savings"), savings(Outcome(200, contains=("verdicts",)), json=True),
        api=True),
    **REPORT_EXPECTATIONS,
    **EXPORT_EXPECTATIONS,
    ("GET", "/static/{file_path:path}"): RouteCase(fixed("/static/css/portal.css"), public(Outcome(200))),
    ("GET", "/api/schema"): RouteCase(fixed("/api/schema"), SCHEMA_OK),
    ("GET", "/api/schema/elements"): RouteCase(fixed("/api/schema/elements"), SCHEMA_OK),
    ("GET", "/api/schema/rapidoc"): RouteCase(fixed("/api/schema/rapidoc"), SCHEMA_OK),
    ("GET", "/api/schema/redoc"): RouteCase(fixed("/api/schema/redoc"), SCHEMA_OK),
    ("GET", "/api/schema/swagger"): RouteCase(fixed("/api/schema/swagger"), SCHEMA_OK),
    ("GET", "/api/schema/openapi.yml"): RouteCase(fixed("/api/schema/openapi.yml"), SCHEMA_OK),
    ("GET", "/api/schema/openapi.yaml"): RouteCase(fixed("/api/schema/openapi.yaml"), SCHEMA_OK),
    ("GET", "/api/schema/openapi.json"): RouteCase(fixed("/api/schema/openapi.json"), SCHEMA_OK),
    ("GET", "/api/schema/{path:str}"): RouteCase(fixed("/api/schema/onbekend"), public(Outcome(404))),
    ("GET", "/api/schema/oauth2-redirect.html"): RouteCase(fixed("/api/schema/oauth2-redirect.html"), SCHEMA_OK),
}


def app_routes(app) -> set[tuple[str, str]]:
    return {(method, route.path) for route in app.routes
            for method in getattr(route, "methods", ()) if method not in IGNORED_METHODS}


async def _build_world():
    """Two complete contracts, A and B; every person used as an actor is on side A (plus spares for
    the routes that end a session)."""
    world: dict = {"people": {}, "spares": {}}
    platform = await factories.organisation("platform", "Platformbeheer")
    for side, label in (("own", "Noord"), ("other", "Zuid")):
        municipality = await factories.organisation("municipality", f"Gemeente {label}")
        main = await factories.organisation("main_contractor", f"Hoofdaannemer {label}")
        sub = await factories.organisation("subcontractor", f"Onderaannemer {label}")
        contract = await factories.contract(municipality, main, name=f"Contract {label}")
        await ContractYear(contract=contract.id, year=2026, baseline_cents=100_000_000).save()  # savings figures
        await factories.subcontract(contract, sub)
        case = await factories.case(contract, status="allocation_requested", subcontractor=sub.id)
        await factories.event(case, "allocation_requested", sub)
        reader = await factories.user(main, "coordinator", display_name=f"Lezer {label}")
        world[side] = {"case_id": case.id, "case_number": case.case_number, "pseudonym": case.pseudonym,
                       "contract_id": contract.id,
                       "subcontractor_org": sub.id, "reader": reader, "reader_name": reader.display_name}
        world[side]["signal_id"] = await _matrix_signal(contract, case, sub, label)
        world[side].update(await _matrix_reports(contract, sub, label))
        if side == "own":
            organisations = {"admin": platform, "contract_manager": municipality, "coordinator": main,
                             "subcontractor": sub}
            for role, org in organisations.items():
                world["people"][role] = await factories.user(org, role, display_name=f"Actor {role}",
                                                             is_privacy_officer=role == "contract_manager")
                world["spares"][role] = await factories.user(org, role, display_name=f"Reserve {role}")
    world["markers"] = {
        "own_case_number": world["own"]["case_number"], "own_pseudonym": world["own"]["pseudonym"],
        "own_reader": world["own"]["reader_name"], "other_reader": world["other"]["reader_name"],
        "own_signal": "Matrix signaal Noord", "other_signal": "Matrix signaal Zuid",
    }
    world["markers"] |= {"own_report_text": "Matrix verhaal Noord", "other_report_text": "Matrix verhaal Zuid"}
    world["own"]["export_id"] = await _matrix_export(world["people"]["coordinator"].id, world["own"]["case_number"])
    world["other"]["export_id"] = await _matrix_export(world["other"]["reader"].id, world["other"]["case_number"])
    return world


async def _audit_reads(app, world):
    """Both sides' coordinators read their own case, so the audit trails have entries on both sides."""
    for side in SIDES:
        async with factories.logged_in(app, world[side]["reader"], address="192.0.2.200") as http:
            assert (await http.get(f"/api/v1/cases/{world[side]['case_id']}")).status_code == 200


async def _call(http: httpx.AsyncClient, route: RouteCase, world: dict, side: str) -> httpx.Response:
    url = route.url(world, side)
    headers = {"accept": "application/json"} if route.api else {"accept": "text/html"}
    if route.json is not None:
        headers["x-csrftoken"] = await factories.csrf_token(http)
        return await http.post(url, json=route.json(world, side), headers=headers)
    if route.form is not None:
        data = {"_csrf_token": await factories.csrf_token(http), **route.form(world, side)}
        files = route.files(world, side) if route.files is not None else None
        return await http.post(url, data=data, files=files, headers=headers)
    return await http.get(url, headers=headers)


def _check(response: httpx.Response, expected: Outcome, world: dict, cell: str) -> None:
    assert response.status_code == expected.status, f"{cell}: {response.status_code} {response.text[:300]}"
    if expected.location is not None:
        assert response.headers.get("location", "").startswith(expected.location), (
            f"{cell}: location {response.headers.get('location')}")
    text = response.text
    for marker in expected.contains:
        assert marker.format(**world["markers"]) in text, f"{cell}: {marker} missing"
    for marker in expected.absent:
        assert marker.format(**world["markers"]) not in text, f"{cell}: {marker} leaked"
    # side B's case never reaches anyone on side A, whatever the route
    assert world["other"]["case_number"] not in text, f"{cell}: the other organisation's case leaked"
    assert world["other"]["pseudonym"] not in text, f"{cell}: the other organisation's pseudonym leaked"


async def test_every_route_for_every_role_and_organisation(app, capsys):
    routes = app_routes(app)
    missing = routes - EXPECTATIONS.keys()
    assert not missing, f"routes without an entry in the authorization matrix: {sorted(missing)}"
    stale = EXPECTATIONS.keys() - routes
    assert not stale, f"matrix entries for routes that do not exist: {sorted(stale)}"

    world = await _build_world()
    await _audit_reads(app, world)
    addresses = (f"10.9.{n // 250}.{n % 250 + 1}" for n in itertools.count())
    checked = 0
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {
            "anonymous": await stack.enter_async_context(factories.http_client(app, next(addresses)))}
        for role, person in world["people"].items():
            clients[role] = await stack.enter_async_context(factories.logged_in(app, person, address=next(addresses)))
        for (method, path), route in sorted(EXPECTATIONS.items()):
            for role in ROLES:
                for side in SIDES:
                    cell = f"{method} {path} as {role} ({side})"
                    expected = route.expect(role, side)
                    if route.own_login and role != "anonymous":
                        spare = world["spares"][role]
                        async with factories.logged_in(app, spare, address=next(addresses)) as http:
                            response = await _call(http, route, world, side)
                    else:
                        response = await _call(clients[role], route, world, side)
                    _check(response, expected, world, cell)
                    checked += 1
        # the long-lived sessions are still valid: no cell ended another role's session
        for role in ROLES[1:]:
            assert (await clients[role].get("/api/v1/cases")).status_code in (200, 403)
    # list routes return exactly the caller's own case
    async with factories.logged_in(app, world["people"]["subcontractor"], address=next(addresses)) as http:
        listed = (await http.get("/api/v1/cases")).json()
        assert [row["id"] for row in listed["cases"]] == [world["own"]["case_id"]] and listed["total"] == 1
    with capsys.disabled():
        print(f"\nauthorization matrix: {checked} cells checked "
              f"({len(EXPECTATIONS)} routes x {len(ROLES)} roles x {len(SIDES)} organisations)")
    assert checked == len(EXPECTATIONS) * len(ROLES) * len(SIDES)
