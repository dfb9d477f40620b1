"""CENTRAL_TLS_CA in the monitor: checked at start, and what keeps the CP from
central-auth written to the health problem file until it is authenticated again."""

from __future__ import annotations

from pathlib import Path

import pytest

from cp_monitor.monitor import Monitor
from cp_monitor.settings import parse
from evcharging import health
from tests.support.pki import make_pki


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("CP_ENROLMENT_KEY", "k" * 16)
    monkeypatch.delenv("CENTRAL_TLS_CA", raising=False)
    return monkeypatch


def test_without_central_tls_ca_the_monitor_speaks_plain_tcp(environment: pytest.MonkeyPatch) -> None:
    assert parse([]).central_tls is None


def test_with_central_tls_ca_the_monitor_verifies_central_auth_with_that_ca(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make_pki(tmp_path)
    environment.setenv("CENTRAL_TLS_CA", str(tmp_path / "ca.crt"))
    settings = parse(["127.0.0.1:7100", "central.example:7443"])
    assert settings.central_tls is not None
    assert settings.central_tls.ca_file == tmp_path / "ca.crt"
    assert settings.central_address == "central.example:7443"


def test_a_missing_ca_file_stops_the_monitor_at_start_saying_what_to_copy(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("CENTRAL_TLS_CA", str(tmp_path / "ca.crt"))
    with pytest.raises(SystemExit) as stopped:
        parse([])
    assert str(stopped.value) == (
        f"configuration error: CENTRAL_TLS_CA={tmp_path / 'ca.crt'} cannot be read "
        "(No such file or directory): copy the central's pki/ca.crt there"
    )


def test_a_ca_file_without_a_certificate_stops_the_monitor_at_start(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate\n")
    environment.setenv("CENTRAL_TLS_CA", str(tmp_path / "ca.crt"))
    with pytest.raises(SystemExit, match="holds no PEM certificate"):
        parse([])


@pytest.fixture
def problem_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "problem"
    monkeypatch.setattr(health, "PROBLEM_PATH", path)
    return path


def test_the_problem_is_written_and_cleared_once_authenticated(
    environment: pytest.MonkeyPatch, problem_file: Path
) -> None:
    monitor = Monitor(parse(["127.0.0.1:7100", "central.example:7443"]))
    monitor._on_problem("central-auth at central.example:7443 presented ...")
    assert health.problem(problem_file) == "central-auth at central.example:7443 presented ..."
    monitor._on_problem(None)
    assert not problem_file.exists()


def test_a_problem_written_by_the_engine_meanwhile_is_left_alone(
    environment: pytest.MonkeyPatch, problem_file: Path
) -> None:
    """Engine and monitor share a container, and so its problem file."""
    monitor = Monitor(parse(["127.0.0.1:7100", "central.example:7443"]))
    monitor._on_problem("central-auth at central.example:7443 presented ...")
    health.report_problem("Kafka at central.example:9095 refused the engine's password")
    monitor._on_problem(None)
    assert health.problem(problem_file) == "Kafka at central.example:9095 refused the engine's password"
