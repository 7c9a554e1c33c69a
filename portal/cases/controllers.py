"""Case routes, HTML and JSON: thin, each parses its input, calls one service function with the actor and
returns a template, a redirect or a dict."""

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import auth, policy
from portal.accounts.rules import Actor, Role
from portal.cases import service
from portal.cases.rules import NOWHERE, CaseAction, TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.lib.codelists import Domain, ProductCategory, ProvisionType, Urgency
from portal.lib.errors import Conflict, DomainError, InvalidInput, NotFound
from portal.lib.formatting import parse_date, parse_id
from portal.lib.openapi import READ_ERRORS
from portal.lib.pseudonym import validate_bsn

CASE_GUARD = auth.requires_roles(policy.CASE_READER_ROLES, "casussen")
ACTOR_GUARD = auth.requires_roles(policy.CASE_ACTOR_ROLES, "handelingen op casussen")
INTAKE_GUARD = auth.requires_roles([Role.COORDINATOR], "het registreren van meldingen")
BOARD_GUARD = auth.requires_roles([Role.COORDINATOR, Role.CONTRACT_MANAGER], "toewijzen en de wachtlijst")
INBOX_GUARD = auth.requires_roles([Role.SUBCONTRACTOR], "de inbox")

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Text = FromQuery[str | None]
Purpose = FromQuery[str | None]
# After an action the form may send the person back to the page it came from (only these).
RETURN_PAGES = ("/toewijzen", "/wachtlijst", "/inbox")
ACTION_FIELDS = frozenset({"subcontractor_id", "reason_code", "end_reason", "beschikking_issued",
                           "objection_info_given", "referred_to", "note"})


def _filters(status: str | None, zoek: str | None, onderaannemer: str | None, categorie: str | None,
             wijk: str | None, te_laat: str | None, volgorde: str | None, na: str | None,
             contract: str | None = None) -> service.CaseFilter:
    order = service.CaseOrder.NUMBER if volgorde == service.CaseOrder.NUMBER.value else service.CaseOrder.RECENT
    return service.CaseFilter(
        contract_id=parse_id(contract, "contract", "Kies een contract uit de lijst."),
        status=status or None, search=(zoek or "").strip() or None,
        subcontractor_id=parse_id(onderaannemer, "onderaannemer", "Kies een onderaannemer uit de lijst."),
        category=(categorie or "").strip() or None, neighbourhood=(wijk or "").strip() or None,
        overdue=te_laat in ("1", "ja", "on"), order=order, cursor=na or None,
    )


def _filter_values(**values: str | None) -> dict[str, str]:
    return {key: (value or "") for key, value in values.items()}


@get("/casussen", guards=[CASE_GUARD], include_in_schema=False)
async def case_list_page(request: Request[Actor, Any, Any], status: Text = None, zoek: Text = None,
                         onderaannemer: Text = None, categorie: Text = None, wijk: Text = None,
                         te_laat: Text = None, volgorde: Text = None, na: Text = None,
                         contract: Text = None) -> Template:
    filters = _filters(status, zoek, onderaannemer, categorie, wijk, te_laat, volgorde, na, contract)
    result = await service.case_list_page(request.user, filters)
    values = _filter_values(contract=str(filters.contract_id or ""), status=status, zoek=zoek,
                            onderaannemer=onderaannemer, categorie=categorie,
                            wijk=wijk, te_laat="1" if filters.overdue else "", volgorde=filters.order.value)
    query = {key: value for key, value in values.items() if value}
    return Template("cases/list.html", context={
        **result, "filters": values, "first_page": na is None,
        "next_url": "/casussen?" + urlencode({**query, "na": result["next"]}) if result["next"] else None,
        "first_url": "/casussen?" + urlencode(query) if query else "/casussen",
        "statuses": service.CaseStatus.choices(), "categories": ProductCategory.choices(),
    })


@get("/casussen/{case_id:int}", guards=[CASE_GUARD], include_in_schema=False)
async def case_detail_page(request: Request[Actor, Any, Any], case_id: FromPath[int], doel: Purpose = None,
                           gemeld: Text = None, gedaan: Text = None) -> Template:
    page = await service.case_page(request.user, case_id, purpose=doel)
    notice = None
    if gemeld:
        notice = f"De melding is geregistreerd als casus {page['case']['case_number']}."
    elif gedaan:
        try:
            notice = f"Gelukt: '{CaseAction(gedaan).label}' is vastgelegd."
        except ValueError:  # a non-status event (an objection, a re-assessment talk), or nothing known
            label = service.NON_STATUS_EVENT_LABELS.get(gedaan)
            notice = f"Gelukt: '{label}' is vastgelegd." if label else None
    return Template("cases/detail.html", context={**page, "notice": notice, "form_error": None})


# --- registering a melding ---------------------------------------------------------------------------

