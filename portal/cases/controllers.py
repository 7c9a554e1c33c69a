"""Case routes, HTML and JSON: thin, each calls one service function with the actor."""

from typing import Any

from litestar import Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from portal.accounts import auth, policy
from portal.accounts.rules import Actor
from portal.cases import service

CASE_GUARD = auth.requires_roles(policy.CASE_READER_ROLES, "casussen")


Status = FromQuery[str | None]
Search = FromQuery[str | None]
After = FromQuery[int | None]
Purpose = FromQuery[str | None]


def _filters(status: str | None, zoek: str | None, na: int | None) -> service.CaseFilter:
    return service.CaseFilter(status=status or None, search=(zoek or "").strip() or None, after_id=na)


@get("/casussen", guards=[CASE_GUARD], include_in_schema=False)
async def case_list_page(request: Request[Actor, Any, Any], status: Status = None, zoek: Search = None,
                         na: After = None) -> Template:
    result = await service.list_cases(request.user, _filters(status, zoek, na))
    return Template("cases/list.html", context={
        **result, "filters": {"status": status or "", "zoek": zoek or ""},
        "statuses": service.CaseStatus.choices(),
    })


@get("/casussen/{case_id:int}", guards=[CASE_GUARD], include_in_schema=False)
async def case_detail_page(request: Request[Actor, Any, Any], case_id: FromPath[int], doel: Purpose = None) -> Template:
    return Template("cases/detail.html", context=await service.get_case(request.user, case_id, purpose=doel))


@get("/api/v1/cases", guards=[CASE_GUARD], tags=["cases"], summary="The cases the caller may see (keyset pages)")
async def case_list_api(request: Request[Actor, Any, Any], status: Status = None, zoek: Search = None,
                        na: After = None) -> dict:
    return await service.list_cases(request.user, _filters(status, zoek, na))


@get("/api/v1/cases/{case_id:int}", guards=[CASE_GUARD], tags=["cases"],
     summary="One case and its timeline, as far as the caller may see it (the read is audited)")
async def case_detail_api(request: Request[Actor, Any, Any], case_id: FromPath[int], doel: Purpose = None) -> dict:
    return await service.get_case(request.user, case_id, purpose=doel)


ROUTES = [case_list_page, case_detail_page, case_list_api, case_detail_api]
