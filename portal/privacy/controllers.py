"""Privacy routes (Beheer): the access request, the retention terms and their runs, the privacy role. Thin.

The BSN of an access request arrives in a POST body only (never a URL, so never in an access log), is parsed
here into an :class:`AccessRequest` whose repr hides it, and is never put back into a page: after an error the
form comes back with the reference filled in and the BSN field empty.
"""

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from portal.accounts import auth
from portal.accounts.rules import Actor, Role
from portal.lib.errors import InvalidInput
from portal.privacy import rules, service
from portal.settings import get_settings

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
MANAGER_GUARD = auth.requires_roles([Role.CONTRACT_MANAGER], "Beheer")
ADMIN_GUARD = auth.requires_roles([Role.ADMIN], "Beheer")


def _access_page(context: dict, *, errors: list[dict] | None = None, purpose: str = "",
                 status_code: int = 200) -> Template:
    return Template("privacy/access.html", status_code=status_code,
                    context={**context, "errors": errors or [], "purpose": purpose})


@get("/beheer/inzage", guards=[MANAGER_GUARD], include_in_schema=False)
async def access_form(request: Request[Actor, Any, Any]) -> Template:
    return _access_page(await service.access_form(request.user))


@post("/beheer/inzage", guards=[MANAGER_GUARD], include_in_schema=False, status_code=200)
async def access_request(request: Request[Actor, Any, Any], data: Form) -> Response | Template:
    context = await service.access_form(request.user)  # the privacy role, before anything is read
    purpose = str(data.get("kenmerk") or "")
    try:
        typed = rules.parse_access_request(str(data.pop("bsn", "") or ""), purpose)
    except InvalidInput as exc:
        return _access_page(context, errors=[{"field": exc.field, "message": exc.message}], purpose=purpose,
                            status_code=422)
    finally:
        data.clear()
    # the same settings object as the case registration (portal.cases.service), so both use one key chain
    export = await service.access_request(request.user, typed, get_settings().pseudonym_keys)
    return Response(export.content, media_type="application/zip", headers={
        "content-disposition": f'attachment; filename="{export.file_name}"', "cache-control": "no-store",
        "x-content-type-options": "nosniff", "x-inzage-casussen": str(export.cases)})


@get("/beheer/bewaartermijnen", guards=[MANAGER_GUARD], include_in_schema=False)
async def retention_page(request: Request[Actor, Any, Any], opgeslagen: FromQuery[int | None] = None) -> Template:
    return Template("privacy/retention.html", context={
        **await service.retention_page(request.user), "saved": opgeslagen, "errors": [], "typed": {}})


@post("/beheer/bewaartermijnen/{contract_id:int}", guards=[MANAGER_GUARD], include_in_schema=False)
async def set_retention(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                        ) -> Redirect | Template:
    try:
        await service.set_retention_years(request.user, contract_id, str(data.get("jaren") or ""))
    except InvalidInput as exc:
        page = await service.retention_page(request.user)
        return Template("privacy/retention.html", status_code=422, context={
            **page, "saved": None, "typed": {contract_id: str(data.get("jaren") or "")},
            "errors": [{"field": f"jaren-{contract_id}", "message": exc.message}]})
    return Redirect(f"/beheer/bewaartermijnen?opgeslagen={contract_id}", status_code=303)


@post("/beheer/gebruikers/{user_id:int}/privacy", guards=[ADMIN_GUARD], include_in_schema=False)
async def set_privacy_officer(request: Request[Actor, Any, Any], user_id: FromPath[int], data: Form) -> Redirect:
    choice = data.get("privacy")
    if choice not in ("ja", "nee"):
        raise InvalidInput("Kies of deze persoon de privacyrol heeft (ja of nee).", field="privacy")
    await service.set_privacy_officer(request.user, user_id, choice == "ja")
    return Redirect("/beheer?aangemaakt=privacy", status_code=303)


ROUTES = [access_form, access_request, retention_page, set_retention, set_privacy_officer]
