"""Login, second factor, logout, the account page, Beheer (organisations, users) and the audit trail page."""

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.accounts import audit, auth, service
from portal.accounts.rules import ROLE_LABELS, Actor, OrganisationKind, Role
from portal.accounts.schemas import OrganisationInput, UserInput, parse
from portal.lib.errors import InvalidInput
from portal.lib.formatting import parse_date

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
ADMIN_GUARD = auth.requires_roles([Role.ADMIN], "Beheer")
AUDIT_GUARD = auth.requires_roles([Role.CONTRACT_MANAGER], "de audittrail")
PUBLIC = {"exclude_from_auth": True}


def _login_page(next_path: str, error: str | None = None, email: str = "", notice: str | None = None,
                status_code: int = 200) -> Template:
    errors = [{"field": "email", "message": error}] if error else []
    return Template("accounts/login.html", status_code=status_code,
                    context={"errors": errors, "email": email, "next": next_path, "notice": notice})


LOGOUT_NOTICES = {"1": "U bent uitgelogd.", "overal": "U bent uitgelogd op al uw apparaten."}


@get("/inloggen", opt=PUBLIC, include_in_schema=False)
async def login_form(volgende: FromQuery[str | None] = None, uitgelogd: FromQuery[str | None] = None) -> Template:
    return _login_page(auth.safe_next(volgende), notice=LOGOUT_NOTICES.get(uitgelogd or ""))


@post("/inloggen", opt=PUBLIC, include_in_schema=False)
async def login(request: Request, data: Form) -> Template | Redirect:
    email, next_path = str(data.get("email", "")), auth.safe_next(data.get("volgende"))
    outcome = await service.authenticate(email, str(data.get("password", "")), auth.client_address(request))
    if outcome.step is service.LoginStep.DONE:
        await auth.start_session(request, outcome.user_id, outcome.session_generation)
        return Redirect(next_path, status_code=303)
    if outcome.step in (service.LoginStep.SECOND_FACTOR, service.LoginStep.ENROL_SECOND_FACTOR):
        secret = service.new_totp_secret() if outcome.step is service.LoginStep.ENROL_SECOND_FACTOR else None
        await auth.start_pending_login(request, outcome.user_id, outcome.session_generation, secret)
        return Redirect("/inloggen/tweede-stap", status_code=303)
    return _login_page(next_path, outcome.message, email, status_code=400)


def _second_factor_page(email_hint: str | None, secret: str | None, error: str | None = None,
                        status_code: int = 200) -> Template:
    context = {
        "errors": [{"field": "code", "message": error}] if error else [],
        "secret": secret,
        "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) if secret else None,
        "uri": service.totp_uri(secret, email_hint or "") if secret else None,
    }
    return Template("accounts/second_factor.html", context=context, status_code=status_code)


@get("/inloggen/tweede-stap", opt=PUBLIC, include_in_schema=False)
async def second_factor_form(request: Request) -> Template | Redirect:
    pending = auth.pending_login(request.session)
    if pending is None:
        return Redirect("/inloggen", status_code=303)
    return _second_factor_page(None, pending[2])


@post("/inloggen/tweede-stap", opt=PUBLIC, include_in_schema=False)
async def second_factor(request: Request, data: Form) -> Template | Redirect:
    pending = auth.pending_login(request.session)
    if pending is None:
        return _login_page("/", "Uw inlogpoging is verlopen. Log opnieuw in.", status_code=400)
    user_id, generation, secret = pending
    outcome = await service.complete_second_factor(user_id, generation, str(data.get("code", "")),
                                                   auth.client_address(request), new_secret=secret)
    if outcome.step is service.LoginStep.DONE:
        await auth.start_session(request, user_id, generation)
        return Redirect("/", status_code=303)
    if outcome.step is service.LoginStep.LOCKED:
        request.clear_session()
        return _login_page("/", service.LOCKED_MESSAGE, status_code=400)
    return _second_factor_page(None, secret, service.WRONG_CODE_MESSAGE, status_code=400)


@post("/uitloggen", include_in_schema=False)
async def logout(request: Request[Actor, Any, Any]) -> Redirect:
    await service.logout(request.user)
    request.clear_session()
    return Redirect("/inloggen?uitgelogd=1", status_code=303)


@post("/uitloggen/overal", include_in_schema=False)
async def logout_everywhere(request: Request[Actor, Any, Any]) -> Redirect:
    await service.logout_everywhere(request.user)
    request.clear_session()
    return Redirect("/inloggen?uitgelogd=overal", status_code=303)


@get("/account", include_in_schema=False)
async def account(request: Request[Actor, Any, Any], tweestap: FromQuery[str | None] = None) -> Template:
    return Template("accounts/account.html", context={
        "has_totp": await service.has_second_factor(request.user),
        "notice": "Tweestapsverificatie staat aan." if tweestap == "aan" else None,
    })


@get("/account/tweestapsverificatie", include_in_schema=False)
async def totp_enrol_form(request: Request[Actor, Any, Any]) -> Template:
    secret = service.new_totp_secret()
    request.session["enrol_secret"] = secret
    return _enrol_page(request.user, secret)


def _enrol_page(actor: Actor, secret: str, error: str | None = None, status_code: int = 200) -> Template:
    page = _second_factor_page(actor.email, secret, error, status_code)
    page.template_name = "accounts/totp_enrol.html"
    return page


