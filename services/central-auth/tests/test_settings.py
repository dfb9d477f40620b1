"""Configuration: the environment, the seed's arguments, and refusals that name the culprit."""

from __future__ import annotations

import pytest

from central_auth.settings import AuthSettings

ENV = {"DB_PASSWORD": "pw", "CP_ENROLMENT_KEY": "k" * 16}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_the_seed_arguments_override_the_environment(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("AUTH_PORT", "7000")
    settings = AuthSettings.load(["7100", "broker:9092", "db.example:3310"])
    assert settings.port == 7100
    assert settings.kafka.bootstrap == "broker:9092"
    assert (settings.database.host, settings.database.port) == ("db.example", 3310)


def test_defaults_follow_the_issue(environment: pytest.MonkeyPatch) -> None:
    settings = AuthSettings.load([])
    assert settings.port == 7000
    assert settings.deadlines.heartbeat_timeout == 3.0
    assert settings.auto_id_prefix == "CP-A"


def test_the_heartbeat_timeout_comes_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("AUTH_HEARTBEAT_TIMEOUT", "5.5")
    assert AuthSettings.load([]).deadlines.heartbeat_timeout == 5.5


@pytest.mark.parametrize(
    ("name", "value", "culprit"),
    [
        ("CP_ENROLMENT_KEY", "short", "CP_ENROLMENT_KEY"),
        ("AUTH_AUTO_ID_PREFIX", "CP_%", "AUTH_AUTO_ID_PREFIX"),
        ("AUTH_HEARTBEAT_TIMEOUT", "0.5", "AUTH_HEARTBEAT_INTERVAL"),
    ],
)
def test_a_bad_setting_stops_the_service_naming_it(
    environment: pytest.MonkeyPatch, name: str, value: str, culprit: str
) -> None:
    environment.setenv(name, value)
    with pytest.raises(SystemExit, match=culprit):
        AuthSettings.load([])


def test_a_missing_enrolment_key_is_named(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("CP_ENROLMENT_KEY")
    with pytest.raises(SystemExit, match="CP_ENROLMENT_KEY"):
        AuthSettings.load([])
