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

from evcharging.config import DatabaseSettings

log = logging.getLogger(__name__)

Connection = MySQLConnectionAbstract | PooledMySQLConnection


def connect(settings: DatabaseSettings, attempts: int = 30, delay: float = 1.0) -> Connection:
    """Open a connection, retrying while the database is starting or restarting."""
    for attempt in range(1, attempts + 1):
        try:
            return mysql.connector.connect(
                host=settings.host,
                port=settings.port,
                user=settings.user,
                password=settings.password,
                database=settings.database,
                autocommit=True,
                connection_timeout=5,
            )
        except mysql.connector.Error as error:
            if attempt == attempts:
                raise
            log.warning("database not reachable (%s); retry %d/%d", error.msg, attempt, attempts)
            time.sleep(delay)
    raise AssertionError("unreachable")


@contextmanager
def cursor(connection: Connection) -> Iterator[Any]:
    """A dictionary cursor, closed afterwards."""
    cur = connection.cursor(dictionary=True)
    try:
        yield cur
    finally:
        cur.close()
