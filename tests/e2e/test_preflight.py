"""`make up`'s preflight: a data volume made with other secrets than .env's is
explained before any service starts, with the two ways out.

It runs in a compose project of its own (only MariaDB), so the volume it makes and
the secrets it swaps touch neither the user's stack nor the other tests' stack."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.stack import ROOT, TEST_PROJECT, free_port

pytestmark = pytest.mark.e2e

PROJECT = f"{TEST_PROJECT}-preflight"


def run(args: list[str], password: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**environment, "DB_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def mariadb_running(environment: dict[str, str]) -> bool:
    ps = run(["docker", "compose", "ps", "--format", "json", "mariadb"], "unused", environment)
    return any(json.loads(line)["State"] == "running" for line in ps.stdout.splitlines() if line)


@pytest.fixture
def environment() -> Iterator[dict[str, str]]:
    values = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "DB_HOST_PORT": str(free_port()),
        "DB_ROOT_PASSWORD": secrets.token_urlsafe(16),
    }
    yield values
    run(["docker", "compose", "down", "--volumes", "--remove-orphans"], "unused", values)


def test_a_volume_made_with_other_secrets_is_explained(environment: dict[str, str]) -> None:
    created_with = secrets.token_urlsafe(16)
    up = run(["docker", "compose", "up", "-d", "--wait", "mariadb"], created_with, environment)
    assert up.returncode == 0, up.stderr

    assert run(["scripts/preflight.sh"], created_with, environment).returncode == 0

    refused = run(["scripts/preflight.sh"], secrets.token_urlsafe(16), environment)
    assert refused.returncode == 1
    for words in (
        f"'{PROJECT}_db-data'",
        "Access denied for user 'evcharging'",
        "put back the .env",
        "make clean",
    ):
        assert words in refused.stderr, refused.stderr
    assert mariadb_running(environment), "a MariaDB that was running must be left running"

    stopped = run(["docker", "compose", "stop", "mariadb"], created_with, environment)
    assert stopped.returncode == 0, stopped.stderr
    again = run(["scripts/preflight.sh"], secrets.token_urlsafe(16), environment)
    assert again.returncode == 1, again.stderr
    assert "make clean" in again.stderr, again.stderr
    assert not mariadb_running(environment), "a MariaDB started only for the check must be stopped again"


def test_no_volume_yet_needs_no_check(environment: dict[str, str]) -> None:
    checked = run(["scripts/preflight.sh"], secrets.token_urlsafe(16), environment)
    assert checked.returncode == 0, checked.stderr
    assert not mariadb_running(environment)
