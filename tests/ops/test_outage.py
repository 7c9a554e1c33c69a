"""Which driver errors mean "the database cannot be reached" (503 in Dutch) and which are bugs (500). The 503
itself is proven against real processes and a restarted PostgreSQL in tests/production/test_faults.py."""

import asyncpg
import pytest

from portal.app import create_app
from portal.ops import outage


@pytest.mark.parametrize(("error", "unavailable"), [
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
    (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
    (asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"), True),
    (ConnectionRefusedError(111, "Connect call failed"), True),
    (TimeoutError(), True),
    (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), False),
])
def test_lost_connections_are_an_outage_and_client_misuse_is_not(error, unavailable):
    assert outage.is_unavailable(error) is unavailable


def test_the_app_maps_every_outage_error_to_the_outage_handler():
    handlers = create_app().exception_handlers
    for error in outage.DATABASE_UNAVAILABLE:
        assert handlers[error].__name__ == "database_unavailable_handler"
    assert "database" in outage.MESSAGE and "opnieuw" in outage.MESSAGE  # Dutch, says what to do


async def test_resetting_the_pool_is_harmless_without_a_postgres_pool(db):
    outage.reset_pool()  # SQLite, or a pool: never raises