@post("/account/tweestapsverificatie", include_in_schema=False)
async def totp_enrol(request: Request[Actor, Any, Any], data: Form) -> Template | Redirect:
    secret = request.session.get("enrol_secret")
    if not isinstance(secret, str):
        return Redirect("/account/tweestapsverificatie", status_code=303)
    try:
        await service.enrol_second_factor(request.user, secret, str(data.get("code", "")))
    except InvalidInput as exc:
        return _enrol_page(request.user, secret, exc.message, status_code=422)
    request.session.pop("enrol_secret", None)
    return Redirect("/account?tweestap=aan", status_code=303)


# --- Beheer (admin) ------------------------------------------------------------------------------


async def _admin_page(actor: Actor, *, errors: list[dict] | None = None, form: str | None = None,
                      values: dict | None = None, notice: str | None = None, status_code: int = 200) -> Template:
    return Template("accounts/admin.html", status_code=status_code, context={
        "organisations": await service.list_organisations(actor),
        "users": await service.list_users(actor),
        "kinds": [(kind.value, kind.label) for kind in OrganisationKind],
        "roles": [(role.value, ROLE_LABELS[role]) for role in Role],
        "errors": errors or [], "form": form, "values": values or {}, "notice": notice,
    })


@get("/beheer", guards=[ADMIN_GUARD], include_in_schema=False)
async def admin_index(request: Request[Actor, Any, Any], aangemaakt: FromQuery[str | None] = None) -> Template:
    notice = {"organisatie": "De organisatie is aangemaakt.", "gebruiker": "Het account is aangemaakt.",
              "privacy": "De privacyrol is aangepast."}
    return await _admin_page(request.user, notice=notice.get(aangemaakt or ""))


@post("/beheer/organisaties", guards=[ADMIN_GUARD], include_in_schema=False)
async def create_organisation(request: Request[Actor, Any, Any], data: Form) -> Template | Redirect:
    try:
        await service.create_organisation(request.user, parse(OrganisationInput, data))
    except InvalidInput as exc:
        return await _admin_page(request.user, errors=[{"field": f"org-{exc.field}", "message": exc.message}],
                                 form="organisation", values=data, status_code=422)
    return Redirect("/beheer?aangemaakt=organisatie", status_code=303)


@post("/beheer/gebruikers", guards=[ADMIN_GUARD], include_in_schema=False)
async def create_user(request: Request[Actor, Any, Any], data: Form) -> Template | Redirect:
    try:
        fields = {key: value for key, value in data.items() if key not in ("password", "privacy_officer")}
        fields["privacy_officer"] = data.get("privacy_officer") == "ja"
        await service.create_user(request.user, parse(UserInput, fields), str(data.get("password", "")))
    except InvalidInput as exc:
        values = {key: value for key, value in data.items() if key != "password"}
        return await _admin_page(request.user, errors=[{"field": f"user-{exc.field}", "message": exc.message}],
                                 form="user", values=values, status_code=422)
    return Redirect("/beheer?aangemaakt=gebruiker", status_code=303)


@get("/beheer/audit", guards=[AUDIT_GUARD], include_in_schema=False)
async def audit_trail(request: Request[Actor, Any, Any], persoon: FromQuery[int | None] = None,
                      casus: FromQuery[str | None] = None, van: FromQuery[str | None] = None,
                      tot: FromQuery[str | None] = None) -> Template:
    filters = audit.AuditFilter(user_id=persoon, case_number=(casus or "").strip() or None,
                                date_from=parse_date(van, field="van"), date_to=parse_date(tot, field="tot"))
    result = await audit.list_entries(request.user, filters)
    return Template("accounts/audit.html", context={
        **result, "filters": {"persoon": persoon, "casus": casus or "", "van": van or "", "tot": tot or ""},
        "page_size": audit.AUDIT_PAGE_SIZE,
    })


SECURITY_GUARD = auth.requires_roles([Role.CONTRACT_MANAGER], "de beveiliging van contracten")


@get("/beheer/beveiliging", guards=[SECURITY_GUARD], include_in_schema=False)
async def contract_security(request: Request[Actor, Any, Any], opgeslagen: FromQuery[int | None] = None) -> Template:
    return Template("accounts/security.html", context={
        "contracts": await service.contract_security(request.user), "saved": opgeslagen})


@post("/beheer/beveiliging/{contract_id:int}", guards=[SECURITY_GUARD], include_in_schema=False)
async def set_contract_totp(request: Request[Actor, Any, Any], contract_id: FromPath[int],
                            data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
                            ) -> Redirect:
    choice = data.get("verplicht")
    if choice not in ("ja", "nee"):
        raise InvalidInput("Kies of tweestapsverificatie verplicht is (ja of nee).", field="verplicht")
    await service.set_contract_totp(request.user, contract_id, choice == "ja")
    return Redirect(f"/beheer/beveiliging?opgeslagen={contract_id}", status_code=303)


ROUTES = [login_form, login, second_factor_form, second_factor, logout, logout_everywhere, account,
          totp_enrol_form, totp_enrol, admin_index, create_organisation, create_user, audit_trail,
          contract_security, set_contract_totp]
