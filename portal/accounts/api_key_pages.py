"""The page where a coordinator or subcontractor manages its own API keys (Mijn account > API-sleutels)."""

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import api_keys, auth
from portal.accounts.rules import Actor
from portal.lib.errors import InvalidInput

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
KEYS_GUARD = auth.requires_roles(api_keys.API_KEY_ROLES, "API-sleutels")
NO_STORE = {"Cache-Control": "no-store"}  # the page that shows a new key must not be cached anywhere


async def _page(actor: Actor, *, new_key: api_keys.NewApiKey | None = None, errors: list[dict] | None = None,
                notice: str | None = None, name: str = "", status_code: int = 200) -> Template:
    return Template("accounts/api_keys.html", status_code=status_code, headers=NO_STORE, context={
        "keys": await api_keys.list_api_keys(actor), "new_key": new_key, "errors": errors or [],
        "notice": notice, "name": name,
    })


@get("/account/api-sleutels", guards=[KEYS_GUARD], include_in_schema=False)
async def api_keys_page(request: Request[Actor, Any, Any], ingetrokken: FromQuery[str | None] = None) -> Template:
    return await _page(request.user, notice="De sleutel is ingetrokken." if ingetrokken else None)


@post("/account/api-sleutels", guards=[KEYS_GUARD], include_in_schema=False, status_code=200)
async def api_keys_change(request: Request[Actor, Any, Any], data: Form) -> Template | Redirect:
    """``actie=aanmaken`` with ``naam``: a new key, shown once on the answer page; ``actie=intrekken`` with
    ``sleutel`` (its id): revoke one of the actor's own keys."""
    action = str(data.get("actie", ""))
    if action == "intrekken":
        key_id = str(data.get("sleutel", ""))
        if not key_id.isdigit():
            return await _page(request.user, errors=[{"field": None, "message": "Kies een sleutel."}],
                               status_code=422)
        await api_keys.revoke_api_key(request.user, int(key_id))
        return Redirect("/account/api-sleutels?ingetrokken=1", status_code=303)
    name = str(data.get("naam", ""))
    try:
        new_key = await api_keys.create_api_key(request.user, name)
    except InvalidInput as exc:
        return await _page(request.user, errors=[{"field": "naam", "message": exc.message}], name=name,
                           status_code=422)
    return await _page(request.user, new_key=new_key)


ROUTES = [api_keys_page, api_keys_change]
