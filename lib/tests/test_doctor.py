"""`make doctor`'s plan and its verdicts, without a central: which links each role
checks, in which order, and that a link stops at its first problem."""

from __future__ import annotations

import socket

import pytest

from evcharging import doctor
from evcharging.doctor import Link, Problem, Settings

ENV = {
    "CENTRAL_HOST": "192.0.2.10",
    "KAFKA_EXTERNAL_PORT": "9095",
    "AUTH_TLS_HOST_PORT": "7443",
    "KAFKA_CENTRAL_PASSWORD": "c",
    "KAFKA_SITE_PASSWORD": "s",
    "KAFKA_DRIVER_PASSWORD": "d",
}


def links(role: str) -> list[str]:
    return [link.name for link in doctor.plan(Settings.from_env({**ENV, "ROLE": role}))]


def test_a_site_checks_kafka_as_site_and_central_auth_over_tls() -> None:
    assert links("site") == [
        "Kafka at 192.0.2.10:9095 as 'site'",
        "central-auth at 192.0.2.10:7443 (TLS)",
    ]


def test_a_driver_checks_kafka_as_driver_only() -> None:
    assert links("driver") == ["Kafka at 192.0.2.10:9095 as 'driver'"]


def test_the_central_checks_its_own_ports_and_every_role_as_the_others_will() -> None:
    assert links("central") == [
        "the status page (localhost:8080)",
        "MariaDB (localhost:3307)",
        "Kafka's listener for this machine (localhost:9094)",
        "Kafka at 192.0.2.10:9095 as 'central'",
        "Kafka at 192.0.2.10:9095 as 'site'",
        "Kafka at 192.0.2.10:9095 as 'driver'",
        "central-auth at 192.0.2.10:7443 (TLS)",
    ]


def test_one_machine_checks_itself_at_localhost() -> None:
    settings = Settings.from_env({"KAFKA_SITE_PASSWORD": "s"})
    assert (settings.role, settings.central_host, settings.kafka_brokers, settings.auth_port) == (
        "all",
        "localhost",
        (("localhost", 9095),),
        7443,
    )


def test_a_site_checks_each_broker_its_kit_lists() -> None:
    brokers = "192.0.2.10:9095,192.0.2.10:9097,192.0.2.10:9099"
    settings = Settings.from_env({**ENV, "ROLE": "site", "KAFKA_BROKERS": brokers})
    assert [link.name for link in doctor.plan(settings)] == [
        "Kafka at 192.0.2.10:9095 as 'site'",
        "Kafka at 192.0.2.10:9097 as 'site'",
        "Kafka at 192.0.2.10:9099 as 'site'",
        "central-auth at 192.0.2.10:7443 (TLS)",
    ]


def test_a_three_node_central_checks_each_of_its_brokers() -> None:
    env = {**ENV, "ROLE": "central", "KAFKA_NODES": "3", "KAFKA_EXTERNAL_PORT_2": "19097"}
    assert Settings.from_env(env).kafka_brokers == (
        ("192.0.2.10", 9095),
        ("192.0.2.10", 19097),
        ("192.0.2.10", 9099),
    )


def test_a_link_stops_at_its_first_problem() -> None:
    tried: list[str] = []

    def step(name: str, fails: bool = False) -> str:
        tried.append(name)
        if fails:
            raise Problem(f"{name} is wrong: fix it")
        return f"{name} ok"

    verdict = doctor.examine(Link("x", (lambda: step("a"), lambda: step("b", fails=True), lambda: step("c"))))
    assert (verdict.ok, verdict.text, tried) == (False, "b is wrong: fix it", ["a", "b"])
    assert verdict.line() == "FAIL  x: b is wrong: fix it"
    assert doctor.examine(Link("y", (lambda: step("a"),))).line() == "ok    y: a ok"


def test_a_closed_port_is_named_with_what_to_look_at() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    with pytest.raises(Problem, match=f"nothing answers at 127.0.0.1:{port}: is the central up"):
        doctor.reach("127.0.0.1", port)


def test_an_unknown_name_says_to_check_central_host() -> None:
    with pytest.raises(Problem, match="cannot be resolved here: check CENTRAL_HOST"):
        doctor.reach("no-such-host.invalid", 9095)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ROLE", "kitchen", "ROLE='kitchen': Input should be 'all', 'central', 'site' or 'driver'"),
        (
            "KAFKA_BROKERS",
            "192.0.2.10:9095,192.0.2.10",
            "KAFKA_BROKERS='192.0.2.10:9095,192.0.2.10': '192.0.2.10' is not HOST:PORT",
        ),
        ("AUTH_TLS_HOST_PORT", "x", "AUTH_TLS_HOST_PORT='x': Input should be a valid integer"),
        ("KAFKA_NODES", "2", "KAFKA_NODES='2': Input should be '1' or '3'"),
    ],
)
def test_a_bad_setting_stops_the_doctor_naming_it(name: str, value: str, expected: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env({**ENV, name: value})
    assert str(stopped.value.code).startswith(f"configuration error: {expected}")


def test_a_kit_names_central_auth_by_its_own_port_and_the_passwords_stay_hidden() -> None:
    settings = Settings.from_env({**ENV, "ROLE": "site", "AUTH_TLS_PORT": "17443"})
    assert (settings.auth_port, dict(settings.passwords)) == (17443, {"site": "s"})
    assert "'s'" not in repr(settings)


def test_the_doctor_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLE", "driver")
    monkeypatch.setenv("CENTRAL_HOST", "192.0.2.20")
    monkeypatch.setenv("KAFKA_DRIVER_PASSWORD", "d")
    monkeypatch.delenv("KAFKA_BROKERS", raising=False)
    monkeypatch.delenv("KAFKA_EXTERNAL_PORT", raising=False)
    monkeypatch.delenv("KAFKA_NODES", raising=False)
    assert [link.name for link in doctor.plan(Settings.from_env())] == [
        "Kafka at 192.0.2.20:9095 as 'driver'"
    ]
