"""create_app(settings) -> Litestar: plugins, middleware, and the routers of every area."""

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from portal import __version__
from portal.accounts import api_key_pages, auth
from portal.accounts import controllers as accounts_controllers
from portal.cases import api as cases_api
from portal.cases import controllers as cases_controllers
from portal.contracts import controllers as contracts_controllers
from portal.dashboard import controllers as dashboard_controllers
from portal.dashboard.controllers import home
from portal.db import close_pool, start_pool
from portal.exports import controllers as exports_controllers
from portal.lib import formatting, openapi, request_guards
from portal.lib.errors import DomainError
from portal.lib.fragment_cache import FragmentCacheExtension
from portal.lib.queue import InProcessRunner, ScheduledJob
from portal.ops import controllers as ops_controllers
from portal.ops import outage
from portal.privacy import controllers as privacy_controllers
from portal.privacy.service import check_keys_at_start
from portal.reports import controllers as reports_controllers
from portal.rights import controllers as rights_controllers
from portal.savings import controllers as savings_controllers
from portal.settings import REPO_ROOT, Settings, get_settings
from portal.signals import controllers as signals_controllers

log = logging.getLogger("portal.app")
TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
# Largest request body: a CSV import of 5 MB (portal.lib.csv_import) in a multipart form, with room to spare.
# Larger is refused with 413 before it is read.
REQUEST_MAX_BODY_SIZE = 8 * 1024 * 1024


def _set_up_templates(engine: JinjaTemplateEngine, settings: Settings) -> None:
    env = engine.engine
    # Only a developer edits templates while the portal runs; elsewhere checking every template file's
    # modification time on each render costs about 6% of a process's time.
    env.auto_reload = settings.environment == "development"
    env.add_extension(FragmentCacheExtension)
    env.filters["datum"] = formatting.format_date
    env.filters["datumtijd"] = formatting.format_datetime
    env.filters["euro"] = formatting.format_money
    env.filters["getal"] = formatting.format_number
    env.filters["procent"] = formatting.format_percentage
    env.globals["app_version"] = __version__
    env.globals["current_actor"] = _current_actor


def _current_actor(request: Request):
    """The logged-in actor for the layout (navigation, name, logout), or None on public pages."""
    return request.scope.get("user")


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, status_code: int, message: str, field: str | None = None,
                    code: str | None = None) -> Response:
    if _wants_html(request):
        return Template("error.html", context={"status_code": status_code, "message": message},
                        status_code=status_code)
    body = {"status_code": status_code, "detail": message}
    if field:
        body["field"] = field
    if request.url.path.startswith("/api/"):  # the API's documented error shape (portal.lib.openapi)
        body["code"] = code or openapi.code_for_status(status_code)
    return Response(body, status_code=status_code)


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    return _error_response(request, exc.status_code, exc.message, exc.field, openapi.code_for(exc, exc.status_code))


def validation_error_handler(request: Request, exc: ValidationException) -> Response:
    fields = ", ".join(str(item.get("key")) for item in (exc.extra or []) if isinstance(item, dict) and item.get("key"))
    message = "De invoer is niet geldig" + (f" (controleer: {fields})." if fields else ".")
    return _error_response(request, 400, message)


def not_found_handler(request: Request, exc: NotFoundException) -> Response:
    return _error_response(request, 404, "Deze pagina bestaat niet, of u heeft er geen toegang toe.")


