"""Rights routes: the "Rechten" page per contract and the forms on the case page that record an objection,
its decision and a re-assessment talk. Thin: parse, call one service function, return a template or redirect."""

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import auth
from portal.accounts.rules import Actor, Role
from portal.cases import service as cases_service
from portal.lib.errors import Conflict, DomainError, InvalidInput, NotFound
from portal.lib.formatting import parse_date, parse_id
from portal.rights import service
from portal.rights.schemas import ObjectionDecided, ObjectionFiled, ReassessmentTalk, RightsFilter

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Text = FromQuery[str | None]
RIGHTS_GUARD = auth.requires_roles(service.RIGHTS_ROLES, service.WHAT)
RECORD_GUARD = auth.requires_roles([Role.COORDINATOR], "het vastleggen van bezwaren en herindicaties")
# Per form: the fields an error may point at (else the message is for the form as a whole).
FORM_FIELDS = {
    "objection_filed": frozenset({"filed_on", "note"}),
    "objection_decided": frozenset({"outcome", "decided_on", "note"}),
    "reassessment": frozenset({"outcome", "talk_on", "next_due", "note"}),
}


@get("/rechten", guards=[RIGHTS_GUARD], include_in_schema=False)
async def rights_index(request: Request[Actor, Any, Any]) -> Template | Redirect:
    contracts = await service.list_contracts(request.user)
    if len(contracts) == 1:
        return Redirect(f"/rechten/{contracts[0]['id']}", status_code=303)
    return Template("rights/index.html", context={"contracts": contracts})


@get("/rechten/{contract_id:int}", guards=[RIGHTS_GUARD], include_in_schema=False)
async def rights_page(request: Request[Actor, Any, Any], contract_id: FromPath[int], onderaannemer: Text = None,
                      van: Text = None, tot: Text = None) -> Template:
    filters = RightsFilter(
        subcontractor_id=parse_id(onderaannemer, "onderaannemer", "Kies een onderaannemer uit de lijst."),
        since=parse_date(van, field="van"), until=parse_date(tot, field="tot"))
    overview = await service.rights_overview(request.user, contract_id, filters)
    values = {"onderaannemer": onderaannemer or "", "van": (van or "").strip(), "tot": (tot or "").strip()}
    return Template("rights/contract.html", context={**overview, "values": values})


# --- the case page's forms -------------------------------------------------------------------------------


def _text(data: dict) -> dict[str, str]:
    return {key: str(value).strip() for key, value in data.items() if key != "_csrf_token"}


def _version(text: dict[str, str]) -> int:
    version = parse_id(text.get("version"), "version", "Deze pagina is verouderd; laad de casus opnieuw.")
    if version is None:
        raise InvalidInput("Deze pagina is verouderd; laad de casus opnieuw.", field="version")
    return version


async def _submit(request: Request[Actor, Any, Any], case_id: int, form: str, data: dict,
                  record) -> Template | Redirect:
    text = _text(data)
    try:
        await record(text)
    except NotFound:
        raise
    except DomainError as exc:
        page = await cases_service.case_page(request.user, case_id)
        field = exc.field if exc.field in FORM_FIELDS[form] else None
        values = {key: value for key, value in text.items() if key != "version"}
        form_error = {"action": form, "message": exc.message, "field": field, "values": values,
                      "conflict": isinstance(exc, Conflict)}
        return Template("cases/detail.html", status_code=exc.status_code,
                        context={**page, "notice": None, "form_error": form_error})
    return Redirect(f"/casussen/{case_id}?{urlencode({'gedaan': form})}#rechten", status_code=303)


@post("/casussen/{case_id:int}/bezwaar", guards=[RECORD_GUARD], include_in_schema=False)
async def objection_filed(request: Request[Actor, Any, Any], case_id: FromPath[int], data: Form
                          ) -> Template | Redirect:
    async def record(text: dict[str, str]) -> dict:
        return await service.record_objection(request.user, case_id, ObjectionFiled(
            expected_version=_version(text), filed_on=parse_date(text.get("filed_on"), field="filed_on"),
            note=text.get("note") or None))
    return await _submit(request, case_id, "objection_filed", data, record)


@post("/casussen/{case_id:int}/bezwaar/besluit", guards=[RECORD_GUARD], include_in_schema=False)
async def objection_decided(request: Request[Actor, Any, Any], case_id: FromPath[int], data: Form
                            ) -> Template | Redirect:
    async def record(text: dict[str, str]) -> dict:
        return await service.record_objection_decision(request.user, case_id, ObjectionDecided(
            expected_version=_version(text), outcome=text.get("outcome") or None,
            decided_on=parse_date(text.get("decided_on"), field="decided_on"), note=text.get("note") or None))
    return await _submit(request, case_id, "objection_decided", data, record)


@post("/casussen/{case_id:int}/herindicatie", guards=[RECORD_GUARD], include_in_schema=False)
async def reassessment(request: Request[Actor, Any, Any], case_id: FromPath[int], data: Form) -> Template | Redirect:
    async def record(text: dict[str, str]) -> dict:
        return await service.record_reassessment(request.user, case_id, ReassessmentTalk(
            expected_version=_version(text), outcome=text.get("outcome") or None,
            talk_on=parse_date(text.get("talk_on"), field="talk_on"),
            next_due=parse_date(text.get("next_due"), field="next_due"), note=text.get("note") or None))
    return await _submit(request, case_id, "reassessment", data, record)


ROUTES = [rights_index, rights_page, objection_filed, objection_decided, reassessment]
