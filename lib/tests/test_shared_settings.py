"""The settings every service shares: how much it logs and where its health files are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evcharging import health
from evcharging.config import HealthSettings, load
from evcharging.logs import LogSettings, setup


def test_a_log_level_in_any_case_is_taken() -> None:
    assert load(LogSettings, {}).level == "INFO"
    assert load(LogSettings, {"LOG_LEVEL": " debug "}).level == "DEBUG"


def test_a_log_level_logging_does_not_know_is_refused_naming_the_levels() -> None:
    with pytest.raises(SystemExit) as stopped:
        load(LogSettings, {"LOG_LEVEL": "loud"})
    assert str(stopped.value.code) == (
        "configuration error: LOG_LEVEL='loud': expected one of CRITICAL, ERROR, WARNING, INFO, DEBUG, "
        "in any case"
    )


def test_the_health_files_default_to_the_containers_tmp_and_may_be_moved() -> None:
    assert load(HealthSettings, {}) == HealthSettings(
        alive_file=Path("/tmp/evcharging-alive"),  # noqa: S108
        problem_file=Path("/tmp/evcharging-problem"),  # noqa: S108
    )
    moved = load(HealthSettings, {"HEALTH_FILE": "/run/a", "HEALTH_PROBLEM_FILE": "/run/p"})
    assert (moved.alive_file, moved.problem_file) == (Path("/run/a"), Path("/run/p"))


def test_a_service_with_a_bad_log_level_stops_before_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SystemExit, match=r"^configuration error: LOG_LEVEL='loud'"):
        setup("a-service")


def test_the_health_check_stays_light_it_does_not_import_pydantic() -> None:
    """Docker runs it every few seconds in every container (evcharging.health says why)."""
    probe = "import sys, evcharging.health; print('pydantic' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"


def test_the_health_files_are_where_health_settings_say() -> None:
    assert (
        load(HealthSettings).alive_file,
        load(HealthSettings).problem_file,
    ) == (health.DEFAULT_PATH, health.PROBLEM_PATH)
