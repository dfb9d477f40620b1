"""Connections to MariaDB, shared by the services and the tests: opening one, the
refusal of our credentials said once, and the dictionary cursor.

The services do not hold connections themselves: evcharging.db_threads runs their
work on connections of its own, under the retry policy of evcharging.db_retry.
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
from evcharging.db_retry import ACCESS_DENIED, Transient, until_it_works, worth_retrying

log = logging.getLogger(__name__)

Connection = MySQLConnectionAbstract | PooledMySQLConnection
Cursor = Any
"""A dictionary cursor (see `cursor`): mysql-connector's own types describe rows as
tuples or dictionaries of a union, which every query would have to narrow again."""


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


def open_connection(settings: DatabaseSettings) -> Connection:
    """Open one connection, once. Raises DatabaseRefused when the credentials are
    refused (said once, in the log and the health), and mysql-connector's error for
    anything else; evcharging.db_retry decides what is worth another try."""
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
        raise
    _refusals.accepted()
    return connection


def connect(settings: DatabaseSettings, give_up_after: float | None = 30.0) -> Connection:
    """Open a connection, retrying while the database is starting or restarting
    (evcharging.db_retry's policy); DatabaseUnavailable after `give_up_after` seconds.
    For tests and tools: the services' connections belong to evcharging.db_threads.

    Raises DatabaseRefused at once when the credentials are refused: that is not
    a restart to wait out.
    """

    def attempt() -> Connection:
        try:
            return open_connection(settings)
        except mysql.connector.Error as error:
            if worth_retrying(error, still_connected=lambda: False):  # there is no connection yet
                raise Transient(error) from error
            raise

    return until_it_works(attempt, give_up_after)


def await_access(settings: DatabaseSettings, every: float = 5.0) -> None:
    """Return once the database accepts our credentials; wait quietly while it refuses them.

    A service that starts with credentials the database refuses would otherwise
    crash, restart and print a traceback each time. It waits instead, with the
    reason said once in its log and in its health (see `open_connection`). Any other
    error (the database is still starting) is left to the service's own retries.
    """
    while True:
        try:
            open_connection(settings).close()
        except DatabaseRefused:
            time.sleep(every)
        except mysql.connector.Error:
            return
        else:
            return


@contextmanager
def cursor(connection: Connection) -> Iterator[Cursor]:
    """A dictionary cursor, closed afterwards."""
    cur = connection.cursor(dictionary=True)
    try:
        yield cur
    finally:
        cur.close()
