"""Proof that `make test` leaves a user's running stack alone.

    python -m tests.support.user_stack snapshot FILE   # before make test
    python -m tests.support.user_stack verify FILE     # after: exit 1 on any change

A snapshot holds what a user would miss: each container of the project (its id,
when it started, how often it restarted), the rows of the charging tables and the
tickets on Kafka. `.ci/run` takes one with a charge already made on the user stack,
runs `make test`, and verifies nothing of it changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from evcharging.topics import TICKETS
from tests.support.stack import ROOT, stack_settings

PROJECT = stack_settings().get("COMPOSE_PROJECT_NAME", "evcharging")

TABLES = (
    "SELECT (SELECT COUNT(*) FROM {0}) AS n_{0},"
    " (SELECT CRC32(GROUP_CONCAT({1} ORDER BY id)) FROM {0}) AS crc_{0}"
)
COLUMNS = {
    "suministros": "id, conductor_id, cp_id, fecha_inicio, fecha_fin, consumo_kwh, importe_total, estado",
    "conductores": "id, nombre, email",
    "charging_points": "id, ubicacion, precio_kwh",
}
QUERY = ";\n".join(TABLES.format(table, f"CONCAT_WS('|', {columns})") for table, columns in COLUMNS.items())


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout


def containers() -> dict[str, dict[str, Any]]:
    ids = docker("compose", "-p", PROJECT, "ps", "-q").split()
    if not ids:
        raise SystemExit(f"the user stack '{PROJECT}' is not running")
    inspected = json.loads(docker("inspect", *ids))
    return {
        c["Name"].lstrip("/"): {
            "id": c["Id"],
            "started": c["State"]["StartedAt"],
            "restarts": c["RestartCount"],
            "running": c["State"]["Running"],
        }
        for c in inspected
    }


def tables() -> list[str]:
    password = stack_settings()["DB_PASSWORD"]
    output = docker(
        "compose", "-p", PROJECT, "exec", "-T", "-e", f"MYSQL_PWD={password}", "mariadb",
        "mariadb", "-u", "evcharging", "-N", "-e", QUERY, "evcharging_db",
    )  # fmt: skip
    return output.split()


def tickets() -> list[int]:
    """The end offset of every partition of `tickets`: any ticket added moves one."""
    bootstrap = f"localhost:{stack_settings().get('KAFKA_HOST_PORT', '9094')}"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "user-stack-check"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(TICKETS.name, partition), timeout=10)[1]
            for partition in range(TICKETS.partitions)
        ]
    finally:
        consumer.close()


def snapshot() -> dict[str, Any]:
    return {"containers": containers(), "tables": tables(), "tickets": tickets()}


def main(argv: list[str]) -> int:
    command, path = argv[1], Path(argv[2])
    now = snapshot()
    if command == "snapshot":
        path.write_text(json.dumps(now, indent=2))
        print(f"user stack '{PROJECT}': {len(now['containers'])} containers, tables {now['tables']}")
        return 0
    before = json.loads(path.read_text())
    changed = [part for part in ("containers", "tables", "tickets") if before[part] != now[part]]
    if changed:
        for part in changed:
            print(f"CHANGED {part}:\n  before {before[part]}\n  after  {now[part]}", file=sys.stderr)
        return 1
    print(f"user stack '{PROJECT}' unchanged: same {len(now['containers'])} containers, tables and tickets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
