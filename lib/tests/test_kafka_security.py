"""Client security from the environment, and librdkafka's sign-in failures as one sentence.

The librdkafka texts are the ones seen against the stack's broker (confluent-kafka 2.16,
librdkafka 2.16; tests/integration/test_kafka_security.py meets them for real).
"""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from evcharging import health, kafka
from evcharging import kafka_security as k
from evcharging.config import load
from evcharging.kafka_security import ClientWatch, KafkaSecurity, KafkaSecuritySettings

SITE = KafkaSecurity("SASL_SSL", "site", "secret", "/etc/evcharging/ca.crt")
PLAIN = KafkaSecurity()

BAD_CREDENTIALS = (
    "sasl_ssl://localhost:29095/bootstrap: SASL authentication error: Authentication failed during "
    "authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
    "(after 327ms in state AUTH_REQ)"
)
UNTRUSTED = (
    "sasl_ssl://localhost:29095/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate "
    "verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly "
    "configured or root CA certificates are installed (install ca-certificates package) (after 10ms in state "
    "SSL_HANDSHAKE)"
)
TLS_TO_PLAINTEXT = (
    "sasl_ssl://localhost:29094/bootstrap: SSL handshake failed: Disconnected: SSL connection closed by "
    "peer: connecting to a PLAINTEXT broker listener? (after 1ms in state SSL_HANDSHAKE)"
)
PLAINTEXT_CLOSED_LOG = (
    "[thrd:localhost:29095/bootstrap]: localhost:29095/bootstrap: Disconnected: connection closed by peer: "
    "receive 0 after POLLIN (after 36ms in state APIVERSION_QUERY)"
)
PLAINTEXT_TO_SSL_HINT = (
    "localhost:29095/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect "
    "security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see "
    "api.version.request) (after 2ms in state APIVERSION_QUERY)"
)
REFUSED = "[thrd:localhost:1/bootstrap]: localhost:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)"  # noqa: E501
SSL_CLOSED_AFTER = (
    "sasl_ssl://localhost:29094/bootstrap: Disconnected: SSL connection closed by peer (after 3ms in state "
    "SSL_HANDSHAKE)"
)


def up(node_id: int = 1) -> str:
    """librdkafka's statistics, cut to what ClientWatch reads."""
    return json.dumps(
        {
            "brokers": {
                "localhost:29095/bootstrap": {"nodeid": -1, "state": "INIT"},
                f"172.17.0.1:29095/{node_id}": {"nodeid": node_id, "state": "UP"},
            }
        }
    )


DOWN = json.dumps({"brokers": {"localhost:29095/bootstrap": {"nodeid": -1, "state": "AUTH_REQ"}}})


@pytest.fixture(autouse=True)
def problem_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A health problem file of the test's own, and a process state without problems."""
    path = tmp_path / "problem"
    monkeypatch.setattr(health, "PROBLEM_PATH", path)
    monkeypatch.setattr(k, "_problems", k._Problems())
    monkeypatch.setattr(k, "check_certificate", lambda *_args, **_kw: None)
    return path


# --- settings ---------------------------------------------------------------------


def test_plaintext_by_default() -> None:
    assert KafkaSecurity.from_env({}) == PLAIN
    assert PLAIN.config() == {"security.protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_and_the_project_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    security = KafkaSecurity.from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "KAFKA_SASL_USERNAME": "site",
            "KAFKA_SASL_PASSWORD": "pw",
            "KAFKA_CA_FILE": str(ca),
        }
    )
    assert security.config() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "site",
        "sasl.password": "pw",
        "ssl.ca.location": str(ca),
        "ssl.endpoint.identification.algorithm": "https",
    }
    assert "pw" not in repr(security)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SSL"}, "KAFKA_SECURITY_PROTOCOL=SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "site"}, "KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "pw"}, "KAFKA_SASL_USERNAME"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_USERNAME": "site",
                "KAFKA_SASL_PASSWORD": "pw",
                "KAFKA_CA_FILE": "/nowhere/ca.crt",
            },
            "KAFKA_CA_FILE=/nowhere/ca.crt",
        ),
    ],
)
def test_a_setting_that_cannot_work_stops_the_service_naming_it(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SystemExit, match=named):
        KafkaSecurity.from_env(environ)


