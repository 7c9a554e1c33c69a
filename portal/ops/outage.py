"""When the database goes away under a request (a restart, a fail-over, a network cut).

The request's transaction is rolled back by PostgreSQL (nothing half-written: a case and its event commit
together or not at all) and the person gets a 503 with a Dutch message instead of a 500. asyncpg already
replaces pooled connections that the server closed (a restart); the pool is also told to expire all its
connections, for breaks the pool cannot see (a network cut, a fail-over to another host), so the requests
after the outage get fresh connections instead of failing one by one."""

import asyncio
import logging

import asyncpg
import asyncpg.exceptions

log = logging.getLogger("portal.outage")

MESSAGE = ("Inzicht kan de database op dit moment niet bereiken. Probeer het over een minuut opnieuw en kijk "
           "daarna of uw laatste wijziging is opgeslagen.")
RETRY_AFTER_SECONDS = 30

# Errors that mean "the database cannot be reached now", never "this request was wrong".
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # the connection broke (ConnectionDoesNotExistError and friends)
    asyncpg.exceptions.AdminShutdownError,  # 57P01: the server is shutting down or restarting
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: the server is starting up
    asyncpg.InterfaceError,  # "connection is closed" and the like
    ConnectionError,  # refused or reset while connecting (OSError family)
    TimeoutError,
)

_pending: set[asyncio.Task] = set()


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (one of ``DATABASE_UNAVAILABLE``) means a lost connection. asyncpg's plain InterfaceError
    also covers client-side misuse ("another operation is in progress"): that is a bug, not an outage."""
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, asyncpg.PostgresConnectionError):
        return "closed" in str(exc).lower()
    return isinstance(exc, DATABASE_UNAVAILABLE)


def reset_pool() -> None:
    """Let the PostgreSQL pool replace every connection it holds at the next acquire (no-op on SQLite)."""
    from piccolo.engine.postgres import PostgresEngine

    from portal.db import engine

    db = engine()
    if not isinstance(db, PostgresEngine) or db.pool is None:
        return
    task = asyncio.get_running_loop().create_task(db.pool.expire_connections())
    _pending.add(task)  # keep a reference until it is done
    task.add_done_callback(_pending.discard)


def note(exc: BaseException, path: str) -> None:
    log.warning("database unavailable during %s: %s: %s", path, type(exc).__name__, exc)
    reset_pool()
