"""MariaDB writes of central-stream — `suministros` and `charging_points.estado` —
and the registry load. Every write is an idempotent upsert keyed by its id, so
re-processing an event after a crash writes the same row again, never a second.

A Store runs its work through evcharging.db_threads on one thread of its own, so
in order, on one connection, while the event loop goes on. central-stream has
two: one for the rows the agents write, one for the registry, so that reloading
the whole registry never holds up a session's row. A lost connection is opened
again and the statement retried until it succeeds (evcharging.db_retry's policy,
without a time limit): while MariaDB restarts, central-stream waits and loses
nothing. A statement MariaDB rejects (a broken constraint) is not retried: it
raises StoreRejected for the caller to report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import mysql.connector

from central_stream.registry import Snapshot
from central_stream.rules import CpInfo, SupplyRow
from evcharging.config import DatabaseSettings
from evcharging.db import Cursor
from evcharging.db_threads import DatabaseThreads
from evcharging.messages import CpState

log = logging.getLogger(__name__)
T = TypeVar("T")

UPSERT_SUPPLY = """
INSERT INTO suministros
    (id, conductor_id, cp_id, fecha_inicio, fecha_fin, consumo_kwh, importe_total, precio_kwh,
     factor_tiempo, duracion_s, estado)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE
    fecha_inicio  = IF(estado = 'en_curso', VALUES(fecha_inicio),  fecha_inicio),
    fecha_fin     = IF(estado = 'en_curso', VALUES(fecha_fin),     fecha_fin),
    consumo_kwh   = IF(estado = 'en_curso', VALUES(consumo_kwh),   consumo_kwh),
    importe_total = IF(estado = 'en_curso', VALUES(importe_total), importe_total),
    factor_tiempo = IF(estado = 'en_curso', VALUES(factor_tiempo), factor_tiempo),
    duracion_s    = IF(estado = 'en_curso', VALUES(duracion_s),    duracion_s),
    estado        = IF(estado = 'en_curso', VALUES(estado),        estado)
"""
"""A closed session is final: a late or repeated write never reopens or re-bills it.
(`estado` is assigned last, since MariaDB applies the assignments in order.)"""

UPDATE_CP_STATE = """
UPDATE charging_points
SET estado_desde = IF(estado = %s, estado_desde, %s), estado = %s
WHERE id = %s
"""
"""`estado_desde` moves only when the state really changes."""


NEW_SUPPLY_COLUMNS = ("factor_tiempo", "duracion_s")
COUNT_NEW_SUPPLY_COLUMNS = """
SELECT COUNT(*) AS n FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'suministros' AND COLUMN_NAME IN (%s, %s)
"""
ADD_NEW_SUPPLY_COLUMNS = """
ALTER TABLE suministros
    ADD COLUMN IF NOT EXISTS factor_tiempo DECIMAL(8,3)  NOT NULL DEFAULT 1 AFTER precio_kwh,
    ADD COLUMN IF NOT EXISTS duracion_s    DECIMAL(12,3) NULL AFTER factor_tiempo
"""
"""infra/db/init.sql runs only on an empty data volume: a volume made before these
columns existed gets them here, once, when central-stream first connects (rows of
that time read as time factor 1, charging time unknown)."""


class StoreRejected(Exception):
    """MariaDB refused a statement (not a connection problem): retrying will not help."""


def _naive_utc(moment: datetime | None) -> datetime | None:
    """DATETIME columns hold UTC without a zone."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def upgrade_schema(cur: Cursor) -> None:
    """Add the supply columns an old data volume lacks (run on every new connection)."""
    cur.execute(COUNT_NEW_SUPPLY_COLUMNS, NEW_SUPPLY_COLUMNS)
    if cur.fetchone()["n"] < len(NEW_SUPPLY_COLUMNS):
        log.warning("suministros predates %s: adding them", " and ".join(NEW_SUPPLY_COLUMNS))
        cur.execute(ADD_NEW_SUPPLY_COLUMNS)


class Store:
    """central-stream's rows, awaited from the event loop: one database thread, calls in order."""

    def __init__(self, settings: DatabaseSettings, cp_prefix: str = "") -> None:
        self._database = DatabaseThreads(settings, prepare=upgrade_schema, name="store")
        self._cp_prefix = cp_prefix

    async def _run(self, work: Callable[[Cursor], T]) -> T:
        try:
            return await self._database.run(work)
        except mysql.connector.Error as error:  # not worth retrying (evcharging.db_retry)
            raise StoreRejected(str(error)) from error

    async def save_supply(self, row: SupplyRow) -> None:
        params = (
            row.session_id,
            row.driver_id,
            row.cp_id,
            _naive_utc(row.started_at),
            _naive_utc(row.ended_at),
            row.kwh,
            row.eur,
            row.price_per_kwh,
            row.time_factor,
            row.duration_s,
            row.status,
        )
        await self._run(lambda cur: cur.execute(UPSERT_SUPPLY, params))

    async def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None:
        if states:
            params = [(state.value, _naive_utc(since), state.value, cp_id) for cp_id, state, since in states]
            await self._run(lambda cur: cur.executemany(UPDATE_CP_STATE, params))

    async def authorised_at(self, session_id: str) -> datetime | None:
        """When the session was authorised, if it was (its row is written first)."""

        def find(cur: Cursor) -> datetime | None:
            cur.execute("SELECT fecha_inicio FROM suministros WHERE id = %s", (session_id,))
            row = cur.fetchone()
            return row["fecha_inicio"].replace(tzinfo=UTC) if row else None

        return await self._run(find)

    async def load_registry(self) -> Snapshot:
        like = self._cp_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        def load(cur: Cursor) -> Snapshot:
            cur.execute("SELECT id, ubicacion, precio_kwh FROM charging_points WHERE id LIKE %s", (like,))
            cps = {
                row["id"]: CpInfo(row["id"], row["ubicacion"], Decimal(row["precio_kwh"]))
                for row in cur.fetchall()
            }
            cur.execute("SELECT id FROM conductores")
            drivers = frozenset(row["id"] for row in cur.fetchall())
            return Snapshot(cps, drivers)

        return await self._run(load)

    async def find_registered(self, cp_ids: Collection[str], driver_ids: Collection[str]) -> Snapshot:
        cp_prefix = self._cp_prefix

        def find(cur: Cursor) -> Snapshot:
            cps: dict[str, CpInfo] = {}
            drivers: set[str] = set()
            for cp_id in cp_ids:
                if cp_id.startswith(cp_prefix):
                    cur.execute(
                        "SELECT id, ubicacion, precio_kwh FROM charging_points WHERE id = %s", (cp_id,)
                    )
                    for row in cur.fetchall():
                        cps[row["id"]] = CpInfo(row["id"], row["ubicacion"], Decimal(row["precio_kwh"]))
            for driver_id in driver_ids:
                cur.execute("SELECT id FROM conductores WHERE id = %s", (driver_id,))
                drivers.update(row["id"] for row in cur.fetchall())
            return Snapshot(cps, frozenset(drivers))

        return await self._run(find)

    def close(self) -> None:
        self._database.close()
