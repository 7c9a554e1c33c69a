"""Leercyclus routes, HTML and JSON: thin, each parses its input, calls one service function with the actor
and returns a template, a redirect, a file or a dict."""

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from portal.accounts import auth, policy
from portal.accounts.rules import Actor
from portal.lib.errors import DomainError, InvalidInput, NotFound
from portal.lib.formatting import AMSTERDAM
from portal.lib.openapi import READ_ERRORS
from portal.reports import rules, service
from portal.reports.service import ReportInput, ReportInvalid, TemplateInput

READ_GUARD = auth.requires_roles(policy.CASE_READER_ROLES, "rapportages")
AUTHOR_GUARD = auth.requires_roles(service.AUTHOR_ROLES, "het schrijven van rapportages")
REVIEW_GUARD = auth.requires_roles(service.REVIEWER_ROLES, "het beoordelen van rapportages")
CONSOLIDATION_GUARD = auth.requires_roles(service.CONSOLIDATION_ROLES, "de consolidatie van rapportages")
TEMPLATE_GUARD = auth.requires_roles(service.TEMPLATE_ROLES, "rapportagesjablonen")

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Text = FromQuery[str | None]
TEMPLATE_ROWS_EXTRA = 3
NOTICES = {
    "opgeslagen": "Het concept is opgeslagen.",
    "ingediend": "De rapportage is ingediend. Elke indiening blijft bewaard als versie.",
    "teruggestuurd": "De rapportage is teruggestuurd naar de schrijver, met uw toelichting.",
    "geaccepteerd": "De rapportage is geaccepteerd.",
    "reactie": "Uw reactie is geplaatst.",
}


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _report_input(data: dict) -> ReportInput:
    values = {key[len("waarde-"):]: str(value) for key, value in data.items() if key.startswith("waarde-")}
    sections = {key[len("tekst-"):]: str(value) for key, value in data.items() if key.startswith("tekst-")}
    return ReportInput(values=values, sections=sections)


async def _page(actor: Actor, report_id: int, notice: str | None = None, errors: list[dict] | None = None,
                typed: ReportInput | None = None, status_code: int = 200, van: int | None = None,
                naar: int | None = None, extra: dict | None = None) -> Template:
    page = await service.report_page(actor, report_id, van, naar)
    if typed is not None:  # show exactly what was typed (it was saved too)
        for item in page["fields"]:
            if item["key"] in typed.values:
                item["value"] = typed.values[item["key"]]
        for section in page["sections"]:
            if section["key"] in typed.sections:
                section["text"] = typed.sections[section["key"]]
    return Template("reports/report.html", status_code=status_code,
                    context={**page, "notice": notice, "errors": errors or [], **(extra or {})})


@get("/leercyclus", guards=[READ_GUARD], include_in_schema=False)
async def overview_page(request: Request[Actor, Any, Any]) -> Template:
    return Template("reports/overview.html", context=await service.overview(request.user))


@post("/leercyclus/perioden/{period_id:int}/rapportage", guards=[AUTHOR_GUARD], include_in_schema=False)
async def start_report(request: Request[Actor, Any, Any], period_id: FromPath[int], data: Form) -> Redirect:
    started = await service.start_report(request.user, period_id)
    return Redirect(f"/leercyclus/rapportages/{started['id']}", status_code=303)


@get("/leercyclus/rapportages/{report_id:int}", guards=[READ_GUARD], include_in_schema=False)
async def report_page(request: Request[Actor, Any, Any], report_id: FromPath[int], gedaan: Text = None,
                      van: Text = None, naar: Text = None) -> Template:
    return await _page(request.user, report_id, NOTICES.get(gedaan or ""), van=_number(van), naar=_number(naar))


@post("/leercyclus/rapportages/{report_id:int}/concept", guards=[AUTHOR_GUARD], include_in_schema=False)
async def save_draft(request: Request[Actor, Any, Any], report_id: FromPath[int], data: Form) -> Template | Redirect:
    typed = _report_input(data)
    try:
        await service.save_draft(request.user, report_id, typed)
    except NotFound:
        raise
    except DomainError as exc:
        return await _page(request.user, report_id, errors=[{"field": exc.field, "message": exc.message}],
                           typed=typed, status_code=exc.status_code)
    return Redirect(f"/leercyclus/rapportages/{report_id}?gedaan=opgeslagen", status_code=303)


@post("/leercyclus/rapportages/{report_id:int}/autosave", guards=[AUTHOR_GUARD], include_in_schema=False,
      status_code=200)
async def autosave(request: Request[Actor, Any, Any], report_id: FromPath[int], data: Form) -> dict:
    """The autosave script posts the whole form here every ~20 seconds and on every change (JSON answer)."""
    saved = await service.save_draft(request.user, report_id, _report_input(data), how="automatisch opgeslagen")
    moment = saved["saved_at"]
    return {"opgeslagen": True, "gewijzigd": saved["changed"],
            "tijd": moment.astimezone(AMSTERDAM).strftime("%H:%M:%S") if moment else None}