def not_authorized_handler(request: Request, exc: NotAuthorizedException) -> Response:
    """Not logged in (or the session is no longer valid): pages go to the login form, the API answers 401."""
    if _wants_html(request) or (not request.url.path.startswith("/api/") and request.method == "GET"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/inloggen" if target == "/" else "/inloggen?" + urlencode({"volgende": target})
        return Redirect(location, status_code=303)
    return _error_response(request, 401, "U bent niet ingelogd, of uw sessie is verlopen. Log opnieuw in.")


def permission_denied_handler(request: Request, exc: PermissionDeniedException) -> Response:
    message = exc.detail
    if "CSRF" in (exc.detail or ""):
        message = ("Dit formulier is verlopen of niet vanaf Inzicht verstuurd. "
                   "Laad de pagina opnieuw en probeer het nog eens.")
    return _error_response(request, 403, message)


def too_many_requests_handler(request: Request, exc: TooManyRequestsException) -> Response:
    message = ("Te veel verzoeken in korte tijd. Wacht een minuut en probeer het dan opnieuw."
               if request.url.path.startswith("/api/") else
               "Te veel pogingen vanaf dit adres. Wacht een minuut en probeer het dan opnieuw.")
    response = _error_response(request, 429, message)
    response.headers.update(exc.headers or {})
    return response


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    """Framework errors (413, 405, 415, a malformed form...): their English detail becomes a Dutch message."""
    message = openapi.FRAMEWORK_MESSAGES.get(exc.status_code)
    if message is None:
        return _error_response(request, exc.status_code, exc.detail)
    max_mb = REQUEST_MAX_BODY_SIZE // (1024 * 1024)
    return _error_response(request, exc.status_code, message.format(max_mb=max_mb))


# Input that the database refuses and no check caught (a number beyond its column, a NUL byte in text): the
# person gets a 422 with a Dutch message, never a 500. (asyncpg's client-side DataError is an InterfaceError,
# which would otherwise count as "database unavailable".)
INVALID_DATA: tuple[type[Exception], ...] = (OverflowError, asyncpg.exceptions.DataError,
                                            asyncpg.exceptions._base.DataError)


def invalid_data_handler(request: Request, exc: Exception) -> Response:
    log.warning("input refused by the database on %s: %s", request.url.path, type(exc).__name__)
    return _error_response(request, 422, "Een getal of tekst in uw invoer past niet in Inzicht (te groot, te lang "
                                         "of met een ongeldig teken). Controleer de invoer en probeer het opnieuw.")


def database_unavailable_handler(request: Request, exc: Exception) -> Response:
    """The database went away under the request: 503 with a Dutch message, never a 500 (see portal.ops.outage)."""
    if not outage.is_unavailable(exc):  # a client-side driver error is a bug: a 500, logged with its trace
        log.error("database client error on %s", request.url.path, exc_info=exc)
        return _error_response(request, 500, "Er ging iets mis in Inzicht. Probeer het opnieuw; blijft het "
                                             "misgaan, meld het dan bij de beheerder.")
    outage.note(exc, request.url.path)
    response = _error_response(request, 503, outage.MESSAGE)
    response.headers["retry-after"] = str(outage.RETRY_AFTER_SECONDS)
    return response


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar):
        await start_pool(settings)
        await check_keys_at_start(settings)  # the pseudonym keys must be the ones the database was made with
        runner = None
        if not settings.redis_url and settings.environment != "test":
            from workers.settings import SCHEDULE

            runner = InProcessRunner([ScheduledJob(job, seconds) for job, seconds in SCHEDULE.items()])
            await runner.start()
        try:
            yield
        finally:
            if runner:
                await runner.stop()
            await close_pool()

    return Litestar(
        route_handlers=[
            home,
            *ops_controllers.ROUTES,
            *accounts_controllers.ROUTES,
            *api_key_pages.ROUTES,
            *cases_controllers.ROUTES,
            *contracts_controllers.ROUTES,
            *reports_controllers.ROUTES,
            *cases_api.ROUTES,
            *savings_controllers.ROUTES,
            *signals_controllers.ROUTES,
            *exports_controllers.ROUTES,
            *dashboard_controllers.ROUTES,
            *rights_controllers.ROUTES,
            *privacy_controllers.ROUTES,
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
        ],
        template_config=TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine,
                                       engine_callback=lambda engine: _set_up_templates(engine, settings)),
        lifespan=[lifespan],
        state=State({"settings": settings}),
        stores=auth.stores(),
        on_app_init=[auth.session_auth(settings).on_app_init],
        # CSRF as middleware (not csrf_config=): requests authenticated by an API key are exempt, see auth.py
        middleware=[auth.login_rate_limit(settings).middleware, auth.api_rate_limit(settings).middleware,
                    auth.csrf_middleware(settings)],
        exception_handlers={
            DomainError: domain_error_handler,
            NotAuthorizedException: not_authorized_handler,
            PermissionDeniedException: permission_denied_handler,
            TooManyRequestsException: too_many_requests_handler,
            ValidationException: validation_error_handler,
            NotFoundException: not_found_handler,
            HTTPException: http_error_handler,
            **{error: database_unavailable_handler for error in outage.DATABASE_UNAVAILABLE},
            **{error: invalid_data_handler for error in INVALID_DATA},
        },
        openapi_config=OpenAPIConfig(title="Inzicht API", version=__version__, path="/api/schema"),
        plugins=[openapi.StrictStructSchemaPlugin()],
        request_max_body_size=REQUEST_MAX_BODY_SIZE,
        before_request=request_guards.refuse_nul_characters,
        debug=False,
    )
