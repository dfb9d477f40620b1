"""Kafka's external listener on the real broker: SASL_SSL, one SCRAM user per role, ACLs.

The test stack's broker is a central as docs/security.md describes it: its external
listener at localhost:KAFKA_EXTERNAL_PORT, its certificate from the test PKI
(PKI_DIR), the users and ACLs written by kafka-setup (the `infra` fixture runs it).
The clients are the services' own (evcharging.kafka, the engine's command feed, the
driver app), configured from the environment as a site's or a driver's containers are.
The central's side of each exchange uses the host listener, like the central's own
services use the compose network's: plaintext, a super user.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
)

from cp_engine.commands import CommandFeed
from cp_engine.control import ask
from evcharging import acl, health, kafka_admin
from evcharging import kafka_security as k
from evcharging import messages as m
from evcharging.kafka import ContractProducer, client_config, consumer_config, producer_config
from evcharging.kafka_security import KafkaSecurity
from evcharging.partitioning import partition_for
from evcharging.topics import CP_COMMANDS, DRIVER_RESPONSES, TELEMETRY, TICKETS, Topic
from tests.support.processes import ServiceProcess
from tests.support.scripted_central import Plan, ScriptedCentral
from tests.support.stack import ROOT, Infra, free_port, stack_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SIGN_IN_TIMEOUT = 30.0
"""Seconds for a client to get in, or to say why it cannot."""


def uid(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def external(infra: Infra) -> str:
    """The central's listener for other hosts, as a site or a driver names it."""
    return f"localhost:{stack_settings()['KAFKA_EXTERNAL_PORT']}"


@pytest.fixture(scope="module")
def ca_file() -> str:
    return str(Path(stack_settings()["PKI_DIR"]) / "ca.crt")


@pytest.fixture(scope="module")
def admin(infra: Infra) -> AdminClient:
    """The central's admin client, on the host listener (a super user)."""
    return AdminClient(client_config(infra.kafka_bootstrap, KafkaSecurity()))


@pytest.fixture(autouse=True)
def problem_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The health problem file of this test alone, and no problem said before it."""
    path = tmp_path / "problem"
    monkeypatch.setattr(health, "PROBLEM_PATH", path)
    monkeypatch.setattr(k, "_problems", k._Problems())
    return path


@contextmanager
def signed_in_as(
    monkeypatch: pytest.MonkeyPatch, user: str | None, password: str | None = None, ca: str | None = None
) -> Iterator[None]:
    """The environment of a site's or driver's container while clients are made in it
    (each client keeps the security it was made with). `user` None: plaintext."""
    with monkeypatch.context() as env:
        for name in (
            "KAFKA_SECURITY_PROTOCOL",
            "KAFKA_SASL_USERNAME",
            "KAFKA_SASL_PASSWORD",
            "KAFKA_CA_FILE",
        ):
            env.delenv(name, raising=False)
        if user is not None:
            env.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
            env.setenv("KAFKA_SASL_USERNAME", user)
            env.setenv("KAFKA_SASL_PASSWORD", password or "")
            if ca:
                env.setenv("KAFKA_CA_FILE", ca)
        yield


def password(user: str) -> str:
    return os.environ[acl.BY_USER[user].password_variable]


def telemetry(cp_id: str) -> m.Telemetry:
    return m.Telemetry(
        cp_id=cp_id, session_id=uid("S"), seq=0, kw=Decimal("7.4"), kwh=Decimal("0.1"), eur=Decimal("0.04")
    )


def high_watermark(bootstrap: str, topic: Topic, key: str) -> int:
    consumer = Consumer(consumer_config(bootstrap, f"test-watermark-{uid()}"))
    try:
        tp = TopicPartition(topic.name, partition_for(key, topic.partitions))
        return int(consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1])
    finally:
        consumer.close()


def served(client: Producer | ContractProducer, reports: list[KafkaError | None]) -> list[KafkaError | None]:
    """Serve the client's callbacks a moment; the delivery reports so far."""
    client.poll(0.2)
    return reports


def said(client: Producer | Consumer | ContractProducer, problem_file: Path) -> str | None:
    """Serve the client's callbacks a moment; the problem said, once there is one."""
    client.poll(0.2)
    return health.problem(problem_file)