@post("/leercyclus/rapportages/{report_id:int}/indienen", guards=[AUTHOR_GUARD], include_in_schema=False)
async def submit(request: Request[Actor, Any, Any], report_id: FromPath[int], data: Form) -> Template | Redirect:
    typed = _report_input(data)
    try:
        await service.submit(request.user, report_id, typed)
    except NotFound:
        raise
    except ReportInvalid as exc:
        return await _page(request.user, report_id, errors=exc.errors, typed=typed, status_code=422,
                           notice="Uw concept is opgeslagen, maar nog niet ingediend.")
    except DomainError as exc:
        return await _page(request.user, report_id, errors=[{"field": exc.field, "message": exc.message}],
                           typed=typed, status_code=exc.status_code)
    return Redirect(f"/leercyclus/rapportages/{report_id}?gedaan=ingediend", status_code=303)


@post("/leercyclus/rapportages/{report_id:int}/terugsturen", guards=[REVIEW_GUARD], include_in_schema=False)
async def return_report(request: Request[Actor, Any, Any], report_id: FromPath[int], data: Form
                        ) -> Template | Redirect:
    try:
        await service.return_report(request.user, report_id, str(data.get("reason") or ""))
    except NotFound:
        raise
    except DomainError as exc:
        return await _page(request.user, report_id, errors=[{"field": exc.field, "message": exc.message}],
                           status_code=exc.status_code, extra={"typed_reason": str(data.get("reason") or "")})
    return Redirect(f"/leercyclus/rapportages/{report_id}?gedaan=teruggestuurd", status_code=303)


@post("/leercyclus/rapportages/{report_id:int}/accepteren", guards=[REVIEW_GUARD], include_in_schema=False)
async def accept_report(request: Request[Actor, Any, Any], report_id: FromPath[int], data: Form) -> Redirect:
    await service.accept_report(request.user, report_id)
    return Redirect(f"/leercyclus/rapportages/{report_id}?gedaan=geaccepteerd", status_code=303)


@post("/leercyclus/rapportages/{report_id:int}/reacties", guards=[READ_GUARD], include_in_schema=False)
async def comment(request: Request[Actor, Any, Any], report_id: FromPath[int], data: Form) -> Template | Redirect:
    try:
        await service.add_comment(request.user, report_id, str(data.get("section") or ""), str(data.get("body") or ""))
    except NotFound:
        raise
    except DomainError as exc:
        return await _page(request.user, report_id, errors=[{"field": exc.field, "message": exc.message}],
                           status_code=exc.status_code, extra={"typed_body": str(data.get("body") or "")})
    return Redirect(f"/leercyclus/rapportages/{report_id}?gedaan=reactie#reacties", status_code=303)


def _download(name: str, content: bytes, media_type: str) -> Response:
    return Response(content, media_type=media_type, headers={
        "content-disposition": f'attachment; filename="{name}"', "x-content-type-options": "nosniff",
        "cache-control": "no-store"})


@get("/leercyclus/rapportages/{report_id:int}/pdf", guards=[READ_GUARD], include_in_schema=False)
async def report_pdf(request: Request[Actor, Any, Any], report_id: FromPath[int]) -> Response:
    name, content = await service.export_report_pdf(request.user, report_id)
    return _download(name, content, "application/pdf")


@get("/leercyclus/perioden/{period_id:int}", guards=[CONSOLIDATION_GUARD], include_in_schema=False)
async def period_page(request: Request[Actor, Any, Any], period_id: FromPath[int]) -> Template:
    return Template("reports/period.html", context=await service.period_page(request.user, period_id))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@get("/leercyclus/perioden/{period_id:int}/indicatoren.xlsx", guards=[READ_GUARD], include_in_schema=False)
async def period_xlsx(request: Request[Actor, Any, Any], period_id: FromPath[int]) -> Response:
    name, content = await service.export_period(request.user, period_id, "xlsx")
    return _download(name, content, XLSX)


@get("/leercyclus/perioden/{period_id:int}/indicatoren.csv", guards=[READ_GUARD], include_in_schema=False)
async def period_csv(request: Request[Actor, Any, Any], period_id: FromPath[int]) -> Response:
    name, content = await service.export_period(request.user, period_id, "csv")
    return _download(name, content, "text/csv; charset=utf-8")


# --- templates -------------------------------------------------------------------------------------


