"""MariaDB writes of central-stream — `suministros` and `charging_points.estado` —
and the registry load. Every write is an idempotent upsert keyed by its id, so
re-processing an event after a crash writes the same row again, never a second.

mysql-connector blocks, so a Store runs its work on one thread of its own (in
order, on one connection) while the event loop goes on. central-stream has two:
one for the rows the agents write, one for the registry, so that reloading the
whole registry never holds up a session's row. A lost connection is
re-opened and the statement retried until it succeeds: while MariaDB restarts,
central-stream waits and loses nothing. A statement MariaDB rejects (a broken
constraint) is not retried: it raises StoreRejected for the caller to report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import mysql.connector
from mysql.connector import errors

from central_stream.registry import Snapshot
from central_stream.rules import CpInfo, SupplyRow
from evcharging.config import DatabaseSettings
from evcharging.db import Connection, connect, cursor
from evcharging.messages import CpState

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT = (errors.OperationalError, errors.InterfaceError, errors.PoolError)
"""Errors of the connection, not of the statement: reconnect and retry."""

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


class Database:
    """Blocking access on one connection; use it from one thread only (Store does)."""

    def __init__(self, settings: DatabaseSettings, cp_prefix: str = "", retry_delay: float = 1.0) -> None:
        self._settings = settings
        self._cp_prefix = cp_prefix
        self._retry_delay = retry_delay
        self._connection: Connection | None = None
        self._schema_checked = False

    def _run(self, work: Callable[[Any], T]) -> T:
        attempt = 0
        while True:
            try:
                if self._connection is None:
                    self._connection = connect(self._settings)
                with cursor(self._connection) as cur:
                    if not self._schema_checked:
                        self._upgrade_schema(cur)
                    return work(cur)
            except TRANSIENT as error:
                attempt += 1
                log.warning("database unavailable (%s); retry %d", error, attempt)
                self.close()
                time.sleep(min(self._retry_delay * attempt, 5.0))
            except mysql.connector.Error as error:
                raise StoreRejected(str(error)) from error

    def _upgrade_schema(self, cur: Any) -> None:
        cur.execute(COUNT_NEW_SUPPLY_COLUMNS, NEW_SUPPLY_COLUMNS)
        if cur.fetchone()["n"] < len(NEW_SUPPLY_COLUMNS):
            log.warning("suministros predates %s: adding them", " and ".join(NEW_SUPPLY_COLUMNS))
            cur.execute(ADD_NEW_SUPPLY_COLUMNS)
        self._schema_checked = True

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(mysql.connector.Error):
                self._connection.close()
            self._connection = None

    def save_supply(self, row: SupplyRow) -> None:
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
        self._run(lambda cur: cur.execute(UPSERT_SUPPLY, params))

    def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None:
        params = [(state.value, _naive_utc(since), state.value, cp_id) for cp_id, state, since in states]
        self._run(lambda cur: cur.executemany(UPDATE_CP_STATE, params))

    def authorised_at(self, session_id: str) -> datetime | None:
        def find(cur: Any) -> datetime | None:
            cur.execute("SELECT fecha_inicio FROM suministros WHERE id = %s", (session_id,))
            row = cur.fetchone()
            return row["fecha_inicio"].replace(tzinfo=UTC) if row else None

        return self._run(find)

    def load_registry(self) -> Snapshot:
        like = self._cp_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        def load(cur: Any) -> Snapshot:
            cur.execute("SELECT id, ubicacion, precio_kwh FROM charging_points WHERE id LIKE %s", (like,))
            cps = {
                row["id"]: CpInfo(row["id"], row["ubicacion"], Decimal(row["precio_kwh"]))
                for row in cur.fetchall()
            }
            cur.execute("SELECT id FROM conductores")
            drivers = frozenset(row["id"] for row in cur.fetchall())
            return Snapshot(cps, drivers)

        return self._run(load)

    def find_registered(self, cp_ids: list[str], driver_ids: list[str]) -> Snapshot:
        def find(cur: Any) -> Snapshot:
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

        cp_prefix = self._cp_prefix
        return self._run(find)


class Store:
    """The Database, awaited from the event loop: one worker thread, calls in order."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def save_supply(self, row: SupplyRow) -> None:
        await self._call(self._database.save_supply, row)

    async def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None:
        if states:
            await self._call(self._database.save_cp_states, states)

    async def authorised_at(self, session_id: str) -> datetime | None:
        """When the session was authorised, if it was (its row is written first)."""
        return await self._call(self._database.authorised_at, session_id)

    async def load_registry(self) -> Snapshot:
        return await self._call(self._database.load_registry)

    async def find_registered(self, cp_ids: Collection[str], driver_ids: Collection[str]) -> Snapshot:
        return await self._call(self._database.find_registered, list(cp_ids), list(driver_ids))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._database.close()