# --- what each role may do ---------------------------------------------------------------


def test_a_site_sends_telemetry_and_follows_its_commands(
    infra: Infra, external: str, ca_file: str, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's own clients: its producer, and its command feed (its partition of
    comandos_cp, the offsets of its group cp-engine-<id>, a look back in time)."""
    cp_id = uid("CP-")
    central = ContractProducer(infra.kafka_bootstrap, "test-central")
    central.send(CP_COMMANDS, m.StopCp(cp_id=cp_id))  # sent while the CP was starting
    assert central.flush(10) == 0
    with signed_in_as(monkeypatch, "site", password("site"), ca_file):
        engine = ContractProducer(external, "cp-engine")
        feed = CommandFeed(external, cp_id, engine)
    try:
        delivered: list[KafkaError | None] = []
        engine.send(TELEMETRY, telemetry(cp_id), on_delivery=lambda error, _record: delivered.append(error))
        assert engine.flush(SIGN_IN_TIMEOUT) == 0
        assert delivered == [None]

        applied: list[m.Message] = []

        def command_applied() -> list[m.Message]:
            feed.next(applied.append, 0.2)
            return applied

        wait_until(command_applied, SIGN_IN_TIMEOUT, "the command at the CP")
        assert applied == [
            m.StopCp(cp_id=cp_id, message_id=applied[0].message_id, sent_at=applied[0].sent_at)
        ]

        group = f"cp-engine-{cp_id}"

        def committed() -> bool:
            feed.next(applied.append, 0.1)
            [offsets] = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]).values()
            return any(tp.offset > 0 for tp in offsets.result().topic_partitions)

        wait_until(committed, SIGN_IN_TIMEOUT, f"the offset committed in {group}")
    finally:
        feed.close()
    assert health.problem() is None


def test_a_driver_charges_lists_and_reads_tickets(
    infra: Infra, central: ScriptedCentral, external: str, ca_file: str, problem_file: Path
) -> None:
    """The driver app itself, as a driver's container runs it."""
    cp_id, driver_id = uid(), uid()
    central.plans[cp_id] = Plan(updates=1, price=Decimal("0.300"), location="Security test bay")
    central.status(cp_id, m.CpState.ACTIVE)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "services/driver"), str(ROOT / "lib")]),
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": "driver",
        "KAFKA_SASL_PASSWORD": password("driver"),
        "KAFKA_CA_FILE": ca_file,
        "DRIVER_ID": "",
        "HEALTH_PROBLEM_FILE": str(problem_file),
    }

    def driver(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "driver",
            "--broker",
            external,
            "--driver",
            driver_id,
            "--json",
            *args,
        ]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT, check=False
        )

    listed = driver("list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert cp_id in {cp["cp_id"] for cp in json.loads(listed.stdout)}

    charged = driver("charge", cp_id)
    assert charged.returncode == 0, charged.stdout + charged.stderr
    events = [json.loads(line) for line in charged.stdout.splitlines() if line.strip()]
    assert events[-1]["event"] == "finished"
    assert events[-1]["ticket"]["driver_id"] == driver_id

    tickets = driver("tickets")
    assert tickets.returncode == 0, tickets.stdout + tickets.stderr
    assert events[-1]["ticket"]["ticket_id"] in tickets.stdout
    assert not problem_file.exists()


@pytest.mark.parametrize(
    ("user", "topic"),
    [("driver", TELEMETRY), ("site", DRIVER_RESPONSES), ("site", TICKETS), ("site", CP_COMMANDS)],
)
def test_a_role_writing_another_roles_topic_gets_the_brokers_authorization_error(
    external: str, ca_file: str, monkeypatch: pytest.MonkeyPatch, user: str, topic: Topic
) -> None:
    with signed_in_as(monkeypatch, user, password(user), ca_file):
        producer = Producer(producer_config(external, f"test-{user}"))
    reports: list[KafkaError | None] = []
    producer.produce(topic.name, b"{}", key=b"CP-X", on_delivery=lambda error, _m: reports.append(error))
    wait_until(lambda: served(producer, reports), SIGN_IN_TIMEOUT, "the delivery report")
    [error] = reports
    assert error is not None
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_driver_cannot_read_the_cps_commands(
    external: str, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with signed_in_as(monkeypatch, "driver", password("driver"), ca_file):
        consumer = Consumer(consumer_config(external, f"driver-{uid()}"))
    try:
        consumer.subscribe([CP_COMMANDS.name])

        def refused() -> KafkaError | None:
            record = consumer.poll(0.2)
            return None if record is None else record.error()

        error = wait_until(refused, SIGN_IN_TIMEOUT, "the broker's answer")
        assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        consumer.close()


# --- sign-in failures, said in one sentence ------------------------------------------------


def test_a_wrong_password_is_said_once_and_nothing_is_produced(
    infra: Infra,
    external: str,
    ca_file: str,
    problem_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cp_id = uid("CP-")
    before = high_watermark(infra.kafka_bootstrap, TELEMETRY, cp_id)
    attempts: list[str] = []
    classify = k.classify

    def counted(text: str, protocol: str) -> k.Failure | None:
        attempts.append(text)
        return classify(text, protocol)

    monkeypatch.setattr(k, "classify", counted)
    with signed_in_as(monkeypatch, "site", "not-the-password", ca_file):
        engine = ContractProducer(external, "cp-engine")
    engine.send(TELEMETRY, telemetry(cp_id))

    problem = wait_until(lambda: said(engine, problem_file), SIGN_IN_TIMEOUT, "the refusal to be said")
    assert problem == (
        f"Kafka at {external} refuses user 'site' (wrong password or unknown user): "
        "set KAFKA_SASL_PASSWORD to the central's KAFKA_SITE_PASSWORD"
    )
    seen = len(attempts)
    wait_until(
        lambda: engine.poll(0.2) >= 0 and len(attempts) >= seen + 3, SIGN_IN_TIMEOUT, "librdkafka's retries"
    )
    assert [r.getMessage() for r in caplog.records if r.name == "evcharging.kafka_security"] == [problem]
    assert not [r for r in caplog.records if r.name == "librdkafka" and "SASL" in r.getMessage()]
    assert engine.flush(0) == 1, "the telemetry is still waiting"
    assert high_watermark(infra.kafka_bootstrap, TELEMETRY, cp_id) == before


def test_a_plaintext_client_on_the_external_port_is_refused(
    external: str, problem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with signed_in_as(monkeypatch, None):
        producer = Producer(producer_config(external, "test-plaintext"))
    reports: list[KafkaError | None] = []
    producer.produce(TELEMETRY.name, b"{}", key=b"CP-X", on_delivery=lambda error, _m: reports.append(error))

    problem = wait_until(lambda: said(producer, problem_file), SIGN_IN_TIMEOUT, "the refusal to be said")
    assert problem == (
        f"Kafka at {external} wants TLS on that port, and this client speaks plaintext: set "
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL with KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_CA_FILE"
    )
    assert reports == []


def test_a_client_trusting_another_ca_is_refused(
    external: str, tmp_path: Path, problem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=Another CA", "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other_ca)),
        ],
        check=True,
        capture_output=True,
    )
    with signed_in_as(monkeypatch, "site", password("site"), str(other_ca)):
        producer = Producer(producer_config(external, "test-other-ca"))
    producer.produce(TELEMETRY.name, b"{}", key=b"CP-X")

    problem = wait_until(lambda: said(producer, problem_file), SIGN_IN_TIMEOUT, "the refusal to be said")
    assert problem == (
        f"Kafka at {external} presents a certificate not signed by the CA in KAFKA_CA_FILE ({other_ca}): "
        "copy the central's pki/ca.crt to this host and set KAFKA_CA_FILE to it"
    )


def test_a_name_the_certificate_does_not_hold_is_refused(
    external: str, ca_file: str, problem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(external.rpartition(":")[2])
    try:
        socket.create_connection(("127.0.0.2", port), timeout=5).close()
    except OSError:
        pytest.skip("the external port is published on 127.0.0.1 only (PUBLISH_ADDRESS)")
    with signed_in_as(monkeypatch, "site", password("site"), ca_file):
        producer = Producer(producer_config(f"127.0.0.2:{port}", "test-name"))
    producer.produce(TELEMETRY.name, b"{}", key=b"CP-X")

    problem = wait_until(lambda: said(producer, problem_file), SIGN_IN_TIMEOUT, "the refusal to be said")
    assert problem.startswith("Kafka's certificate is not issued for '127.0.0.2' (TLS name mismatch)")


def test_a_changed_password_lets_the_client_in_and_clears_the_problem(
    external: str, ca_file: str, admin: AdminClient, problem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What kafka-setup does at the next start when .env has a new password: the client
    that was refused gets in at its next retry, and the health problem goes."""
    user = f"test-{uid()}"
    kafka_admin.upsert_users(admin, {user: "old-password"})
    try:
        with signed_in_as(monkeypatch, user, "new-password", ca_file):
            consumer = Consumer(consumer_config(external, f"test-{uid()}"))
        try:
            wait_until(lambda: said(consumer, problem_file), SIGN_IN_TIMEOUT, "the refusal to be said")
            kafka_admin.upsert_users(admin, {user: "new-password"})
            wait_until(
                lambda: said(consumer, problem_file) is None, SIGN_IN_TIMEOUT, "the problem to be cleared"
            )
        finally:
            consumer.close()
    finally:
        deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
        for future in admin.alter_user_scram_credentials([deletion]).values():
            future.result()


def test_the_engines_screen_status_says_why_kafka_refuses_it_until_it_gets_in(
    external: str, ca_file: str, admin: AdminClient, tmp_path: Path
) -> None:
    """A real engine process signed in with a password the broker does not know yet: its
    control status (what `charger screen` and `charger status` show) carries the sentence
    its log and health say, and loses it once kafka-setup gives the user that password.
    The user may write one topic, as a site may: its idempotent producer needs that."""
    user, control = f"test-{uid()}", tmp_path / "engine.sock"
    kafka_admin.upsert_users(admin, {user: "old-password"})
    may_write = AclBinding(
        ResourceType.TOPIC,
        TELEMETRY.name,
        ResourcePatternType.LITERAL,
        f"User:{user}",
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )
    for future in admin.create_acls([may_write]).values():
        future.result()
    engine = ServiceProcess(
        "cp-engine",
        "cp_engine",
        [external, str(free_port())],
        tmp_path / "engine.log",
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": "new-password",
            "KAFKA_CA_FILE": ca_file,
            "ENGINE_CONTROL_SOCKET": str(control),
            "HEALTH_FILE": str(tmp_path / "alive"),
            "HEALTH_PROBLEM_FILE": str(tmp_path / "engine-problem"),
        },
    )

    def kafka_problem() -> str | None:
        status = ask(control, {"action": "status"}).status
        assert status is not None
        return status.kafka_problem

    try:
        problem = wait_until(kafka_problem, SIGN_IN_TIMEOUT, "the refusal on the engine's status")
        assert problem.startswith(
            f"Kafka at {external} refuses user '{user}' (wrong password or unknown user)"
        )
        assert health.problem(tmp_path / "engine-problem") == problem
        assert problem in engine.log()

        kafka_admin.upsert_users(admin, {user: "new-password"})
        wait_until(lambda: kafka_problem() is None, SIGN_IN_TIMEOUT, "the engine's status to be clear")
        assert engine.running
    finally:
        engine.stop()
        anything_of_the_user = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]  # None: any name, any host (the stubs say str)
            ResourcePatternType.ANY,
            f"User:{user}",
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        for future in admin.delete_acls([anything_of_the_user]).values():
            future.result()
        deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
        for future in admin.alter_user_scram_credentials([deletion]).values():
            future.result()


# --- kafka-setup --------------------------------------------------------------------------


def test_the_acls_converge_on_the_contract(admin: AdminClient) -> None:
    """A re-run adds nothing; an ACL the contract does not grant a role is taken away."""
    assert kafka_admin.apply_acls(admin) == (0, 0)
    extra = AclBinding(
        ResourceType.TOPIC,
        TICKETS.name,
        ResourcePatternType.LITERAL,
        acl.SITE.principal,
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )
    for future in admin.create_acls([extra]).values():
        future.result()
    try:
        wait_until(
            lambda: kafka_admin.apply_acls(admin) == (0, 1), SIGN_IN_TIMEOUT, "the stray ACL to be removed"
        )
    finally:
        wait_until(
            lambda: kafka_admin.apply_acls(admin) == (0, 0), SIGN_IN_TIMEOUT, "the contract's ACLs alone"
        )
