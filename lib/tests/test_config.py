"""The settings loader: one line naming the variable for a bad or missing value, one way
to spell a boolean in every service, one place that splits host:port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from central_auth.settings import AuthSettings
from central_web.settings import WebSettings
from cp_engine import settings as engine
from cp_monitor import settings as monitor
from driver.settings import DriverSettings
from evcharging.config import DatabaseSettings, HostPort, is_host_port, is_set, load

REQUIRED = {
    "DB_PASSWORD": "a database password",
    "CP_ENROLMENT_KEY": "k" * 16,
    "OPERATOR_PASSWORD": "an operator password",
    "WEB_SECRET_KEY": "a secret key",
}


Start = Callable[[], Any]
"""A service reading its settings as it starts, with no arguments."""


def engine_starts() -> engine.Settings:
    return engine.parse([])


def monitor_starts() -> monitor.Settings:
    return monitor.parse([])


def auth_starts() -> AuthSettings:
    return AuthSettings.load([])


def web_starts() -> WebSettings:
    return load(WebSettings)


def driver_starts() -> DriverSettings:
    return load(DriverSettings)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def stop_line(start: Start) -> str:
    with pytest.raises(SystemExit) as stopped:
        start()
    line = str(stopped.value.code)
    assert "\n" not in line
    return line


@pytest.mark.parametrize(
    ("name", "value", "start", "expected"),
    [
        (
            "CP_RATED_KW",
            "abc",
            engine_starts,
            "CP_RATED_KW='abc': Input should be a valid decimal",
        ),
        (
            "AUTO_MODE",
            "maybe",
            engine_starts,
            "AUTO_MODE='maybe': Input should be a valid boolean",
        ),
        ("DB_PORT", "x", auth_starts, "DB_PORT='x': Input should be a valid integer"),
        ("AUTH_PORT", "70000", auth_starts, "AUTH_PORT='70000': Input should be less"),
        ("WEB_SECURE_COOKIES", "maybe", web_starts, "WEB_SECURE_COOKIES='maybe'"),
        ("ENGINE_ADDRESS", "engine:x", monitor_starts, "ENGINE_ADDRESS='engine:x': 'engine:x'"),
        (
            "CENTRAL_ADDRESS",
            "central",
            monitor_starts,
            "CENTRAL_ADDRESS='central': 'central' is not",
        ),
        (
            "CP_PRICE_KWH",
            "-1",
            monitor_starts,
            "CP_PRICE_KWH='-1': Input should be greater than 0",
        ),
        ("DRIVER_TIMEOUT", "soon", driver_starts, "DRIVER_TIMEOUT='soon'"),
    ],
)
def test_a_bad_value_stops_the_service_with_one_line_naming_the_variable(
    environment: pytest.MonkeyPatch, name: str, value: str, start: Start, expected: str
) -> None:
    environment.setenv(name, value)
    assert stop_line(start).startswith(f"configuration error: {expected}")


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("DB_PASSWORD", auth_starts),
        ("CP_ENROLMENT_KEY", monitor_starts),
        ("WEB_SECRET_KEY", web_starts),
    ],
)
def test_a_missing_required_value_is_named(environment: pytest.MonkeyPatch, name: str, start: Start) -> None:
    environment.delenv(name)
    assert stop_line(start) == f"configuration error: {name} is required and not set"


def test_an_empty_variable_counts_as_unset(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CP_RATED_KW", "")
    environment.setenv("CP_ID", "")
    assert engine.parse([]).rated_kw == 22
    assert monitor.parse([]).cp_id is None


def test_a_secret_is_never_shown_in_the_error(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CP_ENROLMENT_KEY", "short secret")
    line = stop_line(auth_starts)
    assert "short secret" not in line
    assert line.startswith("configuration error: CP_ENROLMENT_KEY=<hidden>: String should have at least 16")
    assert "a database password" not in repr(load(DatabaseSettings))


SPELLINGS = [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("False", False)]
SPELLINGS += [("no", False), ("off", False)]


@pytest.mark.parametrize(("spelling", "meaning"), SPELLINGS)
def test_booleans_are_spelt_the_same_in_every_service(
    environment: pytest.MonkeyPatch, spelling: str, meaning: bool
) -> None:
    environment.setenv("AUTO_MODE", spelling)
    environment.setenv("WEB_SECURE_COOKIES", spelling)
    assert (engine.parse([]).autopilot is not None) is meaning
    assert load(WebSettings).secure_cookies is meaning


def test_the_command_line_wins_and_a_bad_one_names_the_variable_it_stands_for(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("AUTH_PORT", "7001")
    assert AuthSettings.load(["7002"]).port == 7002
    assert stop_line(lambda: AuthSettings.load(["seven"])).startswith(
        "configuration error: AUTH_PORT='seven'"
    )


@pytest.mark.parametrize(
    ("text", "default_port", "address"),
    [
        ("db.example:3310", None, HostPort("db.example", 3310)),
        ("db.example", 3306, HostPort("db.example", 3306)),
        ("a:9092,b:9093", None, HostPort("a:9092,b", 9093)),
    ],
)
def test_host_port_splits_at_the_last_colon(text: str, default_port: int | None, address: HostPort) -> None:
    assert HostPort.parse(text, default_port) == address
    assert str(address) == f"{address.host}:{address.port}"


@pytest.mark.parametrize("text", ["db.example", ":3306", "db:", "db:x", "db:0", "db:65536", ""])
def test_what_is_not_host_port_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        HostPort.parse(text)
    assert not is_host_port(text)


def test_the_seeds_database_address_keeps_the_rest(environment: pytest.MonkeyPatch) -> None:
    moved = load(DatabaseSettings).with_address("db.example")
    assert (moved.host, moved.port, moved.user, moved.password) == (
        "db.example",
        3306,
        "evcharging",
        "a database password",
    )


def test_variables_given_as_a_mapping_replace_the_environment(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DB_HOST", "from-the-process")
    given = load(DatabaseSettings, {"DB_PASSWORD": "given", "DB_HOST": ""})
    assert (given.host, given.password) == ("mariadb", "given")
    assert load(DatabaseSettings).host == "from-the-process"
    assert stop_line(lambda: load(DatabaseSettings, {"DB_PORT": "x", "DB_PASSWORD": "p"})).startswith(
        "configuration error: DB_PORT='x'"
    )


def test_central_web_has_a_database_only_when_its_password_is_set(environment: pytest.MonkeyPatch) -> None:
    assert is_set(DatabaseSettings, "password")
    assert load(WebSettings).database is not None
    environment.setenv("DB_PASSWORD", "")
    assert not is_set(DatabaseSettings, "password")
    assert load(WebSettings).database is None
    assert load(WebSettings, {**REQUIRED, "DB_PASSWORD": ""}).database is None
