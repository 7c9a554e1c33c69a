from dataclasses import asdict

from litestar import Response, get
from litestar.datastructures import State

from portal.ops import service


@get("/health/live", tags=["ops"], summary="Liveness: the process answers (no database; for load balancers)")
async def liveness() -> dict:
    return {"status": "ok"}


@get("/health", tags=["ops"], summary="Health of the portal, its database and (when configured) Redis")
async def health(state: State) -> Response[dict]:
    checks = [await service.check_database()]
    redis_check = await service.check_redis(state.settings.redis_url)
    if redis_check:
        checks.append(redis_check)
    healthy = all(check.ok for check in checks)
    body = {"status": "ok" if healthy else "unavailable", "checks": [asdict(check) for check in checks]}
    return Response(body, status_code=200 if healthy else 503)


ROUTES = [liveness, health]
