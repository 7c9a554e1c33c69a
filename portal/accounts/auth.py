"""Web plumbing for accounts: server-side sessions in the database, session auth giving ``request.user``
(an :class:`Actor`), a fresh session id at login, CSRF, login rate limiting and role guards.

Sessions carry ``uid`` and ``gen`` (the user's ``session_generation`` when issued); a session whose
generation is outdated ("logout everywhere") or whose person was deactivated is refused and cleared.
"""

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.security.session_auth import SessionAuth, SessionAuthMiddleware
from litestar.types import Empty, Receive, Scope, Send

from portal.accounts import api_keys, policy, service
from portal.accounts.rules import Actor, Role
from portal.accounts.store import DatabaseStore
from portal.settings import Settings

SESSION_COOKIE = "inzicht_sessie"
CSRF_COOKIE = "inzicht_csrf"
SESSION_MAX_AGE = 8 * 60 * 60  # a working day
PENDING_LOGIN_MAX_AGE = 5 * 60  # between password and second factor
_ROTATE_KEY = "portal.new_session_id"
_LOADED_KEY = "portal.session_as_loaded"
# Litestar writes the session back after every request. Unchanged, it is written (and its expiry renewed) at
# most this often: a database write per page view would cost more than the page itself.
SESSION_RENEW_INTERVAL = 10 * 60
RENEWED_KEY = "renewed"

