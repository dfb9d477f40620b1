"""`make doctor`: every link this machine's role needs, checked in order, one line each —
`ok`, or what is wrong and how to fix it (docs/deploy.md).

A link is checked layer by layer, as a person would: can the address be found and the
port be reached, does the TLS handshake accept the central's certificate, does the sign-in
work, and may the role do its job (Kafka's authorised operations on each topic and
group it uses, which the broker reports without anything being written). A link whose
lower layer failed is not tried further: its first problem is the one to fix.

It runs in the role's own image, with the host's network (scripts/doctor.sh), so it
sees the central exactly as the services of this machine do. Its settings come from
.env (DoctorSettings, listed in docs/configuration.md): the role, where the central and
its brokers are, the role's Kafka passwords (the central checks all three) and the CA.
"""

from __future__ import annotations

import socket
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient
from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode

from evcharging import acl
from evcharging.central_tls import CentralTls, TlsSetupError, explain_tls_failure
from evcharging.config import Expects, HostPort, Port, ServiceSettings, load, variable
from evcharging.kafka_security import Failure, KafkaSecurity, check_certificate, classify, sentence

TIMEOUT = 5.0
"""Seconds for each network step: a lab's network answers in far less."""


class Problem(Exception):
    """What is wrong with a link, in one sentence that says how to fix it."""


def _addresses(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(HostPort.parse(address.strip()) for address in value.split(","))
    return value


Brokers = Annotated[
    tuple[HostPort, ...],
    NoDecode,
    BeforeValidator(_addresses),
    Expects("HOST:PORT, or a comma-separated list"),
]


class DoctorSettings(ServiceSettings):
    """What `make doctor` reads, from .env through scripts/doctor.sh: this machine's role,
    where the central is and what it publishes."""

    role: Literal["all", "central", "site", "driver"] = variable(
        "ROLE", "this machine's part: everything, the central, a site or a driver (deploy.md)", "all"
    )
    central_host: str = variable(
        "CENTRAL_HOST", "the central's address as other machines reach it", "localhost"
    )
    kafka_brokers: Brokers | None = variable(
        "KAFKA_BROKERS",
        "a kit's list of every broker's external listener; unset, the central's own ports",
        None,
    )
    kafka_nodes: Literal["1", "3"] = variable(
        "KAFKA_NODES", "the central's brokers: 1, or a 3-node cluster", "1"
    )
    external_port: Port = variable("KAFKA_EXTERNAL_PORT", "the first broker's external (SASL_SSL) port", 9095)
    external_port_2: Port = variable("KAFKA_EXTERNAL_PORT_2", "the second broker's, with KAFKA_NODES=3", 9097)
    external_port_3: Port = variable("KAFKA_EXTERNAL_PORT_3", "the third broker's, with KAFKA_NODES=3", 9099)
    auth_tls_port: Port | None = variable(
        "AUTH_TLS_PORT", "central-auth's TLS port as a kit names it; unset, AUTH_TLS_HOST_PORT", None
    )
    auth_tls_host_port: Port = variable(
        "AUTH_TLS_HOST_PORT", "the port the central publishes central-auth's TLS listener on", 7443
    )
    ca_file: Path = variable(
        "CA_FILE", "the project CA (scripts/doctor.sh mounts it there)", Path("/etc/evcharging/ca.crt")
    )
    web_host_port: Port = variable("WEB_HOST_PORT", "on the central: the status page's published port", 8080)
    db_host_port: Port = variable("DB_HOST_PORT", "on the central: MariaDB's published port", 3307)
    kafka_host_port: Port = variable(
        "KAFKA_HOST_PORT", "on the central: the port of Kafka's listener for this machine", 9094
    )
    passwords: acl.RolePasswords = Field(default_factory=acl.RolePasswords)
    """The roles' passwords; a site or a driver has only its own."""

    def brokers(self) -> tuple[HostPort, ...]:
        """Every broker's external listener: the kit's list, or the central's ports."""
        if self.kafka_brokers is not None:
            return self.kafka_brokers
        ports = (self.external_port, self.external_port_2, self.external_port_3)
        return tuple(HostPort(self.central_host, port) for port in ports[: int(self.kafka_nodes)])


@dataclass(frozen=True)
class Settings:
    role: str
    central_host: str
    kafka_brokers: tuple[tuple[str, int], ...]
    """Every broker's external listener: a cluster's nodes are each checked."""
    auth_port: int
    ca_file: Path
    passwords: Mapping[str, str] = field(repr=False)
    """SCRAM user -> password, for the users this machine signs in as."""
    local_ports: Mapping[str, int] = field(default_factory=dict)
    """On the central: what else it publishes on this machine (the page, MariaDB…)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The plan's settings, from DoctorSettings read in the environment or in `env`."""
        read = load(DoctorSettings, env)
        roles = {"site": (acl.SITE,), "driver": (acl.DRIVER,)}.get(read.role, acl.ROLES)
        local = {
            "the status page": read.web_host_port,
            "MariaDB": read.db_host_port,
            "Kafka's listener for this machine": read.kafka_host_port,
        }
        return cls(
            role=read.role,
            central_host=read.central_host,
            kafka_brokers=read.brokers(),
            auth_port=read.auth_tls_port or read.auth_tls_host_port,
            ca_file=read.ca_file,
            passwords={role.user: read.passwords.of(role) for role in roles},
            local_ports=local if read.role in ("all", "central") else {},
        )


@dataclass(frozen=True)
class Link:
    name: str
    steps: tuple[Callable[[], str], ...]
    """Each returns what it verified, or raises Problem; later steps need earlier ones."""


@dataclass(frozen=True)
class Verdict:
    link: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.link}: {self.text}"