def _template_page(form: dict, current: dict, errors: list[dict], notice: str | None = None,
                   status_code: int = 200, reads_underlying: str | None = None) -> Template:
    indicators = list(current["indicators"]) + [
        {"name": "", "unit": "", "type": "integer", "required": False, "min": "", "max": ""}
        for _ in range(TEMPLATE_ROWS_EXTRA)]
    sections = list(current["sections"]) + ["" for _ in range(TEMPLATE_ROWS_EXTRA)]
    return Template("reports/template.html", status_code=status_code, context={
        **form, "current": {**current, "indicators": indicators, "sections": sections}, "errors": errors,
        "notice": notice, "types": rules.IndicatorType.choices(), "period_kinds": rules.PeriodKind.choices(),
        "units": rules.Unit.choices(),
        # the radio button as typed after a refused answer, else the stored setting
        "underlying_choice": reads_underlying if reads_underlying is not None else (
            "ja" if form["reads_underlying"] else "nee"),
    })


@get("/leercyclus/contracten/{contract_id:int}/sjabloon", guards=[TEMPLATE_GUARD], include_in_schema=False)
async def template_page(request: Request[Actor, Any, Any], contract_id: FromPath[int], versie: Text = None,
                        inzage: Text = None) -> Template:
    form = await service.template_form(request.user, contract_id)
    notice = f"Versie {versie} van het sjabloon is vastgesteld." if _number(versie) else None
    if inzage in UNDERLYING_NOTICES:
        notice = UNDERLYING_NOTICES[inzage]
    return _template_page(form, form["current"], [], notice)


UNDERLYING_NOTICES = {
    "ja": "Vastgelegd: de gemeente leest de contractrapportage en de onderliggende rapportages.",
    "nee": "Vastgelegd: de gemeente leest alleen de contractrapportage van de hoofdaannemer.",
}


@post("/leercyclus/contracten/{contract_id:int}/inzage", guards=[TEMPLATE_GUARD], include_in_schema=False)
async def save_underlying_access(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                                 ) -> Template | Redirect:
    """As the contract says: does the municipality read the underlying subcontractor reports too?"""
    typed = str(data.get("underlying") or "")
    try:
        reads = service.parse_underlying_choice(typed)
    except InvalidInput as exc:
        form = await service.template_form(request.user, contract_id)  # 404 first for a stranger's contract
        return _template_page(form, form["current"], [{"field": exc.field, "message": exc.message}],
                              status_code=422, reads_underlying=typed[:10])
    await service.set_underlying_access(request.user, contract_id, reads)
    query = urlencode({"inzage": "ja" if reads else "nee"})
    return Redirect(f"/leercyclus/contracten/{contract_id}/sjabloon?{query}#inzage", status_code=303)


def _template_input(data: dict) -> TemplateInput:
    indicators, sections = [], []
    for index in range(1, rules.MAX_INDICATORS + TEMPLATE_ROWS_EXTRA + 1):
        if f"i{index}-name" not in data:
            continue
        row = {key: str(data.get(f"i{index}-{key}") or "") for key in ("name", "unit", "type", "min", "max")}
        indicators.append(row | {"required": bool(data.get(f"i{index}-required"))})
    for index in range(1, rules.MAX_SECTIONS + TEMPLATE_ROWS_EXTRA + 1):
        if f"s{index}-title" in data:
            sections.append(str(data.get(f"s{index}-title") or ""))
    return TemplateInput(period_kind=str(data.get("period_kind") or ""),
                         deadline_days=str(data.get("deadline_days") or ""), indicators=indicators, sections=sections)


@post("/leercyclus/contracten/{contract_id:int}/sjabloon", guards=[TEMPLATE_GUARD], include_in_schema=False)
async def save_template(request: Request[Actor, Any, Any], contract_id: FromPath[int], data: Form
                        ) -> Template | Redirect:
    typed = _template_input(data)
    try:
        saved = await service.save_template(request.user, contract_id, typed)
    except NotFound:
        raise
    except InvalidInput as exc:
        form = await service.template_form(request.user, contract_id)
        errors = getattr(exc, "errors", None) or [{"field": exc.field, "message": exc.message}]
        current = {"period_kind": typed.period_kind, "deadline_days": typed.deadline_days,
                   "indicators": [row for row in typed.indicators if row["name"].strip()],
                   "sections": [title for title in typed.sections if title.strip()]}
        return _template_page(form, current, errors, status_code=422)
    query = urlencode({"versie": saved["version"]})
    return Redirect(f"/leercyclus/contracten/{contract_id}/sjabloon?{query}", status_code=303)


# --- JSON -----------------------------------------------------------------------------------------


@get("/api/v1/reports", guards=[READ_GUARD], tags=["reports"], responses=READ_ERRORS,
     summary="The learning-cycle reports the caller may read (status and dates; no content)")
async def report_list_api(request: Request[Actor, Any, Any], periode: Text = None) -> dict:
    return await service.list_reports(request.user, _number(periode))


ROUTES = [overview_page, start_report, report_page, save_draft, autosave, submit, return_report, accept_report,
          comment, report_pdf, period_page, period_xlsx, period_csv, template_page, save_template,
          save_underlying_access, report_list_api]
