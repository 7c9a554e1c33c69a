"""create_app(settings) -> Litestar: plugins, middleware, and the routers of every area."""

from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from portal import __version__
from portal.dashboard.controllers import home
from portal.db import close_pool, start_pool
from portal.lib import formatting
from portal.lib.errors import DomainError
from portal.lib.queue import InProcessRunner, ScheduledJob
from portal.ops.controllers import health
from portal.settings import REPO_ROOT, Settings, get_settings

TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _register_template_globals(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.filters["datum"] = formatting.format_date
    env.filters["datumtijd"] = formatting.format_datetime
    env.filters["euro"] = formatting.format_money
    env.filters["getal"] = formatting.format_number
    env.filters["procent"] = formatting.format_percentage
    env.globals["app_version"] = __version__


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, status_code: int, message: str, field: str | None = None) -> Response:
    if _wants_html(request):
        return Template("error.html", context={"status_code": status_code, "message": message},
                        status_code=status_code)
    body = {"status_code": status_code, "detail": message}
    if field:
        body["field"] = field
    return Response(body, status_code=status_code)


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    return _error_response(request, exc.status_code, exc.message, exc.field)


def validation_error_handler(request: Request, exc: ValidationException) -> Response:
    fields = ", ".join(str(item.get("key")) for item in (exc.extra or []) if isinstance(item, dict) and item.get("key"))
    message = "De invoer is niet geldig" + (f" (controleer: {fields})." if fields else ".")
    return _error_response(request, 400, message)


def not_found_handler(request: Request, exc: NotFoundException) -> Response:
    return _error_response(request, 404, "Deze pagina bestaat niet, of u heeft er geen toegang toe.")


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    return _error_response(request, exc.status_code, exc.detail)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar):
        await start_pool(settings)
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
        route_handlers=[home, health, create_static_files_router(path="/static", directories=[STATIC_DIR])],
        template_config=TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine,
                                       engine_callback=_register_template_globals),
        lifespan=[lifespan],
        state=State({"settings": settings}),
        exception_handlers={
            DomainError: domain_error_handler,
            ValidationException: validation_error_handler,
            NotFoundException: not_found_handler,
            HTTPException: http_error_handler,
        },
        openapi_config=OpenAPIConfig(title="Inzicht API", version=__version__, path="/api/schema"),
        debug=False,
    )