def test_each_setting_that_cannot_work_is_one_sentence_saying_what_to_set() -> None:
    def stop_line(environ: dict[str, str]) -> str:
        with pytest.raises(SystemExit) as stopped:
            KafkaSecurity.from_env(environ)
        return str(stopped.value.code)

    assert stop_line({"KAFKA_SECURITY_PROTOCOL": " ssl"}) == (
        "configuration error: KAFKA_SECURITY_PROTOCOL=SSL is not offered by the central's Kafka: "
        "use PLAINTEXT inside its network, SASL_SSL from other hosts"
    )
    assert stop_line({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": ""}) == (
        "configuration error: KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and "
        "KAFKA_SASL_PASSWORD (the Kafka user of this host's role and its password, from the central's .env)"
    )


def test_plaintext_ignores_the_sasl_variables_and_the_process_environment_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert KafkaSecurity.from_env({"KAFKA_SASL_USERNAME": "site", "KAFKA_CA_FILE": "/nowhere"}) == PLAIN
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "site")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "the password")
    monkeypatch.delenv("KAFKA_CA_FILE", raising=False)
    settings = load(KafkaSecuritySettings)
    assert "the password" not in repr(settings)
    assert settings.security() == KafkaSecurity("SASL_SSL", "site", "the password")


def test_every_client_config_carries_the_security_and_the_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "driver")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    monkeypatch.delenv("KAFKA_CA_FILE", raising=False)
    for config in (
        kafka.producer_config("h:9095", "p"),
        kafka.consumer_config("h:9095", "g"),
        kafka.client_config("h:9095"),
    ):
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.username"] == "driver"
        assert isinstance(config["logger"], ClientWatch)
        assert config["error_cb"] == config["logger"].on_error
        assert config["stats_cb"] == config["logger"].on_stats


# --- librdkafka's failures as sentences ----------------------------------------------


def test_a_refused_password_names_the_variable_to_fix() -> None:
    said = k.explain(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS), SITE)
    assert said == (
        "Kafka at localhost:29095 refuses user 'site' (wrong password or unknown user): "
        "set KAFKA_SASL_PASSWORD to the central's KAFKA_SITE_PASSWORD"
    )


def test_an_unknown_user_is_told_the_users_there_are() -> None:
    said = k.explain(
        KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS), KafkaSecurity("SASL_SSL", "bob", "x")
    )
    assert said is not None
    assert "refuses user 'bob'" in said
    assert "KAFKA_SASL_USERNAME to one of central, site, driver" in said


def test_a_certificate_of_another_ca_names_the_ca_file() -> None:
    said = k.explain(KafkaError(KafkaError._SSL, UNTRUSTED), SITE)
    assert said == (
        "Kafka at localhost:29095 presents a certificate not signed by the CA in KAFKA_CA_FILE "
        "(/etc/evcharging/ca.crt): copy the central's pki/ca.crt to this host and set KAFKA_CA_FILE to it"
    )


def test_a_certificate_for_another_name_says_so() -> None:
    failure = k.classify(UNTRUSTED.replace("localhost", "10.0.0.5"), "SASL_SSL")
    assert failure is not None
    said = k.sentence(failure, SITE, k.certificate_reason(64, "IP address mismatch"))
    assert said.startswith("Kafka's certificate is not issued for '10.0.0.5' (TLS name mismatch)")
    assert "CENTRAL_HOST=10.0.0.5" in said


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (62, "name"),
        (64, "name"),
        (10, "expired"),
        (20, "issuer"),
        (19, "issuer"),
        (18, "issuer"),
        (26, "other"),
    ],
)
def test_openssl_verify_codes(code: int, reason: str) -> None:
    assert k.certificate_reason(code, "text").reason == reason


def test_tls_against_a_plaintext_port() -> None:
    said = k.explain(KafkaError(KafkaError._TRANSPORT, TLS_TO_PLAINTEXT), SITE)
    assert said is not None
    assert said.startswith("Kafka at localhost:29094 does not speak TLS on that port")
    assert "KAFKA_BOOTSTRAP" in said


