"""Contract settings for the contract manager: the norms per status (Beheer)."""

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import auth
from portal.accounts.rules import Actor, Role
from portal.contracts import service
from portal.lib.errors import InvalidInput

NORMS_GUARD = auth.requires_roles([Role.CONTRACT_MANAGER], "de normen van contracten")
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


@get("/beheer/normen", guards=[NORMS_GUARD], include_in_schema=False)
async def norms_index(request: Request[Actor, Any, Any]) -> Template:
    return Template("contracts/norms_index.html",
                    context={"contracts": await service.managed_contracts(request.user)})


@get("/beheer/normen/{contract_id:int}", guards=[NORMS_GUARD], include_in_schema=False)
async def norms_form(request: Request[Actor, Any, Any], contract_id: FromPath[int],
                     opgeslagen: FromQuery[bool] = False) -> Template:
    page = await service.norms_page(request.user, contract_id)
    return Template("contracts/norms.html", context={**page, "saved": opgeslagen, "error": None})


@post("/beheer/normen/{contract_id:int}", guards=[NORMS_GUARD], include_in_schema=False)
async def save_norms(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                     ) -> Redirect | Template:
    try:
        await service.set_norms(request.user, contract_id, data)
    except InvalidInput as error:
        page = await service.norms_page_with_errors(request.user, contract_id, data)
        return Template("contracts/norms.html", context={**page, "saved": False, "error": error}, status_code=422)
    return Redirect(f"/beheer/normen/{contract_id}?opgeslagen=true", status_code=303)


ROUTES = [norms_index, norms_form, save_norms]