# Reachable without a session. Everything else requires a logged-in actor (deny by default).
PUBLIC_PATHS = ["^/health", "^/static/", "^/api/schema", "^/inloggen"]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar keeps whatever session id the client sends; at login we must issue a new one (session
    fixation). ``rotate_session`` puts a fresh id in the scope; the cookie and the store then use it."""

    def get_session_id(self, connection: ASGIConnection) -> str:
        fresh = connection.scope.get(_ROTATE_KEY)  # type: ignore[call-overload]
        return fresh or super().get_session_id(connection)

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        connection.scope[_LOADED_KEY] = dict(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(self, scope_session: Any, message: Any, connection: ASGIConnection) -> None:
        # Litestar would store an empty session for every anonymous request (health checks, static files),
        # and "deletes" a cookie with Max-Age still set, so browsers keep a "null" cookie. An empty session
        # is no session: nothing is stored, and a session the client still holds is removed with its cookie.
        if scope_session is not Empty and scope_session:
            if not session_needs_writing(scope_session, connection.scope.get(_LOADED_KEY), time.time(),
                                         rotated=_ROTATE_KEY in connection.scope):
                return
            scope_session[RENEWED_KEY] = int(time.time())
            await super().store_in_message(scope_session, message, connection)
            return
        held = connection.cookies.get(self.config.key)
        if not held:
            return
        if held != "null":
            await self.delete(held, store=self.config.get_store_from_app(connection.scope["app"]))
        expired = Cookie(key=self.config.key, value="", max_age=0, expires=0, path=self.config.path,
                         domain=self.config.domain, secure=self.config.secure, httponly=self.config.httponly,
                         samesite=self.config.samesite)
        MutableScopeHeaders.from_message(message).add("Set-Cookie", expired.to_header(header=""))


def session_needs_writing(session: dict[str, Any], as_loaded: dict[str, Any] | None, now: float, *,
                          rotated: bool) -> bool:
    """A new, rotated or changed session is written; an unchanged one only when its last renewal is older
    than :data:`SESSION_RENEW_INTERVAL` (so an active session still slides, with ten minutes' grain)."""
    if rotated or as_loaded is None or session != as_loaded:
        return True
    renewed = session.get(RENEWED_KEY)
    return not isinstance(renewed, int) or now - renewed >= SESSION_RENEW_INTERVAL


@dataclass
class PortalSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def cookies_secure(settings: Settings) -> bool:
    return settings.environment not in ("development", "test")


def session_config(settings: Settings) -> PortalSessionConfig:
    return PortalSessionConfig(
        key=SESSION_COOKIE, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
        secure=cookies_secure(settings), store="sessions", renew_on_access=False,
        exclude=["^/static/", "^/health"],  # no session lookup for static files and health checks
    )


def client_address(connection: ASGIConnection) -> str | None:
    return connection.client.host if connection.client else None


async def retrieve_actor(session: dict[str, Any], connection: ASGIConnection) -> Actor | None:
    user_id, generation = session.get("uid"), session.get("gen")
    if not isinstance(user_id, int) or not isinstance(generation, int):
        return None
    return await service.actor_for_session(user_id, generation, client_address(connection))


# --- machine access: `Authorization: Bearer <key>` on the JSON API ------------------------------------
API_PATH_PREFIX = "/api/v1/"


@dataclass(frozen=True)
class ApiKeyAuth:
    """``request.auth`` of a request authenticated by an API key (not by the session cookie)."""

    prefix: str


def bearer_key(connection: ASGIConnection) -> str | None:
    """The key of an ``Authorization: Bearer`` header on a JSON API path, else None."""
    if not connection.scope["path"].startswith(API_PATH_PREFIX):
        return None
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("malformed Authorization header")
    return key.strip()


class SessionOrApiKeyAuthMiddleware(SessionAuthMiddleware):
    """The session, or on ``/api/v1/`` an API key. A request that carries a bearer key is authenticated by that
    key alone (an unknown or revoked key is 401, never a fall-back to a cookie the client also sends), so a
    bearer request cannot ride on a browser's ambient cookie: that is what makes it safe to skip CSRF for it."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        key = bearer_key(connection)
        if key is None:
            return await super().authenticate_request(connection)
        actor = await api_keys.actor_for_key(key, client_address(connection))
        if actor is None:
            raise NotAuthorizedException("unknown or revoked API key")
        return AuthenticationResult(user=actor, auth=ApiKeyAuth(prefix=key[:api_keys.SHOWN_PREFIX_LENGTH]))


def session_auth(settings: Settings) -> SessionAuth:
    return SessionAuth[Actor, RotatingSessionBackend](
        retrieve_user_handler=retrieve_actor,
        session_backend_config=session_config(settings),
        exclude=PUBLIC_PATHS,
        authentication_middleware_class=SessionOrApiKeyAuthMiddleware,
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    assert settings.secret_key is not None
    return CSRFConfig(
        secret=settings.secret_key.get_secret_value(), cookie_name=CSRF_COOKIE, cookie_secure=cookies_secure(settings),
        cookie_httponly=True, cookie_samesite="lax", exclude=["^/health", "^/api/schema"],
    )


class PortalCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, except for requests authenticated by an API key (``ApiKeyAuth``): CSRF protects
    cookie-authenticated browser requests, and a cookie-session POST to the API still needs its token.

    Runs inside the authentication middleware, so ``scope["auth"]`` is known here."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if isinstance(scope.get("auth"), ApiKeyAuth):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    """Add to the app's middleware (after the session auth, which ``on_app_init`` puts first), instead of
    ``Litestar(csrf_config=...)``, whose built-in middleware cannot tell a bearer request from a browser."""
    return DefineMiddleware(PortalCSRFMiddleware, config=csrf_config(settings))


def _is_login_attempt(request: Any) -> bool:
    return request.method == "POST" and request.url.path.startswith("/inloggen")


def login_rate_limit(settings: Settings) -> RateLimitConfig:
    """Per client address, only on the login forms (the per-account lock-out is in the service)."""
    return RateLimitConfig(
        rate_limit=("minute", settings.login_attempts_per_minute), check_throttle_handler=_is_login_attempt,
        store="rate_limit",
    )


def _is_api_request(request: Any) -> bool:
    return request.url.path.startswith(API_PATH_PREFIX)


def _api_client(request: Any) -> str:
    """Per person (an API key acts as its person, so all of one person's keys and sessions share the budget);
    runs inside the authentication, so an anonymous request never gets here on /api/v1/."""
    user = request.scope.get("user")
    if isinstance(user, Actor):
        return f"user-{user.user_id}"
    return f"address-{client_address(request) or '?'}"


def api_rate_limit(settings: Settings) -> RateLimitConfig:
    """The JSON API: ``api_requests_per_minute`` per person; more get 429 with RateLimit-* headers."""
    return RateLimitConfig(
        rate_limit=("minute", settings.api_requests_per_minute), check_throttle_handler=_is_api_request,
        identifier_for_request=_api_client, store="api_rate_limit",
    )


def stores() -> dict[str, DatabaseStore]:
    return {"sessions": DatabaseStore("sessions"), "rate_limit": DatabaseStore("rate_limit"),
            "api_rate_limit": DatabaseStore("api_rate_limit")}


# --- the session at login and logout ---------------------------------------------------------------


async def rotate_session(connection: ASGIConnection) -> None:
    """Forget the session the client came with (its id and its data) and issue a new id."""
    old_id = connection.cookies.get(SESSION_COOKIE)
    store = connection.app.stores.get("sessions")
    if old_id:
        await store.delete(old_id)
    connection.scope[_ROTATE_KEY] = secrets.token_hex(32)  # type: ignore[literal-required]
    connection.scope["session"] = {}
    if isinstance(store, DatabaseStore) and secrets.randbelow(20) == 0:
        await store.delete_expired()  # housekeeping now and then: expired sessions and counters


async def start_session(connection: ASGIConnection, user_id: int, generation: int) -> None:
    await rotate_session(connection)
    connection.scope["session"] = {"uid": user_id, "gen": generation, "at": int(time.time())}


async def start_pending_login(connection: ASGIConnection, user_id: int, generation: int, enrol_secret: str | None
                              ) -> None:
    """Password accepted, second factor still to come: the session is not a login yet."""
    await rotate_session(connection)
    connection.scope["session"] = {
        "pending_uid": user_id, "pending_gen": generation, "pending_at": int(time.time()),
        "pending_secret": enrol_secret,
    }


def pending_login(session: dict[str, Any]) -> tuple[int, int, str | None] | None:
    user_id, generation, since = session.get("pending_uid"), session.get("pending_gen"), session.get("pending_at")
    if not (isinstance(user_id, int) and isinstance(generation, int) and isinstance(since, int)):
        return None
    if time.time() - since > PENDING_LOGIN_MAX_AGE:
        return None
    return user_id, generation, session.get("pending_secret")


# --- guards: authorize the role before any lookup (403) --------------------------------------------


def requires_roles(roles: Iterable[Role], what: str):
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        policy.require_role(connection.user, allowed, what)

    return guard


def safe_next(target: str | None) -> str:
    """Only a local path may follow the login (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