@pytest.mark.parametrize("text", [PLAINTEXT_TO_SSL_HINT, PLAINTEXT_CLOSED_LOG])
def test_plaintext_against_a_tls_port(text: str) -> None:
    failure = k.classify(text, "PLAINTEXT")
    assert failure is not None
    assert failure.kind == "plaintext-to-tls"
    said = k.sentence(failure, PLAIN)
    assert said.startswith(
        "Kafka at localhost:29095 wants TLS on that port, and this client speaks plaintext"
    )
    assert "KAFKA_SECURITY_PROTOCOL=SASL_SSL" in said


@pytest.mark.parametrize(
    "text",
    [
        REFUSED,
        "1/1 brokers are down",
        "sasl_ssl://172.17.0.1:29095/1: Broker: Cluster authorization failed",
        SSL_CLOSED_AFTER,
    ],
)
def test_other_errors_are_left_to_librdkafka(text: str) -> None:
    assert k.explain(KafkaError(KafkaError._TRANSPORT, text), SITE) is None


def test_a_tls_client_whose_connection_closes_while_asking_versions_is_not_plaintext() -> None:
    assert k.classify(PLAINTEXT_CLOSED_LOG, "SASL_SSL") is None


# --- said once, in the log and in the health file, until the client gets in ----------


def test_a_failure_is_said_once_however_often_librdkafka_retries(
    caplog: pytest.LogCaptureFixture, problem_file: Path
) -> None:
    watch = ClientWatch("localhost:29095", SITE)
    with caplog.at_level(logging.INFO, logger="evcharging.kafka_security"):
        for _ in range(5):
            watch.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
            watch.on_stats(DOWN)
    said = [r.getMessage() for r in caplog.records if r.name == "evcharging.kafka_security"]
    assert said == [watch.problem]
    assert health.problem(problem_file) == watch.problem


def test_the_problem_is_cleared_once_the_client_gets_in(
    caplog: pytest.LogCaptureFixture, problem_file: Path
) -> None:
    watch = ClientWatch("localhost:29095", SITE)
    watch.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
    with caplog.at_level(logging.INFO, logger="evcharging.kafka_security"):
        watch.on_stats(up())
    assert watch.problem is None
    assert not problem_file.exists()
    assert "accepts this client now" in caplog.text


def test_only_a_broker_as_advertised_counts_as_getting_in(problem_file: Path) -> None:
    watch = ClientWatch("localhost:29095", SITE)
    watch.on_error(KafkaError(KafkaError._SSL, UNTRUSTED))
    bootstrap_only = json.dumps({"brokers": {"localhost:29095/bootstrap": {"nodeid": -1, "state": "UP"}}})
    watch.on_stats(bootstrap_only)
    assert problem_file.exists()


def test_two_clients_with_one_problem_say_it_once_and_clear_it_together(
    caplog: pytest.LogCaptureFixture, problem_file: Path
) -> None:
    producer, consumer = ClientWatch("localhost:29095", SITE), ClientWatch("localhost:29095", SITE)
    with caplog.at_level(logging.ERROR, logger="evcharging.kafka_security"):
        producer.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
        consumer.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-2", BAD_CREDENTIALS)
    assert len(caplog.records) == 1
    producer.on_stats(up())
    assert problem_file.exists(), "the consumer is still out"
    consumer.on_stats(up())
    assert not problem_file.exists()


def test_the_processs_current_problem_is_its_own_clients_not_the_containers_file(
    problem_file: Path,
) -> None:
    """What the engine's screen shows: a sentence of a live client of this process, until
    every one of them is in; another process's (or another kind of) problem is not one."""
    health.report_problem("Kafka at localhost:29095 refuses user 'driver' (said by a driver command)")
    assert k.current_problem() is None
    producer, consumer = ClientWatch("localhost:29095", SITE), ClientWatch("localhost:29095", SITE)
    producer.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
    consumer.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
    assert k.current_problem() == producer.problem
    producer.on_stats(up())
    assert k.current_problem() == consumer.problem, "the consumer is still out"
    del consumer  # a client closed and dropped takes its problem along
    gc.collect()
    assert k.current_problem() is None


def test_a_problem_reported_by_someone_else_is_left_alone(problem_file: Path) -> None:
    watch = ClientWatch("localhost:29095", SITE)
    watch.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
    health.report_problem("the database refuses user 'evcharging'")
    watch.on_stats(up())
    assert health.problem(problem_file) == "the database refuses user 'evcharging'"


