"""The `charging_points` rows central-auth reads and writes, over MariaDB.

Every query is parametrised. Calls block, so the server runs them on a small pool
of worker threads, each with its own connection (a mysql-connector connection is
not thread-safe). A connection lost to a database restart is opened again on the
next call; while the database stays away, calls raise StoreUnavailable quickly
enough for the client to get an answer and try again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, ParamSpec, TypeVar

import mysql.connector
from mysql.connector import errorcode

from evcharging import db
from evcharging.config import DatabaseSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class StoreUnavailable(RuntimeError):
    """The database could not be reached (or answered with a connection error)."""


class Registration(Enum):
    CREATED = "created"
    """A new row."""
    ENROLLED = "enrolled"
    """A row that existed without a credential (seeded by the operator) got one."""
    ALREADY_REGISTERED = "already_registered"
    """The row has a credential already; it is left untouched."""


@dataclass(frozen=True)
class StoredCp:
    cp_id: str
    credential_hash: str | None
    auto_provisioned: bool


class CpStore:
    """Blocking access to charging_points; use AsyncCpStore from the event loop."""

    def __init__(self, settings: DatabaseSettings, connect_attempts: int = 2) -> None:
        self._settings = settings
        self._connect_attempts = connect_attempts
        self._local = threading.local()

    def find(self, cp_id: str) -> StoredCp | None:
        rows = self._query(
            "SELECT id, credential_hash, auto_provisioned FROM charging_points WHERE id = %s", (cp_id,)
        )
        return _stored(rows[0]) if rows else None

    def all_ids(self) -> list[str]:
        return [row["id"] for row in self._query("SELECT id FROM charging_points ORDER BY id", ())]

    def with_prefix(self, prefix: str) -> list[StoredCp]:
        rows = self._query(
            "SELECT id, credential_hash, auto_provisioned FROM charging_points"
            " WHERE LEFT(id, CHAR_LENGTH(%s)) = %s",
            (prefix, prefix),
        )
        return [_stored(row) for row in rows]

    def register(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> Registration:
        """Create the CP, or give a credential to a row that has none; never overwrite one."""
        if self.insert(cp_id, location, price, credential_hash, auto_provisioned=False):
            return Registration.CREATED
        changed = self._execute(
            "UPDATE charging_points SET credential_hash = %s, ubicacion = %s, precio_kwh = %s"
            " WHERE id = %s AND credential_hash IS NULL",
            (credential_hash, location, price, cp_id),
        )
        return Registration.ENROLLED if changed else Registration.ALREADY_REGISTERED

    def reissue(
        self, cp_id: str, location: str, price: Decimal, previous_hash: str, credential_hash: str
    ) -> bool:
        """Replace the credential stored as `previous_hash`; False if it is not that one any more."""
        changed = self._execute(
            "UPDATE charging_points SET credential_hash = %s, ubicacion = %s, precio_kwh = %s"
            " WHERE id = %s AND credential_hash = %s",
            (credential_hash, location, price, cp_id, previous_hash),
        )
        return changed > 0

    def insert(
        self, cp_id: str, location: str, price: Decimal, credential_hash: str, auto_provisioned: bool
    ) -> bool:
        """Create a row; False if the id exists already."""
        try:
            self._execute(
                "INSERT INTO charging_points (id, ubicacion, precio_kwh, credential_hash, auto_provisioned)"
                " VALUES (%s, %s, %s, %s, %s)",
                (cp_id, location, price, credential_hash, auto_provisioned),
            )
        except mysql.connector.IntegrityError as error:
            if error.errno == errorcode.ER_DUP_ENTRY:
                return False
            raise
        return True

    def reassign_auto(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> bool:
        """Hand an auto-provisioned id to a new replica: its credential, location and price."""
        changed = self._execute(
            "UPDATE charging_points SET credential_hash = %s, ubicacion = %s, precio_kwh = %s"
            " WHERE id = %s AND auto_provisioned",
            (credential_hash, location, price, cp_id),
        )
        return changed > 0

    # --- connection handling ----------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        def run(connection: db.Connection) -> list[dict[str, Any]]:
            with db.cursor(connection) as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())

        return self._with_connection(run)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> int:
        def run(connection: db.Connection) -> int:
            with db.cursor(connection) as cur:
                cur.execute(sql, params)
                return int(cur.rowcount)

        return self._with_connection(run)

    def _with_connection(self, work: Callable[[db.Connection], T]) -> T:
        """Run `work` on this thread's connection, reopening it once if it was lost."""
        for attempt in (1, 2):
            connection = self._connection()
            try:
                return work(connection)
            except (mysql.connector.InterfaceError, mysql.connector.OperationalError) as error:
                self._drop_connection()
                if attempt == 2:
                    raise StoreUnavailable(f"database error: {error}") from error
                log.warning("database connection lost (%s); reconnecting", error)
        raise AssertionError("unreachable")

    def _connection(self) -> db.Connection:
        connection: db.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = db.connect(self._settings, attempts=self._connect_attempts, delay=0.5)
            except mysql.connector.Error as error:
                raise StoreUnavailable(f"database unreachable: {error}") from error
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(mysql.connector.Error):  # it is gone either way
                connection.close()


def _stored(row: dict[str, Any]) -> StoredCp:
    return StoredCp(row["id"], row["credential_hash"], bool(row["auto_provisioned"]))


class AsyncCpStore:
    """CpStore for the event loop: each call runs on one of a few database threads."""

    def __init__(self, store: CpStore, threads: int = 8) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")

    async def find(self, cp_id: str) -> StoredCp | None:
        return await self._run(self._store.find, cp_id)

    async def all_ids(self) -> list[str]:
        return await self._run(self._store.all_ids)

    async def with_prefix(self, prefix: str) -> list[StoredCp]:
        return await self._run(self._store.with_prefix, prefix)

    async def register(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> Registration:
        return await self._run(self._store.register, cp_id, location, price, credential_hash)

    async def reissue(
        self, cp_id: str, location: str, price: Decimal, previous_hash: str, credential_hash: str
    ) -> bool:
        return await self._run(self._store.reissue, cp_id, location, price, previous_hash, credential_hash)

    async def insert_auto(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> bool:
        return await self._run(self._store.insert, cp_id, location, price, credential_hash, True)

    async def reassign_auto(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> bool:
        return await self._run(self._store.reassign_auto, cp_id, location, price, credential_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(method, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)
