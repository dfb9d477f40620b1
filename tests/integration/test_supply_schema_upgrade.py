"""A data volume made before `suministros` had `factor_tiempo` and `duracion_s` (init.sql
runs only on an empty volume) gets them when central-stream first connects, and its
writes go on: the real MariaDB, in a scratch database with the old table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from central_stream.rules import SupplyRow
from central_stream.store import Store
from evcharging import db
from evcharging.config import DatabaseSettings
from tests.support.stack import Infra, stack_settings

pytestmark = pytest.mark.integration

OLD_TABLE = """
CREATE TABLE suministros (
    id              VARCHAR(64)   NOT NULL PRIMARY KEY,
    conductor_id    VARCHAR(32)   NOT NULL,
    cp_id           VARCHAR(32)   NOT NULL,
    fecha_inicio    DATETIME(3)   NOT NULL,
    fecha_fin       DATETIME(3)   NULL,
    consumo_kwh     DECIMAL(8,3)  NOT NULL DEFAULT 0,
    importe_total   DECIMAL(10,2) NOT NULL DEFAULT 0,
    precio_kwh      DECIMAL(6,3)  NOT NULL,
    estado          ENUM('en_curso','unplugged','fault','operator_stop','disconnected')
                                  NOT NULL DEFAULT 'en_curso'
)
"""


@pytest.fixture
def old_database(infra: Infra) -> Iterator[DatabaseSettings]:
    """A scratch database with the table as it was, reached as root (who may create one)."""
    name = f"upgrade_{uuid.uuid4().hex[:8]}"
    root = DatabaseSettings(
        host=infra.database.host,
        port=infra.database.port,
        user="root",
        password=stack_settings()["DB_ROOT_PASSWORD"],
        database=infra.database.database,
    )
    connection = db.connect(root)
    try:
        with db.cursor(connection) as cur:
            cur.execute(f"CREATE DATABASE {name}")
            cur.execute(f"USE {name}")
            cur.execute(OLD_TABLE)
            cur.execute(
                "INSERT INTO suministros (id, conductor_id, cp_id, fecha_inicio, precio_kwh)"
                " VALUES ('before', 'DRV001', 'CP001', '2026-01-01 10:00:00', 0.350)"
            )
        yield root.model_copy(update={"database": name})
    finally:
        with db.cursor(connection) as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.close()


def test_an_old_supplies_table_gets_the_time_columns_and_takes_new_rows(
    old_database: DatabaseSettings,
) -> None:
    started = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    row = SupplyRow(
        session_id="after",
        driver_id="DRV001",
        cp_id="CP001",
        started_at=started,
        ended_at=started + timedelta(seconds=20),
        kwh=Decimal("7.000"),
        eur=Decimal("2.45"),
        price_per_kwh=Decimal("0.350"),
        status="unplugged",
        time_factor=Decimal(60),
        duration_s=Decimal("1200.000"),
    )
    store = Store(old_database)
    try:
        asyncio.run(store.save_supply(row))
    finally:
        store.close()
    connection = db.connect(old_database)
    try:
        with db.cursor(connection) as cur:
            cur.execute("SELECT id, factor_tiempo, duracion_s FROM suministros ORDER BY id")
            rows = [(r["id"], r["factor_tiempo"], r["duracion_s"]) for r in cur.fetchall()]
    finally:
        connection.close()
    assert rows == [("after", Decimal("60.000"), Decimal("1200.000")), ("before", Decimal("1.000"), None)]