INTAKE_FIELDS = ("contract_id", "neighbourhood", "domain", "product_category", "urgency", "provision_type",
                 "melding_date", "aanvraag_date", "note")  # everything but the BSN is kept on an error


def _intake_page(form: dict, values: dict, errors: list[dict], status_code: int = 200) -> Template:
    return Template("cases/new.html", status_code=status_code, context={
        **form, "values": values, "errors": errors,
        "domains": Domain.choices(), "categories": ProductCategory.choices(), "urgencies": Urgency.choices(),
        "provisions": ProvisionType.choices(),
    })


def _parse_new_case(data: dict) -> tuple[NewCase | None, list[dict]]:
    """All the form's mistakes at once (the service then checks what needs the database)."""
    errors: list[dict] = []

    def check(field: str, parse):
        try:
            return parse()
        except InvalidInput as exc:
            errors.append({"field": field, "message": exc.message})
            return None

    text = {key: str(data.get(key) or "").strip() for key in (*INTAKE_FIELDS, "bsn")}
    contract_id = check("contract_id", lambda: parse_id(text["contract_id"], "contract_id", "Kies een contract."))
    if contract_id is None and not any(error["field"] == "contract_id" for error in errors):
        errors.append({"field": "contract_id", "message": "Kies het contract waaronder de melding valt."})
    if not text["bsn"]:
        errors.append({"field": "bsn", "message": "Vul het BSN van de inwoner in (9 cijfers)."})
    else:
        check("bsn", lambda: validate_bsn(text["bsn"]))
    if not text["neighbourhood"]:
        errors.append({"field": "neighbourhood", "message": "Vul de wijk in."})
    for field, codes in (("domain", Domain), ("product_category", ProductCategory), ("urgency", Urgency),
                         ("provision_type", ProvisionType)):
        check(field, lambda field=field, codes=codes: codes.parse(text[field], field=field))
    melding = check("melding_date", lambda: parse_date(text["melding_date"], field="melding_date"))
    aanvraag = check("aanvraag_date", lambda: parse_date(text["aanvraag_date"], field="aanvraag_date"))
    if errors:
        return None, errors
    assert contract_id is not None
    return NewCase(contract_id=contract_id, bsn=text["bsn"], neighbourhood=text["neighbourhood"],
                   domain=text["domain"], product_category=text["product_category"], urgency=text["urgency"],
                   provision_type=text["provision_type"], melding_date=melding, aanvraag_date=aanvraag,
                   note=text["note"] or None), []


@get("/casussen/nieuw", guards=[INTAKE_GUARD], include_in_schema=False)
async def intake_page(request: Request[Actor, Any, Any]) -> Template:
    form = await service.intake_form(request.user)
    contracts = form["contracts"]
    values = {"contract_id": str(contracts[0]["id"]) if len(contracts) == 1 else "", "domain": "wmo",
              "urgency": "normal", "provision_type": "individual",
              "melding_date": form["today"].strftime("%d-%m-%Y")}
    return _intake_page(form, values, [])


@post("/casussen/nieuw", guards=[INTAKE_GUARD], include_in_schema=False)
async def intake(request: Request[Actor, Any, Any], data: Form) -> Template | Redirect:
    values = {key: str(data.get(key) or "") for key in INTAKE_FIELDS}  # never the BSN
    new_case, errors = _parse_new_case(data)
    if new_case is not None:
        try:
            created = await service.register_case(request.user, new_case)
        except InvalidInput as exc:
            errors = [{"field": exc.field, "message": exc.message}]
        else:
            return Redirect(f"/casussen/{created['id']}?gemeld=1", status_code=303)
    return _intake_page(await service.intake_form(request.user), values, errors, status_code=422)


# --- acting on a case --------------------------------------------------------------------------------


def _yes_no(value: str, field: str) -> bool | None:
    if value == "ja":
        return True
    if value == "nee":
        return False
    if value:
        raise InvalidInput("Kies ja of nee.", field=field)
    return None


def _command(action: str, data: dict) -> CaseCommand:
    """The form of one action as a command. Missing answers stay None: the lifecycle says what is needed."""
    text = {key: str(value).strip() for key, value in data.items() if key != "_csrf_token"}
    version = parse_id(text.get("version"), "version", "Deze pagina is verouderd; laad de casus opnieuw.")
    if version is None:
        raise InvalidInput("Deze pagina is verouderd; laad de casus opnieuw.", field="version")
    referral = text.get("verwezen", "")
    referred_to: str | object | None = text.get("referred_to") or None
    if referral == "nergens":
        referred_to = NOWHERE
    elif referral == "naar" and not referred_to:
        raise InvalidInput("Vul in waarnaar de inwoner is doorverwezen, of kies 'Nergens naartoe'.",
                           field="referred_to")
    elif referral not in ("", "naar"):
        raise InvalidInput("Geef aan waarnaar de inwoner is doorverwezen, of kies 'nergens'.", field="referred_to")
    payload = TransitionInput(
        subcontractor_id=parse_id(text.get("subcontractor_id"), "subcontractor_id",
                              "Kies de onderaannemer aan wie de toewijzing wordt gevraagd."),
        reason_code=text.get("reason_code") or None, end_reason=text.get("end_reason") or None,
        beschikking_issued=_yes_no(text.get("beschikking_issued", ""), "beschikking_issued"),
        objection_info_given=_yes_no(text.get("objection_info_given", ""), "objection_info_given"),
        referred_to=referred_to,  # type: ignore[arg-type]
        note=text.get("note") or None,
    )
    return CaseCommand(action=action, expected_version=version, payload=payload)


