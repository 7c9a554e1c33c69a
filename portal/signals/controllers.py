"""Signal routes, HTML and JSON: thin, each calls one service function with the actor."""

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import auth, policy
from portal.accounts.rules import Actor
from portal.lib.errors import InvalidInput
from portal.lib.openapi import READ_ERRORS
from portal.signals import schemas, service
from portal.signals.rules import Severity, SignalAction, SignalRule, SignalStatus

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
READ_GUARD = auth.requires_roles(policy.SIGNAL_READER_ROLES, "signalen")
ACT_GUARD = auth.requires_roles(service.rules.ACTING_ROLES, "signalen")
RAISE_GUARD = auth.requires_roles(service.RAISER_ROLES, "het melden van signalen")
Q = FromQuery[str | None]

DONE_NOTICES = {
    "acknowledge": "Uw toelichting is opgeslagen; de gemeente is nu aan zet.",
    "resolve": "Het signaal is afgehandeld.",
    "escalate": "Het signaal is geëscaleerd naar de gemeente.",
    "reopen": "Het signaal is heropend.",
    "reactie": "Uw reactie is geplaatst.",
    "gemeld": "Uw signaal is gemeld bij de gemeente.",
}


@get("/signalen", guards=[READ_GUARD], include_in_schema=False)
async def signal_inbox(request: Request[Actor, Any, Any], regel: Q = None, ernst: Q = None, status: Q = None,
                       te_laat: Q = None, contract: Q = None) -> Template:
    filters = schemas.parse_filter(regel, ernst, status, te_laat, contract)
    result = await service.signal_inbox_page(request.user, filters)
    return Template("signals/inbox.html", context={
        **result,
        "filters": {"regel": regel or "", "ernst": ernst or "", "status": status or "actief", "te_laat": bool(te_laat),
                    "contract": str(filters.contract_id or "")},
        "rules": [(rule.value, rule.label) for rule in SignalRule],
        "severities": [(sev.value, sev.label) for sev in Severity],
        "statuses": [("actief", "Actief (open, toegelicht, geëscaleerd)"), ("alle", "Alle"),
                     *[(st.value, st.label) for st in SignalStatus]],
        "may_raise": request.user.role in service.RAISER_ROLES,
    })


async def _detail_page(actor: Actor, signal_id: int, *, errors: list[dict] | None = None,
                       values: dict | None = None, notice: str | None = None, status_code: int = 200) -> Template:
    context = await service.get_signal(actor, signal_id)
    return Template("signals/detail.html", status_code=status_code, context={
        **context, "errors": errors or [], "values": values or {}, "notice": notice})


@get("/signalen/{signal_id:int}", guards=[READ_GUARD], include_in_schema=False)
async def signal_detail(request: Request[Actor, Any, Any], signal_id: FromPath[int], gedaan: Q = None) -> Template:
    return await _detail_page(request.user, signal_id, notice=DONE_NOTICES.get(gedaan or ""))


@post("/signalen/{signal_id:int}/acties/{action:str}", guards=[ACT_GUARD], include_in_schema=False)
async def signal_action(request: Request[Actor, Any, Any], signal_id: FromPath[int], action: FromPath[str],
                        data: Form) -> Template | Redirect:
    code = SignalAction.parse(action, field="action").value
    try:
        await service.act_on_signal(request.user, signal_id, code, str(data.get("text", "")))
    except InvalidInput as exc:
        return await _detail_page(request.user, signal_id, status_code=422, values={"action": code, **data},
                                  errors=[{"field": f"text-{code}", "message": exc.message}])
    return Redirect(f"/signalen/{signal_id}?gedaan={code}", status_code=303)


@post("/signalen/{signal_id:int}/reacties", guards=[ACT_GUARD], include_in_schema=False)
async def signal_comment(request: Request[Actor, Any, Any], signal_id: FromPath[int],
                         data: Form) -> Template | Redirect:
    try:
        await service.comment_on_signal(request.user, signal_id, str(data.get("body", "")))
    except InvalidInput as exc:
        return await _detail_page(request.user, signal_id, status_code=422, values=data,
                                  errors=[{"field": "body", "message": exc.message}])
    return Redirect(f"/signalen/{signal_id}?gedaan=reactie#reacties", status_code=303)


async def _raise_page(actor: Actor, *, errors: list[dict] | None = None, values: dict | None = None,
                      status_code: int = 200) -> Template:
    return Template("signals/new.html", status_code=status_code, context={
        **await service.raise_choices(actor), "errors": errors or [], "values": values or {}})


@get("/signalen/nieuw", guards=[RAISE_GUARD], include_in_schema=False)
async def raise_form(request: Request[Actor, Any, Any]) -> Template:
    return await _raise_page(request.user)


@post("/signalen/nieuw", guards=[RAISE_GUARD], include_in_schema=False)
async def raise_signal(request: Request[Actor, Any, Any], data: Form) -> Template | Redirect:
    try:
        created = await service.raise_signal(request.user, schemas.parse_raise(data))
    except InvalidInput as exc:
        return await _raise_page(request.user, errors=[{"field": exc.field or "title", "message": exc.message}],
                                 values=data, status_code=422)
    return Redirect(f"/signalen/{created['id']}?gedaan=gemeld", status_code=303)


@get("/api/v1/signals", guards=[READ_GUARD], tags=["signals"], responses=READ_ERRORS,
     summary="The signals the caller may see (filters: regel, ernst, status, te_laat, contract), with counts")
async def signal_list_api(request: Request[Actor, Any, Any], regel: Q = None, ernst: Q = None, status: Q = None,
                          te_laat: Q = None, contract: Q = None) -> dict:
    result = await service.list_signals(request.user, schemas.parse_filter(regel, ernst, status, te_laat, contract))
    result.pop("digest", None)
    return result


ROUTES = [signal_inbox, signal_detail, signal_action, signal_comment, raise_form, raise_signal, signal_list_api]
