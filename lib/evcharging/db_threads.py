"""Database work for the event loop (and for threaded code): run on threads that own
their connections, under the one retry policy of evcharging.db_retry.

mysql-connector blocks, and a connection is not thread-safe. So a DatabaseThreads
owns a few threads (one keeps the work in order: central-stream's writes; several
serve concurrent lookups: central-auth), each with its own connection, opened
when first needed and opened again when lost. A unit of work is a function of a
dictionary cursor; it runs on one of those threads and its result, or its
exception, comes back to the caller:

    database = DatabaseThreads(settings, threads=8, give_up_after=2.0)
    row = await database.run(lambda cur: find_one(cur, cp_id))   # from the event loop
    rows = database.call(load_all)                                # from a thread (Flask)

A unit of work that fails in a way worth retrying (db_retry.worth_retrying) is run
again on a new connection: once at once — a connection closed while idle costs no
wait — then with growing waits, until it works or `give_up_after` seconds have
passed (DatabaseUnavailable; None waits for ever, as central-stream does so it
loses nothing while MariaDB restarts). Refused credentials raise DatabaseRefused,
any other error is the caller's, unchanged. The usual call (the connection is
there and the work succeeds) costs one function call more than the work itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import mysql.connector

from evcharging.config import DatabaseSettings
from evcharging.db import Connection, Cursor, cursor, open_connection
from evcharging.db_retry import Transient, until_it_works, worth_retrying

log = logging.getLogger(__name__)
T = TypeVar("T")

Work = Callable[[Cursor], T]
"""A unit of work: statements on one cursor, safe to run again (it may be, after a failure)."""


class DatabaseThreads:
    """Runs units of work on `threads` threads of its own, each with its own connection."""

    def __init__(
        self,
        settings: DatabaseSettings,
        *,
        threads: int = 1,
        give_up_after: float | None = None,
        prepare: Callable[[Cursor], None] | None = None,
        name: str = "db",
        connect: Callable[[DatabaseSettings], Connection] = open_connection,
    ) -> None:
        """`prepare` runs on every new connection before any work (a schema check);
        `connect` opens one connection, once (a fake in unit tests)."""
        self._settings = settings
        self._give_up_after = give_up_after
        self._prepare = prepare
        self._connect = connect
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._local = threading.local()
        self._open: set[Connection] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()

    async def run(self, work: Work[T]) -> T:
        """Run `work` on one of the threads and return its result to the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run_here, work)

    def call(self, work: Work[T]) -> T:
        """Run `work` on one of the threads and wait for it: for callers that are threads."""
        return self._executor.submit(self._run_here, work).result()

    def close(self) -> None:
        """Stop retrying, wait for the work under way, close every connection."""
        self._closing.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            _close(connection)

    # --- on the database threads ----------------------------------------------------

    def _run_here(self, work: Work[T]) -> T:
        try:
            return self._attempt(work)  # the usual case: no retry machinery at all
        except Transient as failure:
            log.warning("database connection lost (%s); reconnecting", failure.error)
        return until_it_works(partial(self._attempt, work), self._give_up_after, self._closing)

    def _attempt(self, work: Work[T]) -> T:
        """Run `work` once on this thread's connection (opened if there is none); raise
        Transient, the connection dropped, when the failure is worth another try."""
        connection: Connection | None = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = self._connection()
            with cursor(connection) as cur:
                return work(cur)
        except mysql.connector.Error as error:
            if not worth_retrying(error, partial(_answers, connection)):
                raise
            self._forget(connection)
            raise Transient(error) from error

    def _connection(self) -> Connection:
        connection = self._connect(self._settings)
        if self._prepare is not None:
            try:
                with cursor(connection) as cur:
                    self._prepare(cur)
            except BaseException:
                _close(connection)
                raise
        with self._lock:
            self._open.add(connection)
        self._local.connection = connection
        return connection

    def _forget(self, connection: Connection | None) -> None:
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._open.discard(connection)
            _close(connection)


def _answers(connection: Connection | None) -> bool:
    """Whether the connection still answers a ping (asked only after an error)."""
    if connection is None:
        return False
    try:
        return bool(connection.is_connected())
    except mysql.connector.Error:
        return False


def _close(connection: Connection) -> None:
    with contextlib.suppress(mysql.connector.Error):  # it is gone either way
        connection.close()
