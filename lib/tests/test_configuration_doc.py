"""docs/configuration.md is generated from the settings classes and must be kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from evcharging.configuration_doc import SERVICES, render, rows, settings_class

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_is_current() -> None:
    assert DOC.read_text() == render(), "run: make docs"


def test_a_secret_is_marked_and_its_value_never_shown() -> None:
    (password,) = [
        row
        for row in rows(settings_class("central_web.settings:WebSettings"))
        if row.variable == "DB_PASSWORD"
    ]
    assert password.expected.endswith("(secret)")
    assert password.default == "unset: none of this group is used"


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_of_a_service_is_described(service: str) -> None:
    found = [row for location in SERVICES[service] for row in rows(settings_class(location))]
    assert found
    assert [row.variable for row in found if not row.description] == []


def test_nested_groups_are_listed_in_their_service() -> None:
    names = [row.variable for row in rows(settings_class("central_auth.settings:AuthSettings"))]
    assert len(names) == len(set(names))
    assert {"AUTH_PORT", "KAFKA_BOOTSTRAP", "DB_PASSWORD", "AUTH_HEARTBEAT_TIMEOUT"} <= set(names)


def test_what_every_service_shares_has_a_section_of_its_own() -> None:
    shared = {
        row.variable
        for section in ("every service", "every Kafka client (all services but cp-monitor and ocpp-gateway)")
        for location in SERVICES[section]
        for row in rows(settings_class(location))
    }
    assert {"LOG_LEVEL", "HEALTH_FILE", "HEALTH_PROBLEM_FILE", "KAFKA_SECURITY_PROTOCOL"} <= shared


def test_an_optional_secret_shows_as_unset() -> None:
    (password,) = [
        row
        for row in rows(settings_class("evcharging.kafka_security:KafkaSecuritySettings"))
        if row.variable == "KAFKA_SASL_PASSWORD"
    ]
    assert (password.expected, password.default) == ("text (secret)", "unset")
