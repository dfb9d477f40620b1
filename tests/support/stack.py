"""The compose stack as the tests see it from the host: commands and addresses."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from evcharging.config import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]


def dotenv() -> dict[str, str]:
    """The variables of the generated .env (secrets, images, compose settings)."""
    values: dict[str, str] = {}
    path = ROOT / ".env"
    if not path.exists():
        raise RuntimeError("no .env: run 'make secrets' (make test does it)")
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def compose(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `docker compose ARGS` from the repository root, as a user would."""
    return subprocess.run(
        ["docker", "compose", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def make(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class Infra:
    """Where the stack's Kafka and MariaDB answer on this host."""

    kafka_bootstrap: str
    database: DatabaseSettings


def infra_addresses() -> Infra:
    env = {**dotenv(), **os.environ}
    return Infra(
        kafka_bootstrap=f"localhost:{env.get('KAFKA_HOST_PORT', '9094')}",
        database=DatabaseSettings(
            host="127.0.0.1",
            port=int(env.get("DB_HOST_PORT", "3307")),
            user="evcharging",
            password=env["DB_PASSWORD"],
            database="evcharging_db",
        ),
    )


def free_port() -> int:
    """A TCP port nobody listens on now, for a service a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