# --- the plan: which links a role needs (pure) --------------------------------------------


def plan(settings: Settings) -> list[Link]:
    host, auth_port = settings.central_host, settings.auth_port
    links: list[Link] = []
    for name, port in settings.local_ports.items():
        check = partial(web_answers, port) if name == "the status page" else partial(reach, "localhost", port)
        links.append(Link(f"{name} (localhost:{port})", (check,)))
    for user, password in settings.passwords.items():
        security = KafkaSecurity("SASL_SSL", user, password, str(settings.ca_file))
        links += [kafka_link(broker, security, settings.ca_file) for broker in settings.kafka_brokers]
    if settings.role != "driver":
        tls = (
            partial(reach, host, auth_port),
            partial(auth_certificate, host, auth_port, settings.ca_file),
        )
        links.append(Link(f"central-auth at {host}:{auth_port} (TLS)", tls))
    return links


def kafka_link(broker: tuple[str, int], security: KafkaSecurity, ca_file: Path) -> Link:
    """One broker as one user: each broker of a cluster alone, as the only one to
    bootstrap from, so a node that fails shows as its own line."""
    host, port = broker
    bootstrap = f"{host}:{port}"
    steps = (
        partial(reach, host, port),
        partial(kafka_certificate, host, port, ca_file),
        partial(kafka_sign_in, bootstrap, security),
        partial(kafka_permissions, bootstrap, security),
    )
    return Link(f"Kafka at {bootstrap} as '{security.username}'", steps)


def examine(link: Link) -> Verdict:
    verified: list[str] = []
    for step in link.steps:
        try:
            verified.append(step())
        except Problem as problem:
            return Verdict(link.name, False, str(problem))
    return Verdict(link.name, True, "; ".join(verified))


# --- the steps (I/O) ------------------------------------------------------------------------


def reach(host: str, port: int) -> str:
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Problem(
            f"the name {host!r} cannot be resolved here: check CENTRAL_HOST (or use its IP address)"
        ) from None
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT):
            return "reachable"
    except ConnectionRefusedError:
        raise Problem(
            f"nothing answers at {host}:{port}: is the central up (make ps there), and is the port "
            "published for other hosts (make up ROLE=central)?"
        ) from None
    except TimeoutError:
        raise Problem(
            f"no answer from {host}:{port} within {TIMEOUT:g} s: a firewall drops it (open TCP {port} "
            "on the central), or CENTRAL_HOST is not the central's address"
        ) from None
    except OSError as error:
        raise Problem(f"{host}:{port} cannot be reached: {error.strerror or error}") from None


def kafka_certificate(host: str, port: int, ca_file: Path) -> str:
    if not ca_file.is_file():
        raise Problem(f"the project CA is not at {ca_file}: copy the central's pki/ca.crt (the kit's ca.crt)")
    refused = check_certificate(host, port, str(ca_file), timeout=TIMEOUT)
    if refused is not None:
        security = KafkaSecurity("SASL_SSL", "", "", str(ca_file))
        raise Problem(sentence(Failure("certificate", host, port, refused.detail), security, refused))
    return "TLS certificate from the project CA"