def test_librdkafka_lines_about_a_said_failure_are_dropped_others_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = ClientWatch("localhost:29094", SITE)
    with caplog.at_level(logging.INFO):
        watch.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", TLS_TO_PLAINTEXT)
        watch.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", SSL_CLOSED_AFTER)
        watch.log(
            logging.WARNING, "%s [%s] %s", "GETPID", "rdkafka#producer-1", "Coordinator load in progress"
        )
    assert [r.name for r in caplog.records] == ["evcharging.kafka_security", "librdkafka"]
    assert "Coordinator load in progress" in caplog.records[1].getMessage()


def test_plaintext_against_tls_is_said_after_a_few_closed_connections(
    caplog: pytest.LogCaptureFixture, problem_file: Path
) -> None:
    """A broker that is stopping closes a connection once; a TLS listener closes each one."""
    watch = ClientWatch("localhost:29095", PLAIN)
    with caplog.at_level(logging.INFO):
        for _ in range(k.PLAINTEXT_TO_TLS_DISCONNECTS - 1):
            watch.log(logging.INFO, "%s [%s] %s", "FAIL", "rdkafka#producer-1", PLAINTEXT_CLOSED_LOG)
        assert not problem_file.exists()
        assert {r.name for r in caplog.records} == {"librdkafka"}
        watch.log(logging.INFO, "%s [%s] %s", "FAIL", "rdkafka#producer-1", PLAINTEXT_CLOSED_LOG)
    assert health.problem(problem_file) == watch.problem
    assert watch.problem is not None
    assert "wants TLS" in watch.problem


def test_closed_connections_far_apart_do_not_add_up() -> None:
    watch = ClientWatch("localhost:29095", PLAIN)
    for _ in range(k.PLAINTEXT_TO_TLS_DISCONNECTS - 1):
        watch.log(logging.INFO, "%s [%s] %s", "FAIL", "rdkafka#producer-1", PLAINTEXT_CLOSED_LOG)
    watch.on_stats(up())
    watch.log(logging.INFO, "%s [%s] %s", "FAIL", "rdkafka#producer-1", PLAINTEXT_CLOSED_LOG)
    assert watch.problem is None


def test_the_certificate_is_looked_at_once_per_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[tuple[str, int]] = []

    def check(host: str, port: int, _ca: str | None) -> k.CertificateCheck:
        looked.append((host, port))
        return k.CertificateCheck("name", "Hostname mismatch")

    monkeypatch.setattr(k, "check_certificate", check)
    watch = ClientWatch("localhost:29095", SITE)
    for _ in range(3):
        watch.on_error(KafkaError(KafkaError._SSL, UNTRUSTED))
    assert looked == [("localhost", 29095)]
    assert watch.problem is not None
    assert "TLS name mismatch" in watch.problem


def test_a_problem_said_by_another_process_goes_once_a_client_here_gets_in(
    caplog: pytest.LogCaptureFixture, problem_file: Path
) -> None:
    """`docker compose exec driver driver list` with a wrong password left the sentence in
    the container's health; the next driver command that gets in clears it."""
    health.report_problem(k.sentence(k.Failure("credentials", "central", 9095, ""), SITE))
    watch = ClientWatch("central:9095", SITE)
    with caplog.at_level(logging.INFO, logger="evcharging.kafka_security"):
        watch.on_stats(up())
    assert not problem_file.exists()
    assert "the problem reported before is over" in caplog.text


def test_a_client_that_got_in_stops_reading_its_statistics() -> None:
    watch = ClientWatch("central:9095", SITE)
    watch.on_stats(up())
    watch.on_stats("not json: it is not even read")


@pytest.mark.parametrize(
    "kind", ["credentials", "mechanism", "certificate", "tls-to-plaintext", "plaintext-to-tls", "tls"]
)
@pytest.mark.parametrize("reason", [None, "issuer", "name", "expired", "other"])
def test_every_sentence_is_known_as_a_sign_in_problem(kind: k.FailureKind, reason: str | None) -> None:
    check = None if reason is None else k.CertificateCheck(reason, "detail")  # type: ignore[arg-type]
    said = k.sentence(k.Failure(kind, "central", 9095, "detail"), SITE, check)
    assert k.is_sign_in_problem(said)
    assert said.count(". ") == 0, "one sentence"
    assert not k.is_sign_in_problem("the database at mariadb:3306 refuses user 'evcharging'")
