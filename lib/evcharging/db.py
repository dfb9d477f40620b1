"""MariaDB access shared by the services: connections that come back after a
database restart, and the parametrised queries every service may need.

Only parametrised SQL here and in the services: values never enter a query's text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mysql.connector
from mysql.connector.abstracts import MySQLConnectionAbstract
from mysql.connector.pooling import PooledMySQLConnection

from evcharging import health
from evcharging.config import DatabaseSettings

log = logging.getLogger(__name__)

Connection = MySQLConnectionAbstract | PooledMySQLConnection

ACCESS_DENIED = frozenset({1044, 1045, 1698})
"""MariaDB's 'access denied' errors: to the database, for the user/password, by the auth plugin."""


class DatabaseRefused(mysql.connector.ProgrammingError):
    """MariaDB refused these credentials: retrying soon will not help, a person must act."""


def refusal_text(settings: DatabaseSettings, error: mysql.connector.Error) -> str:
    return (
        f"the database at {settings.host}:{settings.port} refuses user '{settings.user}' "
        f"({error.msg}): DB_PASSWORD does not match the one its data volume was created with; "
        "put back the .env that created the volume, or 'make clean' to start afresh"
    )


class _Refusals:
    """Says a refusal once (log and health), not once per retry; says when it is over."""

    def __init__(self) -> None:
        self.said: str | None = None

    def refused(self, text: str) -> None:
        if text != self.said:
            log.error("%s", text)
            health.report_problem(text)
            self.said = text

    def accepted(self) -> None:
        if self.said is not None:
            log.info("the database accepts our credentials now")
            health.clear_problem()
            self.said = None


_refusals = _Refusals()


def connect(settings: DatabaseSettings, attempts: int = 30, delay: float = 1.0) -> Connection:
    """Open a connection, retrying while the database is starting or restarting.

    Raises DatabaseRefused at once when the credentials are refused: that is not
    a restart to wait out.
    """
    for attempt in range(1, attempts + 1):
        try:
            connection = mysql.connector.connect(
                host=settings.host,
                port=settings.port,
                user=settings.user,
                password=settings.password,
                database=settings.database,
                autocommit=True,
                connection_timeout=5,
                # The C extension or nothing: ImportError rather than a silent fall back to
                # the pure-Python protocol (docs/operations.md, "MySQL C extension").
                use_pure=False,
            )
        except mysql.connector.Error as error:
            if error.errno in ACCESS_DENIED:
                text = refusal_text(settings, error)
                _refusals.refused(text)
                raise DatabaseRefused(msg=text, errno=error.errno) from None
            if attempt == attempts:
                raise
            log.warning("database not reachable (%s); retry %d/%d", error.msg, attempt, attempts)
            time.sleep(delay)
        else:
            _refusals.accepted()
            return connection
    raise AssertionError("unreachable")


def await_access(settings: DatabaseSettings, every: float = 5.0) -> None:
    """Return once the database accepts our credentials; wait quietly while it refuses them.

    A service that starts with credentials the database refuses would otherwise
    crash, restart and print a traceback each time. It waits instead, with the
    reason said once in its log and in its health (see `connect`). Any other
    error (the database is still starting) is left to the service's own retries.
    """
    while True:
        try:
            connect(settings, attempts=1).close()
        except DatabaseRefused:
            time.sleep(every)
        except mysql.connector.Error:
            return
        else:
            return


@contextmanager
def cursor(connection: Connection) -> Iterator[Any]:
    """A dictionary cursor, closed afterwards."""
    cur = connection.cursor(dictionary=True)
    try:
        yield cur
    finally:
        cur.close()
