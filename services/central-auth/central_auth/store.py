"""The `charging_points` rows central-auth reads and writes, over MariaDB.

Every query is parametrised, and each method is one unit of work run by
evcharging.db_threads on one of a few database threads (concurrent lookups), each
with its own connection. A connection lost to a database restart is opened again
and the work retried for a short while (`GIVE_UP_AFTER`); while the database stays
away, calls raise DatabaseUnavailable soon enough for the client to get an answer
(`unavailable`) and try again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

import mysql.connector
from mysql.connector import errorcode

from evcharging.db import Cursor
from evcharging.db_threads import DatabaseThreads

THREADS = 8
"""Database threads, hence connections: lookups of concurrent sessions run side by side."""

GIVE_UP_AFTER = 2.0
"""Seconds a request waits for the database to come back before it is answered
`unavailable`: well within the client's request timeout (10 s)."""

SELECT_CP = "SELECT id, credential_hash, auto_provisioned FROM charging_points"


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
    """charging_points, awaited from the event loop."""

    def __init__(self, database: DatabaseThreads) -> None:
        self._database = database

    async def find(self, cp_id: str) -> StoredCp | None:
        def find(cur: Cursor) -> StoredCp | None:
            cur.execute(SELECT_CP + " WHERE id = %s", (cp_id,))
            rows = cur.fetchall()
            return _stored(rows[0]) if rows else None

        return await self._database.run(find)

    async def all_ids(self) -> list[str]:
        def all_ids(cur: Cursor) -> list[str]:
            cur.execute("SELECT id FROM charging_points ORDER BY id")
            return [row["id"] for row in cur.fetchall()]

        return await self._database.run(all_ids)

    async def with_prefix(self, prefix: str) -> list[StoredCp]:
        def with_prefix(cur: Cursor) -> list[StoredCp]:
            cur.execute(SELECT_CP + " WHERE LEFT(id, CHAR_LENGTH(%s)) = %s", (prefix, prefix))
            return [_stored(row) for row in cur.fetchall()]

        return await self._database.run(with_prefix)

    async def register(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> Registration:
        """Create the CP, or give a credential to a row that has none; never overwrite one."""

        def register(cur: Cursor) -> Registration:
            if _insert(cur, cp_id, location, price, credential_hash, auto_provisioned=False):
                return Registration.CREATED
            cur.execute(
                "UPDATE charging_points SET credential_hash = %s, ubicacion = %s, precio_kwh = %s"
                " WHERE id = %s AND credential_hash IS NULL",
                (credential_hash, location, price, cp_id),
            )
            return Registration.ENROLLED if cur.rowcount else Registration.ALREADY_REGISTERED

        return await self._database.run(register)

    async def reissue(
        self, cp_id: str, location: str, price: Decimal, previous_hash: str, credential_hash: str
    ) -> bool:
        """Replace the credential stored as `previous_hash`; False if it is not that one any more."""

        def reissue(cur: Cursor) -> bool:
            cur.execute(
                "UPDATE charging_points SET credential_hash = %s, ubicacion = %s, precio_kwh = %s"
                " WHERE id = %s AND credential_hash = %s",
                (credential_hash, location, price, cp_id, previous_hash),
            )
            return bool(cur.rowcount > 0)

        return await self._database.run(reissue)

    async def insert_auto(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> bool:
        """Create an auto-provisioned row; False if the id exists already."""
        return await self._database.run(
            lambda cur: _insert(cur, cp_id, location, price, credential_hash, auto_provisioned=True)
        )

    async def reassign_auto(self, cp_id: str, location: str, price: Decimal, credential_hash: str) -> bool:
        """Hand an auto-provisioned id to a new replica: its credential, location and price."""

        def reassign(cur: Cursor) -> bool:
            cur.execute(
                "UPDATE charging_points SET credential_hash = %s, ubicacion = %s, precio_kwh = %s"
                " WHERE id = %s AND auto_provisioned",
                (credential_hash, location, price, cp_id),
            )
            return bool(cur.rowcount > 0)

        return await self._database.run(reassign)

    def close(self) -> None:
        self._database.close()


def _insert(
    cur: Cursor, cp_id: str, location: str, price: Decimal, credential_hash: str, auto_provisioned: bool
) -> bool:
    """Create a row; False if the id exists already."""
    try:
        cur.execute(
            "INSERT INTO charging_points (id, ubicacion, precio_kwh, credential_hash, auto_provisioned)"
            " VALUES (%s, %s, %s, %s, %s)",
            (cp_id, location, price, credential_hash, auto_provisioned),
        )
    except mysql.connector.IntegrityError as error:
        if error.errno == errorcode.ER_DUP_ENTRY:
            return False
        raise
    return True


def _stored(row: dict[str, Any]) -> StoredCp:
    return StoredCp(row["id"], row["credential_hash"], bool(row["auto_provisioned"]))
