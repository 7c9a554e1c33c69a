"""Savings routes, HTML and JSON: thin, each calls one service function with the actor."""

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import auth
from portal.accounts.rules import Actor
from portal.lib.codelists import ProductCategory
from portal.lib.errors import InvalidInput
from portal.lib.formatting import format_date
from portal.lib.openapi import READ_ERRORS
from portal.savings import service
from portal.savings.rules import SOURCE_LABELS, level_label
from portal.savings.schemas import parse_actual, parse_category_target, parse_investment, parse_terms, parse_year

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
SAVINGS_GUARD = auth.requires_roles(service.SAVINGS_ROLES, "besparingen")
NOTICES = {
    "bedrag": "Het bedrag is vastgelegd.",
    "correctie": "De correctie is vastgelegd; het oude bedrag telt niet meer mee.",
    "jaar": "De doelstelling is vastgelegd.",
    "afspraken": "De afspraken zijn vastgelegd.",
    "investering": "De investering is vastgelegd; ze telt mee in het netto resultaat.",
    "categorie": "De doelstelling voor de productcategorie is vastgelegd.",
}


@get("/besparingen", guards=[SAVINGS_GUARD], include_in_schema=False)
async def savings_index(request: Request[Actor, Any, Any]) -> Template | Redirect:
    contracts = await service.list_contracts(request.user)
    return Template("savings/index.html", context={"contracts": contracts})


async def _page(actor: Actor, contract_id: int, *, errors: list[dict] | None = None, form: str | None = None,
                values: dict | None = None, notice: str | None = None, correct_id: int | None = None,
                status_code: int = 200) -> Template:
    overview = await service.savings_overview(actor, contract_id)
    correcting = next((a for a in overview["actuals"] if a["id"] == correct_id and not a["replaced_by"]), None)
    if correcting and form != "correctie":
        values = {"corrigeert": correcting["id"], "van": format_date(correcting["period_start"]),
                  "tot": format_date(correcting["period_end"]), "bron": correcting["source"]}
        form = "correctie"
    return Template("savings/detail.html", status_code=status_code, context={
        **overview, "chart": service.trajectory_chart(overview), "years_chart": service.years_chart(overview),
        "errors": errors or [], "form": form, "values": values or {}, "notice": notice, "correcting": correcting,
        "source_labels": {k.value: v for k, v in SOURCE_LABELS.items()}, "level_label": level_label,
        "categories": ProductCategory.choices(),
        "open_actuals": [a for a in overview["actuals"] if not a["replaced_by"]
                         and a["source"] in overview["allowed_sources"]],
    })


@get("/besparingen/{contract_id:int}", guards=[SAVINGS_GUARD], include_in_schema=False)
async def savings_page(request: Request[Actor, Any, Any], contract_id: FromPath[int],
                       vastgelegd: FromQuery[str | None] = None, corrigeer: FromQuery[int | None] = None) -> Template:
    return await _page(request.user, contract_id, notice=NOTICES.get(vastgelegd or ""), correct_id=corrigeer)


def _failed(form: str, data: dict, exc: InvalidInput) -> dict:
    prefix = {"bedrag": "nieuw", "correctie": "corr", "jaar": "jaar", "afspraken": "terms", "investering": "inv",
              "categorie": "cat"}[form]
    field = f"{prefix}-{exc.field}" if exc.field else None
    values = {key: value for key, value in data.items() if key != "_csrf_token"}
    return {"errors": [{"field": field, "message": exc.message}], "form": form, "values": values,
            "status_code": 422}


@post("/besparingen/{contract_id:int}/werkelijk", guards=[SAVINGS_GUARD], include_in_schema=False)
async def add_actual(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                     ) -> Template | Redirect:
    form = "correctie" if str(data.get("corrigeert") or "").strip() else "bedrag"
    try:
        actual_id = await service.add_actual(request.user, contract_id, parse_actual(data))
    except InvalidInput as exc:
        return await _page(request.user, contract_id, **_failed(form, data, exc))
    return Redirect(f"/besparingen/{contract_id}?vastgelegd={form}#bedrag-{actual_id}", status_code=303)


@post("/besparingen/{contract_id:int}/doelstellingen", guards=[SAVINGS_GUARD], include_in_schema=False)
async def set_year(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form) -> Template | Redirect:
    try:
        await service.set_year(request.user, contract_id, parse_year(data))
    except InvalidInput as exc:
        return await _page(request.user, contract_id, **_failed("jaar", data, exc))
    return Redirect(f"/besparingen/{contract_id}?vastgelegd=jaar#per-jaar", status_code=303)


@post("/besparingen/{contract_id:int}/afspraken", guards=[SAVINGS_GUARD], include_in_schema=False)
async def set_terms(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form) -> Template | Redirect:
    try:
        await service.set_terms(request.user, contract_id, parse_terms(data))
    except InvalidInput as exc:
        return await _page(request.user, contract_id, **_failed("afspraken", data, exc))
    return Redirect(f"/besparingen/{contract_id}?vastgelegd=afspraken#afspraken", status_code=303)


@post("/besparingen/{contract_id:int}/investeringen", guards=[SAVINGS_GUARD], include_in_schema=False)
async def add_investment(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                         ) -> Template | Redirect:
    try:
        investment_id = await service.add_investment(request.user, contract_id, parse_investment(data))
    except InvalidInput as exc:
        return await _page(request.user, contract_id, **_failed("investering", data, exc))
    return Redirect(f"/besparingen/{contract_id}?vastgelegd=investering#investering-{investment_id}", status_code=303)


@post("/besparingen/{contract_id:int}/categoriedoelen", guards=[SAVINGS_GUARD], include_in_schema=False)
async def set_category_target(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                              ) -> Template | Redirect:
    try:
        await service.set_category_target(request.user, contract_id, parse_category_target(data))
    except InvalidInput as exc:
        return await _page(request.user, contract_id, **_failed("categorie", data, exc))
    return Redirect(f"/besparingen/{contract_id}?vastgelegd=categorie#per-categorie", status_code=303)


@get("/api/v1/contracts/{contract_id:int}/savings", guards=[SAVINGS_GUARD], tags=["savings"],
     responses=READ_ERRORS,
     summary="The savings picture of one contract: trajectory, verdict, forecast, actuals and indicators")
async def savings_api(request: Request[Actor, Any, Any], contract_id: FromPath[int]) -> dict:
    return await service.savings_overview(request.user, contract_id)


ROUTES = [savings_index, savings_page, add_actual, set_year, set_terms, add_investment, set_category_target,
          savings_api]