@post("/casussen/{case_id:int}/acties/{action:str}", guards=[ACTOR_GUARD], include_in_schema=False)
async def case_action(request: Request[Actor, Any, Any], case_id: FromPath[int], action: FromPath[str],
                      data: Form) -> Template | Redirect:
    back = str(data.get("terug") or "")
    try:
        await service.act_on_case(request.user, case_id, _command(action, data))
    except NotFound:
        raise
    except DomainError as exc:
        page = await service.case_page(request.user, case_id)
        values = {key: str(value) for key, value in data.items() if key not in ("_csrf_token", "version")}
        field = exc.field if exc.field in ACTION_FIELDS else None  # else: a message for the form as a whole
        form_error = {"action": action, "message": exc.message, "field": field, "values": values,
                      "conflict": isinstance(exc, Conflict)}
        return Template("cases/detail.html", status_code=exc.status_code,
                        context={**page, "notice": None, "form_error": form_error})
    if back in RETURN_PAGES:
        return Redirect(f"{back}?{urlencode({'gedaan': action, 'casus': case_id})}", status_code=303)
    return Redirect(f"/casussen/{case_id}?{urlencode({'gedaan': action})}", status_code=303)


# --- the daily work: allocation board, waiting list, inbox -------------------------------------------


def _done_notice(gedaan: str | None) -> str | None:
    try:
        return f"Gelukt: '{CaseAction(gedaan).label}' is vastgelegd." if gedaan else None
    except ValueError:
        return None


@get("/toewijzen", guards=[BOARD_GUARD], include_in_schema=False)
async def allocation_board_page(request: Request[Actor, Any, Any], contract: Text = None,
                                gedaan: Text = None) -> Template:
    contract_id = parse_id(contract, "contract", "Kies een contract uit de lijst.")
    board = await service.allocation_board(request.user, contract_id)
    return Template("cases/board.html", context={**board, "notice": _done_notice(gedaan)})


@get("/wachtlijst", guards=[BOARD_GUARD], include_in_schema=False)
async def waiting_list_page(request: Request[Actor, Any, Any], contract: Text = None, categorie: Text = None,
                            gedaan: Text = None) -> Template:
    contract_id = parse_id(contract, "contract", "Kies een contract uit de lijst.")
    result = await service.waiting_list(request.user, contract_id, (categorie or "").strip() or None)
    return Template("cases/waiting_list.html", context={**result, "notice": _done_notice(gedaan)})


@get("/inbox", guards=[INBOX_GUARD], include_in_schema=False)
async def inbox_page(request: Request[Actor, Any, Any], gedaan: Text = None) -> Template:
    result = await service.inbox(request.user)
    return Template("cases/inbox.html", context={**result, "notice": _done_notice(gedaan)})


# --- JSON ----------------------------------------------------------------------------------------------


@get("/api/v1/cases", guards=[CASE_GUARD], tags=["cases"], responses=READ_ERRORS,
     summary="The cases the caller may see (keyset pages: pass `next` back as `na`)")
async def case_list_api(request: Request[Actor, Any, Any], status: Text = None, zoek: Text = None,
                        onderaannemer: Text = None, categorie: Text = None, wijk: Text = None,
                        te_laat: Text = None, volgorde: Text = None, na: Text = None,
                        contract: Text = None) -> dict:
    filters = _filters(status, zoek, onderaannemer, categorie, wijk, te_laat, volgorde, na, contract)
    return await service.list_cases(request.user, filters)


@get("/api/v1/cases/{case_id:int}", guards=[CASE_GUARD], tags=["cases"], responses=READ_ERRORS,
     summary="One case and its timeline, as far as the caller may see it (the read is audited)")
async def case_detail_api(request: Request[Actor, Any, Any], case_id: FromPath[int], doel: Purpose = None) -> dict:
    return await service.get_case(request.user, case_id, purpose=doel)


ROUTES = [case_list_page, intake_page, intake, case_detail_page, case_action, allocation_board_page,
          waiting_list_page, inbox_page, case_list_api, case_detail_api]
