"""The compose stack as the tests see it from the host: commands and addresses."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evcharging.config import DatabaseSettings
from tests.support.pki import make_pki

ROOT = Path(__file__).resolve().parents[2]


TEST_PROJECT = os.environ.get("EVCHARGING_TEST_PROJECT", "evcharging-test")
"""The compose project the tests run in: never the user's `evcharging`."""

TEST_PORT_BASE = int(os.environ.get("EVCHARGING_TEST_PORT_BASE", "20000"))
"""Host ports of the test stack: the user's defaults moved up by this much (9094 -> 29094)."""

HOST_PORTS = {
    "KAFKA_HOST_PORT": 9094,
    "DB_HOST_PORT": 3307,
    "AUTH_HOST_PORT": 7000,
    "WEB_HOST_PORT": 8080,
    "PMA_HOST_PORT": 8081,
    "KAFKA_EXTERNAL_PORT": 9095,
    "AUTH_TLS_HOST_PORT": 7443,
    "OCPP_HOST_PORT": 9000,
    "KAFKA_HOST_PORT_2": 9096,
    "KAFKA_EXTERNAL_PORT_2": 9097,
    "KAFKA_HOST_PORT_3": 9098,
    "KAFKA_EXTERNAL_PORT_3": 9099,
}


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def test_stack_environment() -> dict[str, str]:
    """The variables that point every compose command of a test run at a stack of its own.

    A project name, so containers, volumes and network are the tests' own; host ports
    apart from the user's, so both stacks run at once; and fresh secrets and a fresh
    project CA, written to test-results/ (to inspect the test stack by hand), because
    the test stack always starts from empty volumes. The image variables are the
    user's: the images are shared.

    The test stack is also a *central* as docs/deploy.md sets one up: its ports for
    other hosts listen on every address, and it is known by the Docker host's bridge
    gateway, which containers of other compose projects (a site, a driver) reach.
    """
    secrets = ROOT / "test-results" / f"{TEST_PROJECT}.env"
    secrets.parent.mkdir(exist_ok=True)
    secrets.unlink(missing_ok=True)
    subprocess.run([ROOT / "scripts" / "dotenv.sh", "secrets", secrets], check=True, capture_output=True)
    central_host = docker_gateway()
    pki = make_pki(ROOT / "test-results" / f"{TEST_PROJECT}-pki", central_host, env_file=secrets)
    images = ROOT / "infra" / "images.env"
    return {
        **(read_env_file(images) if images.exists() else {}),
        **read_env_file(secrets),
        "COMPOSE_PROJECT_NAME": TEST_PROJECT,
        "COMPOSE_FILE": "infra/compose.yml",  # one broker, whatever the user's .env says
        "KAFKA_NODES": "1",
        "ROLE": "all",
        "PKI_DIR": str(pki),
        "CENTRAL_HOST": central_host,
        "PUBLISH_ADDRESS": "0.0.0.0",  # the central's ports for other hosts
        **host_ports(TEST_PORT_BASE),
    }


def host_ports(base: int) -> dict[str, str]:
    return {name: str(base + default % 10000) for name, default in HOST_PORTS.items()}


def docker_gateway() -> str:
    """The Docker host's address on its default bridge: what a container of any compose
    project reaches the host's published ports by."""
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out, "the Docker bridge network has no gateway"
    return out


def stack_settings() -> dict[str, str]:
    """The stack's variables as compose sees them: the .env file, overridden by the environment."""
    path = ROOT / ".env"
    return {**(read_env_file(path) if path.exists() else {}), **os.environ}


def compose(
    *args: str, timeout: float = 600, check: bool = True, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `docker compose ARGS` from the repository root, as a user would (with `env`
    over the test run's settings: another project). With `check`, a failure fails the
    test with what compose said."""
    done = subprocess.run(
        ["docker", "compose", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"docker compose {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
    return done


def make(
    *args: str, timeout: float = 900, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )


@dataclass(frozen=True)
class Infra:
    """Where the stack's Kafka and MariaDB answer on this host."""

    kafka_bootstrap: str
    database: DatabaseSettings


def infra_addresses(env: Mapping[str, str] | None = None) -> Infra:
    """Kafka's and MariaDB's host ports of the test stack (or of the stack `env` sets up)."""
    env = stack_settings() if env is None else env
    brokers = ["KAFKA_HOST_PORT", "KAFKA_HOST_PORT_2", "KAFKA_HOST_PORT_3"][
        : int(env.get("KAFKA_NODES") or 1)
    ]
    return Infra(
        kafka_bootstrap=",".join(f"localhost:{env.get(name, '9094')}" for name in brokers),
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