def kafka_sign_in(bootstrap: str, security: KafkaSecurity) -> str:
    admin, errors = _admin(bootstrap, security)
    try:
        admin.list_topics(timeout=TIMEOUT * 2)
    except KafkaException as error:
        errors.append(error.args[0])
        # Why the sign-in failed comes to error_cb, which only a poll serves.
        deadline = time.monotonic() + TIMEOUT
        while not any(_explain(e, security) for e in errors) and time.monotonic() < deadline:
            admin.poll(0.2)
    said = [explained for error in errors if (explained := _explain(error, security))]
    if said:
        raise Problem(said[0])
    if errors:
        raise Problem(f"Kafka at {bootstrap} did not answer a sign-in: {errors[0].str()}")
    return f"signed in as '{security.username}' (SCRAM-SHA-512)"


def kafka_permissions(bootstrap: str, security: KafkaSecurity) -> str:
    role = acl.BY_USER[security.username or ""]
    if role.super_user:
        return "a super user of the broker"
    admin, _errors = _admin(bootstrap, security)
    missing = [*_missing_topic_rights(admin, role), *_missing_group_rights(admin, role)]
    if missing:
        raise Problem(
            f"'{role.user}' may not {', '.join(missing)}: restore the ACLs on the central "
            "(docker compose run --rm kafka-setup)"
        )
    topics = (
        ", ".join(f"writes {t.name}" for t in role.writes)
        + ", "
        + ", ".join(f"reads {t.name}" for t in role.reads)
    )
    return f"may do what a {role.user} does ({topics})"


def auth_certificate(host: str, port: int, ca_file: Path) -> str:
    try:
        context = CentralTls(ca_file).context()
    except TlsSetupError as error:
        raise Problem(str(error)) from None
    try:
        with (
            socket.create_connection((host, port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return "TLS certificate from the project CA"
    except (ssl.SSLError, OSError) as error:
        raise Problem(explain_tls_failure(error, host, port, ca_file, TIMEOUT)) from None


def web_answers(port: int) -> str:
    url = f"http://localhost:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT):
            return "answers"
    except OSError as error:
        raise Problem(f"{url} does not answer healthy ({error}): make ps, make logs") from None


# --- Kafka helpers ----------------------------------------------------------------------------


def _admin(bootstrap: str, security: KafkaSecurity) -> tuple[AdminClient, list[KafkaError]]:
    """An admin client whose errors are collected, not printed: the doctor says them once."""
    errors: list[KafkaError] = []
    config = {
        "bootstrap.servers": bootstrap,
        **security.config(),
        "error_cb": errors.append,
        "log_level": 0,
        "socket.timeout.ms": int(TIMEOUT * 1000),
    }
    return AdminClient(config), errors


def _explain(error: KafkaError, security: KafkaSecurity) -> str | None:
    failure = classify(error.str(), security.protocol)
    return None if failure is None else sentence(failure, security)


def _missing_topic_rights(admin: AdminClient, role: acl.Role) -> Iterator[str]:
    needed: dict[str, set[str]] = {topic.name: set() for topic in (*role.writes, *role.reads)}
    for topic in role.writes:
        needed[topic.name].add("WRITE")
    for topic in role.reads:
        needed[topic.name].add("READ")
    futures = admin.describe_topics(TopicCollection(list(needed)), include_authorized_operations=True)
    for name, future in futures.items():
        try:
            allowed = {
                operation.name for operation in future.result(timeout=TIMEOUT * 2).authorized_operations
            }
        except KafkaException:
            allowed = set()
        for operation in sorted(needed[name] - allowed):
            yield f"{operation} {name}"


def _missing_group_rights(admin: AdminClient, role: acl.Role) -> Iterator[str]:
    for prefix in role.group_prefixes:
        group = f"{prefix}doctor"
        (future,) = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]).values()
        try:
            future.result(timeout=TIMEOUT * 2)
        except KafkaException as error:
            if error.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
                yield f"use the consumer groups {prefix}*"


# --- entry point ------------------------------------------------------------------------------


def main(env: Mapping[str, str] | None = None) -> int:
    settings = Settings.from_env(env)
    print(f"EVCharging doctor: role {settings.role}, central {settings.central_host}")
    verdicts = [examine(link) for link in plan(settings)]
    for verdict in verdicts:
        print(verdict.line(), flush=True)
    return 0 if all(verdict.ok for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
