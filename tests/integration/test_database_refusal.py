"""A service that the database refuses says so once, in its log and in its health,
waits instead of crashing in a loop, and carries on by itself once it is let in.

The refusal is real: central-auth logs in as a user MariaDB does not know yet;
the test then creates that user, as a person fixing the credentials would."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_auth.healthcheck import check
from evcharging import db
from evcharging.config import DatabaseSettings
from tests.support.processes import ServiceProcess
from tests.support.stack import ROOT, Infra, free_port, stack_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def root_of(infra: Infra) -> DatabaseSettings:
    return DatabaseSettings(
        host=infra.database.host,
        port=infra.database.port,
        user="root",
        password=stack_settings()["DB_ROOT_PASSWORD"],
        database=infra.database.database,
    )


def as_root(infra: Infra, *statements: str) -> None:
    connection = db.connect(root_of(infra))
    try:
        with db.cursor(connection) as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        connection.close()


def refused_logins(infra: Infra) -> int:
    """MariaDB's count of failed logins (every refused attempt of the service adds one)."""
    connection = db.connect(root_of(infra))
    try:
        with db.cursor(connection) as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Aborted_connects'")
            return int(cur.fetchone()["Value"])
    finally:
        connection.close()


@pytest.fixture
def late_user(infra: Infra) -> Iterator[DatabaseSettings]:
    """Credentials for a user that does not exist yet (the test creates it)."""
    name = f"late_{uuid.uuid4().hex[:8]}"
    yield DatabaseSettings(
        host=infra.database.host,
        port=infra.database.port,
        user=name,
        password=uuid.uuid4().hex,
        database=infra.database.database,
    )
    as_root(infra, f"DROP USER IF EXISTS '{name}'@'%'")


def health_of(problem_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "central_auth.healthcheck", "127.0.0.1:1"],
        env={
            "HEALTH_PROBLEM_FILE": str(problem_file),
            "PYTHONPATH": f"{ROOT}/services/central-auth:{ROOT}/lib",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_a_refused_service_says_why_once_waits_and_recovers(
    infra: Infra, late_user: DatabaseSettings, tmp_path: Path
) -> None:
    problem_file = tmp_path / "problem"
    port = free_port()
    service = ServiceProcess(
        "central-auth",
        "central_auth",
        [str(port), infra.kafka_bootstrap, f"{late_user.host}:{late_user.port}"],
        tmp_path / "central-auth.log",
        env={
            "DB_USER": late_user.user,
            "DB_PASSWORD": late_user.password,
            "DB_NAME": late_user.database,
            "CP_ENROLMENT_KEY": uuid.uuid4().hex,
            "AUTH_RESTART_ANNOUNCE_PREFIX": "none-of-them-",
            "HEALTH_PROBLEM_FILE": str(problem_file),
        },
    )
    try:
        wait_until(problem_file.exists, 30, "central-auth to report the refusal in its health")
        health = health_of(problem_file)
        assert health.returncode == 1
        assert f"refuses user '{late_user.user}'" in health.stderr
        assert "DB_PASSWORD" in health.stderr

        # It keeps trying (every 5 s), quietly; then a person lets it in.
        refused = refused_logins(infra)
        wait_until(lambda: refused_logins(infra) >= refused + 2, 30, "two more refused attempts")
        assert service.running
        as_root(
            infra,
            f"CREATE USER '{late_user.user}'@'%' IDENTIFIED BY '{late_user.password}'",
            f"GRANT ALL PRIVILEGES ON {late_user.database}.* TO '{late_user.user}'@'%'",
        )
        wait_until(
            lambda: check("127.0.0.1", port, timeout=1.0) is None, 30, "central-auth to serve once let in"
        )
        assert not problem_file.exists(), "the health problem must be cleared once the database accepts"
        assert health_of(problem_file).returncode == 1  # nothing listens on port 1: the Ping check runs again
    finally:
        service.stop()

    log = service.log()
    assert log.count(f"refuses user '{late_user.user}'") == 1, log
    assert "Traceback" not in log, log
    assert "the database accepts our credentials now" in log
