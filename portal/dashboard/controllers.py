from typing import Any

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from portal.accounts import auth
from portal.accounts.rules import Actor
from portal.dashboard import service
from portal.exports import dashboard as dashboard_exports

DASHBOARD_GUARD = auth.requires_roles(service.DASHBOARD_ROLES, "het dashboard")


@get("/", include_in_schema=False)
async def home(request: Request[Actor, Any, Any]) -> Template:
    """Mijn werk: the landing page of everyone who is logged in (anonymous visitors go to /inloggen)."""
    return Template("home/index.html", context={"work": await service.my_work(request.user)})


@get("/dashboard", guards=[DASHBOARD_GUARD], include_in_schema=False)
async def dashboard_index(request: Request[Actor, Any, Any]) -> Template:
    """Pick a contract; with only one contract the dashboard of that contract straight away (for a
    subcontractor: its own scoped page)."""
    contracts = await service.dashboard_contracts(request.user)
    if len(contracts) == 1:
        return await _page(request.user, contracts[0]["id"], contracts)
    return Template("dashboard/index.html", context={"contracts": contracts})


async def _page(actor: Actor, contract_id: int, contracts: list[dict] | None = None) -> Template:
    figures = await service.contract_dashboard(actor, contract_id)
    name = "dashboard/subcontractor.html" if figures["scope"] == "subcontractor" else "dashboard/contract.html"
    return Template(name, context={**figures, "contracts": contracts or [],
                                   "export_quarters": dashboard_exports.quarter_options(figures)})


@get("/dashboard/{contract_id:int}", guards=[DASHBOARD_GUARD], include_in_schema=False)
async def dashboard_page(request: Request[Actor, Any, Any], contract_id: FromPath[int]) -> Template:
    return await _page(request.user, contract_id)


ROUTES = [dashboard_index, dashboard_page]
