"""The schema and seed data in the real MariaDB, read with mysql-connector-python
(its blocking and its asyncio API)."""

from __future__ import annotations

import asyncio

import mysql.connector.aio

from evcharging.db import connect, cursor
from tests.support.stack import Infra

CP_STATES = {"desconectado", "activado", "parado", "suministrando", "averiado"}


def columns(infra: Infra, table: str) -> dict[str, str]:
    with cursor(connect(infra.database)) as cur:
        cur.execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (infra.database.database, table),
        )
        return {row["COLUMN_NAME"]: row["COLUMN_TYPE"] for row in cur.fetchall()}


def test_the_three_tables_of_the_spec_exist(infra: Infra) -> None:
    assert {"id", "nombre", "apellidos", "email", "fecha_registro"} <= columns(infra, "conductores").keys()
    cps = columns(infra, "charging_points")
    assert cps["precio_kwh"] == "decimal(6,3)"
    assert {f"'{state}'" for state in CP_STATES} == set(cps["estado"][5:-1].split(","))
    supplies = columns(infra, "suministros")
    assert supplies["consumo_kwh"] == "decimal(8,3)"
    assert supplies["importe_total"] == "decimal(10,2)"
    assert {"conductor_id", "cp_id", "fecha_inicio", "fecha_fin", "estado"} <= supplies.keys()
    # fecha_* are real times; a demo CP's fast clock and the charging time in it (docs/spec.md)
    assert (supplies["factor_tiempo"], supplies["duracion_s"]) == ("decimal(8,3)", "decimal(12,3)")


def test_seed_data_has_drivers_and_located_priced_cps(infra: Infra) -> None:
    with cursor(connect(infra.database)) as cur:
        cur.execute("SELECT COUNT(*) AS n FROM conductores WHERE id LIKE %s", ("DRV%",))
        assert cur.fetchone()["n"] >= 10
        cur.execute("SELECT id, ubicacion, precio_kwh FROM charging_points WHERE id LIKE %s", ("CP0%",))
        seeded = cur.fetchall()
    assert len(seeded) >= 5
    assert all(row["ubicacion"] and row["precio_kwh"] > 0 for row in seeded)


def test_the_asyncio_api_reads_the_seed(infra: Infra) -> None:
    async def read_driver() -> tuple[str, str]:
        db = infra.database
        connection = await mysql.connector.aio.connect(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password,
            database=db.database,
            ssl_disabled=True,  # the stack's MariaDB has no TLS; the async client would fail the handshake
        )
        try:
            async with await connection.cursor() as cur:
                await cur.execute("SELECT id, nombre FROM conductores WHERE id = %s", ("DRV001",))
                row = await cur.fetchone()
        finally:
            await connection.close()
        assert row is not None
        return str(row[0]), str(row[1])

    assert asyncio.run(read_driver()) == ("DRV001", "Lucía")
