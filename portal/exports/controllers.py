"""Export routes: thin. The list exports take the same URL filters as their pages; a small export is the
file itself, a large one redirects to its progress page."""

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts.rules import Actor
from portal.cases import controllers as cases_controllers
from portal.dashboard.controllers import DASHBOARD_GUARD
from portal.exports import dashboard, service
from portal.lib.formatting import parse_id
from portal.signals import controllers as signals_controllers
from portal.signals import schemas as signal_schemas

Text = FromQuery[str | None]


def _format(request: Request) -> str:
    return request.url.path.rsplit(".", 1)[-1]


def _answer(result: service.Download | service.Queued) -> Response | Redirect:
    if isinstance(result, service.Queued):
        return Redirect(f"/exports/{result.export_id}", status_code=303)
    return _file(result)


def _file(download: service.Download) -> Response:
    return Response(download.content, media_type=download.media_type, headers={
        "content-disposition": f'attachment; filename="{download.filename}"',
        "cache-control": "no-store", "x-content-type-options": "nosniff",
    })


@get(["/casussen/export.csv", "/casussen/export.xlsx"], guards=[cases_controllers.CASE_GUARD],
     include_in_schema=False)
async def case_export(request: Request[Actor, Any, Any], state: State, status: Text = None, zoek: Text = None,
                      onderaannemer: Text = None, categorie: Text = None, wijk: Text = None,
                      te_laat: Text = None, volgorde: Text = None, contract: Text = None) -> Response | Redirect:
    filters = cases_controllers._filters(status, zoek, onderaannemer, categorie, wijk, te_laat, volgorde, None,
                                         contract)
    return _answer(await service.request_export(request.user, "cases", _format(request),
                                                service.case_params(filters), state.settings))


@get(["/signalen/export.csv", "/signalen/export.xlsx"], guards=[signals_controllers.READ_GUARD],
     include_in_schema=False)
async def signal_export(request: Request[Actor, Any, Any], state: State, regel: Text = None, ernst: Text = None,
                        status: Text = None, te_laat: Text = None, contract: Text = None) -> Response | Redirect:
    filters = signal_schemas.parse_filter(regel, ernst, status, te_laat, contract)
    return _answer(await service.request_export(request.user, "signals", _format(request),
                                                service.signal_params(filters), state.settings))


@get(["/wachtlijst/export.csv", "/wachtlijst/export.xlsx"], guards=[cases_controllers.BOARD_GUARD],
     include_in_schema=False)
async def waiting_list_export(request: Request[Actor, Any, Any], state: State, contract: Text = None,
                              categorie: Text = None) -> Response | Redirect:
    contract_id = parse_id(contract, "contract", "Kies een contract uit de lijst.")
    params = service.waiting_list_params(contract_id, (categorie or "").strip() or None)
    return _answer(await service.request_export(request.user, "waiting_list", _format(request), params,
                                                state.settings))


@get("/exports/{export_id:int}", include_in_schema=False)
async def export_progress(request: Request[Actor, Any, Any], export_id: FromPath[int], stil: Text = None) -> Template:
    export = await service.export_status(request.user, export_id)
    return Template("exports/progress.html", context={"export": export, "quiet": bool(stil)})


@get("/exports/{export_id:int}/bestand", include_in_schema=False)
async def export_download(request: Request[Actor, Any, Any], state: State, export_id: FromPath[int]) -> Response:
    return _file(await service.export_file(request.user, export_id, state.settings))


# --- the contract dashboard: its figures as CSV/XLSX, and the quarterly PDF ---------------------------------


@get(["/dashboard/{contract_id:int}/export.csv", "/dashboard/{contract_id:int}/export.xlsx"],
     guards=[DASHBOARD_GUARD], include_in_schema=False)
async def dashboard_export(request: Request[Actor, Any, Any], contract_id: FromPath[int]) -> Response:
    return _file(await dashboard.dashboard_export(request.user, contract_id, _format(request)))


@get("/dashboard/{contract_id:int}/kwartaalrapportage.pdf", guards=[DASHBOARD_GUARD], include_in_schema=False)
async def dashboard_quarterly_pdf(request: Request[Actor, Any, Any], contract_id: FromPath[int],
                                  kwartaal: Text = None) -> Response:
    return _file(await dashboard.quarterly_pdf(request.user, contract_id, kwartaal))


ROUTES = [case_export, signal_export, waiting_list_export, export_progress, export_download, dashboard_export,
          dashboard_quarterly_pdf]
