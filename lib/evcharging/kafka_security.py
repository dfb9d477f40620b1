"""How a Kafka client signs in, and why it cannot: the security of the central's
external listener (docs/security.md), and one sentence for each way a sign-in fails.

Every client built by evcharging.kafka reads its security from the environment
(KafkaSecuritySettings): PLAINTEXT inside the central's compose network, SASL_SSL with a SCRAM
user from other hosts. A client that cannot sign in says why in one sentence, once,
in its log and in the container's health (evcharging.health), while librdkafka keeps
retrying; the health problem is cleared once it gets in (ClientWatch). `make doctor`
explains a failure with the same sentences.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from confluent_kafka import KafkaError
from pydantic import BeforeValidator, model_validator

from evcharging import acl, health
from evcharging.config import Expects, ServiceSettings, load, variable

log = logging.getLogger(__name__)

PROTOCOLS = ("PLAINTEXT", "SASL_SSL")
"""What the broker offers: PLAINTEXT in the central's network, SASL_SSL to other hosts."""

RECOVERY_CHECK_MS = 5000
"""How often a client with a sign-in problem looks whether it got in meanwhile."""


Protocol = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    Expects("one of `PLAINTEXT`, `SASL_SSL`, in any case"),
]
"""Checked with the other variables (KafkaSecuritySettings), so that a protocol the
broker does not offer gets its own sentence."""


class KafkaSecuritySettings(ServiceSettings):
    """How every Kafka client of a service signs in (evcharging.kafka): a setting that
    cannot work stops the service with a sentence that says what to set, before any
    client tries the broker."""

    protocol: Protocol = variable(
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT inside the central's compose network, SASL_SSL from other hosts (security.md)",
        "PLAINTEXT",
    )
    username: str | None = variable(
        "KAFKA_SASL_USERNAME", "with SASL_SSL: the Kafka user of this host's role (evcharging.acl)", None
    )
    password: str | None = variable(
        "KAFKA_SASL_PASSWORD",
        "with SASL_SSL: that user's password, from the central's .env",
        None,
        secret=True,
    )
    ca_file: Path | None = variable(
        "KAFKA_CA_FILE",
        "with SASL_SSL: the central's pki/ca.crt copied to this host; unset, the CAs trusted here",
        None,
    )

    @model_validator(mode="after")
    def _can_work(self) -> KafkaSecuritySettings:
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} is not offered by the central's "
                "Kafka: use PLAINTEXT inside its network, SASL_SSL from other hosts"
            )
        if self.protocol == "PLAINTEXT":
            return self
        missing = [
            name
            for name, value in (
                ("KAFKA_SASL_USERNAME", self.username),
                ("KAFKA_SASL_PASSWORD", self.password),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL=SASL_SSL needs {' and '.join(missing)} "
                "(the Kafka user of this host's role and its password, from the central's .env)"
            )
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(
                f"KAFKA_CA_FILE={self.ca_file} is not a file: copy the central's "
                "pki/ca.crt to this host and name it there"
            )
        return self

    def security(self) -> KafkaSecurity:
        """What a client signs in with: nothing but the protocol for PLAINTEXT."""
        if self.protocol == "PLAINTEXT":
            return KafkaSecurity()
        ca_file = None if self.ca_file is None else str(self.ca_file)
        return KafkaSecurity(self.protocol, self.username, self.password, ca_file)


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client signs in: nothing (PLAINTEXT), or SCRAM-SHA-512 over TLS (SASL_SSL)
    verified against the project CA."""

    protocol: str = "PLAINTEXT"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSecurity:
        """The security KafkaSecuritySettings reads from the environment, or from `environ`
        (variables given as a mapping); one that cannot work stops the service."""
        return load(KafkaSecuritySettings, environ).security()

    def config(self) -> dict[str, Any]:
        """The librdkafka properties for this security."""
        if self.protocol == "PLAINTEXT":
            return {"security.protocol": "PLAINTEXT"}
        config: dict[str, Any] = {
            "security.protocol": self.protocol,
            "sasl.mechanism": acl.MECHANISM,
            "sasl.username": self.username,
            "sasl.password": self.password,
            "ssl.endpoint.identification.algorithm": "https",
        }
        if self.ca_file:
            config["ssl.ca.location"] = self.ca_file
        return config


# --- saying why a client cannot get in -------------------------------------------

# librdkafka names the connection a message is about: "sasl_ssl://host:9095/1: …",
# "[thrd:…]: host:9092/bootstrap: …".
_CONNECTION = re.compile(r"(?:[a-z_]+://)?([^\s/\[\]]+):(\d+)/\w+:\s")
_TAIL = re.compile(r"\s*\(after \d+ms in state [^)]*\)\s*$")

PLAINTEXT_TO_TLS_DISCONNECTS = 3
"""A plaintext client whose connections are closed this many times while it asks for
the API versions is talking to a TLS listener (a broker that stops closes once)."""


FailureKind = Literal[
    "credentials", "mechanism", "certificate", "tls-to-plaintext", "plaintext-to-tls", "tls"
]

_MARKERS: tuple[tuple[FailureKind, tuple[str, ...]], ...] = (
    ("mechanism", ("unsupported sasl mechanism", "no worthy mechs")),
    ("credentials", ("sasl authentication error", "sasl authentication failed")),
    ("certificate", ("certificate verify failed",)),
    ("tls-to-plaintext", ("connecting to a plaintext broker listener", "wrong version number")),
    ("plaintext-to-tls", ("connecting to a ssl listener", "invalid response size")),
)
"""What librdkafka writes (lower case) about each failure."""


@dataclass(frozen=True)
class Failure:
    """A sign-in failure that a person must fix in the client's settings."""

    kind: FailureKind
    host: str
    port: int
    detail: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def classify(text: str, protocol: str) -> Failure | None:
    """The failure a librdkafka error or log line reports, or None for anything else (a
    broker that is down or restarting), which librdkafka simply retries."""
    found = _CONNECTION.search(text)
    if found is None:
        return None
    host, port = found.group(1), int(found.group(2))
    detail = _TAIL.sub("", text[found.end() :]).strip()
    lowered = detail.lower()
    state = text.lower().rpartition("in state ")[2]
    for kind, markers in _MARKERS:
        if any(marker in lowered for marker in markers):
            return Failure(kind, host, port, detail)
    if (
        protocol == "PLAINTEXT"
        and lowered.startswith("disconnected")
        and state.startswith("apiversion_query")
    ):
        return Failure("plaintext-to-tls", host, port, detail)
    if "ssl handshake failed" in lowered and "ssl connection closed by peer" not in lowered:
        return Failure("tls", host, port, detail)
    return None


@dataclass(frozen=True)
class CertificateCheck:
    """Why this host's TLS refuses the broker's certificate (check_certificate)."""

    reason: Literal["issuer", "name", "expired", "other"]
    detail: str


def check_certificate(
    host: str, port: int, ca_file: str | None, timeout: float = 3.0
) -> CertificateCheck | None:
    """Open one TLS connection to the broker the way librdkafka does (the CA, the name) and
    say why the certificate is refused: librdkafka's own message is the same whether
    the issuer or the name is wrong. None if it is accepted now, or no answer came."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as error:
        return certificate_reason(error.verify_code, error.verify_message)
    except OSError:
        return None


def certificate_reason(verify_code: int, verify_message: str) -> CertificateCheck:
    """OpenSSL's X509_V_ERR_* code, as what a person should do about it."""
    if verify_code in (62, 64):  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
        return CertificateCheck("name", verify_message)
    if verify_code == 10:  # CERT_HAS_EXPIRED
        return CertificateCheck("expired", verify_message)
    if verify_code in (2, 18, 19, 20, 21):  # no issuer here, self-signed, chain unverifiable
        return CertificateCheck("issuer", verify_message)
    return CertificateCheck("other", verify_message)


def sentence(failure: Failure, security: KafkaSecurity, certificate: CertificateCheck | None = None) -> str:
    """One sentence: what is wrong, and which setting to change."""
    where = failure.where
    external = "the central's external listener (KAFKA_EXTERNAL_PORT there, 9095 unless moved)"
    if failure.kind == "credentials":
        user = security.username or ""
        role = acl.BY_USER.get(user)
        fix = (
            f"set KAFKA_SASL_PASSWORD to the central's {role.password_variable}"
            if role is not None
            else f"set KAFKA_SASL_USERNAME to one of {', '.join(r.user for r in acl.ROLES)} and "
            "KAFKA_SASL_PASSWORD to its password in the central's .env"
        )
        return f"Kafka at {where} refuses user '{user}' (wrong password or unknown user): {fix}"
    if failure.kind == "mechanism":
        return (
            f"Kafka at {where} takes no SCRAM-SHA-512 sign-ins on that port: "
            f"point KAFKA_BOOTSTRAP at {external}"
        )
    if failure.kind == "tls-to-plaintext":
        return (
            f"Kafka at {where} does not speak TLS on that port, and KAFKA_SECURITY_PROTOCOL is SASL_SSL: "
            f"point KAFKA_BOOTSTRAP at {external}, or use PLAINTEXT inside the central's network"
        )
    if failure.kind == "plaintext-to-tls":
        return (
            f"Kafka at {where} wants TLS on that port, and this client speaks plaintext: set "
            "KAFKA_SECURITY_PROTOCOL=SASL_SSL with KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_CA_FILE"
        )
    if failure.kind == "certificate":
        if certificate is not None and certificate.reason == "name":
            return (
                f"Kafka's certificate is not issued for '{failure.host}' (TLS name mismatch): name the "
                f"central in KAFKA_BOOTSTRAP as its certificate does, or re-issue that with "
                f"CENTRAL_HOST={failure.host} on the central (scripts/pki.sh) and restart its kafka"
            )
        if certificate is not None and certificate.reason == "expired":
            return (
                f"Kafka's certificate at {where} has expired: re-issue it on the central (scripts/pki.sh) "
                "and restart its kafka"
            )
        if certificate is not None and certificate.reason == "other":
            return (
                f"Kafka's certificate at {where} is refused ({certificate.detail}): check it against "
                "the central's pki/ca.crt, which KAFKA_CA_FILE must name"
            )
        ca = f"the CA in KAFKA_CA_FILE ({security.ca_file})" if security.ca_file else "any CA trusted here"
        return (
            f"Kafka at {where} presents a certificate not signed by {ca}: copy the central's pki/ca.crt "
            "to this host and set KAFKA_CA_FILE to it"
        )
    return (
        f"TLS with Kafka at {where} failed ({failure.detail}): check KAFKA_BOOTSTRAP ({external}) "
        "and KAFKA_CA_FILE (the central's ca.crt)"
    )


SENTENCE_STARTS = ("Kafka at ", "Kafka's certificate ", "TLS with Kafka at ")
"""How every sentence of `sentence` begins, and no other problem a service reports."""


def is_sign_in_problem(problem: str | None) -> bool:
    return problem is not None and problem.startswith(SENTENCE_STARTS)


def current_problem() -> str | None:
    """The sentence of a client of this process that cannot sign in now, or None.

    For a service that shows it somewhere of its own besides its log and health (the
    CP's screen, through the engine's control socket): the health problem file is the
    container's, shared with other processes and other kinds of problem, so it cannot
    say whether *this* process's Kafka link is fine."""
    return _problems.current()


def explain(error: KafkaError, security: KafkaSecurity) -> str | None:
    """The sentence for an error librdkafka reports, without looking at the certificate."""
    failure = classify(error.str(), security.protocol)
    return None if failure is None else sentence(failure, security)


_rdkafka_log = logging.getLogger("librdkafka")


class ClientWatch:
    """One client's error, log and statistics callbacks (client_config).

    A failure that `classify` recognises, from an error or from librdkafka's log, is
    said once (_Problems): its sentence replaces librdkafka's own lines about it, which
    would repeat at each retry. The client's statistics then show when it has a broker
    connection up again, and the problem is cleared. Every other log line goes on to
    the `librdkafka` logger.
    """

    def __init__(self, bootstrap: str, security: KafkaSecurity) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.problem: str | None = None
        self._in = False
        """Signed in at least once."""
        self._failing: str | None = None
        """The broker address of the problem said."""
        self._disconnects = 0
        self._certificates: dict[str, CertificateCheck | None] = {}

    def on_error(self, error: KafkaError) -> None:
        self._consider(error.str())

    def log(self, level: int, message: str, *args: Any) -> None:
        """librdkafka's log line: `message % args`, args = (facility, client, text)."""
        text = str(args[-1]) if args else message
        if not self._consider(text) and not self._repeats_problem(text):
            _rdkafka_log.log(level, message, *args)

    def _repeats_problem(self, text: str) -> bool:
        """A line about setting up a connection to the broker this client cannot get in
        to, already said in a sentence (e.g. the disconnect that follows the failure)."""
        if self._failing is None:
            return False
        found = _CONNECTION.search(text)
        state = text.rpartition("in state ")[2]
        return (
            found is not None
            and f"{found.group(1)}:{found.group(2)}" == self._failing
            and state.startswith(("SSL_HANDSHAKE", "AUTH", "APIVERSION_QUERY"))
        )

    def on_stats(self, stats: str) -> None:
        if self._in and self.problem is None and not self._disconnects:
            return  # nothing to look for: the usual case costs nothing
        if _connected(stats):
            self._in = True
            self._failing = None
            self._disconnects = 0
            self._certificates.clear()
            _problems.resolve(self)

    def _consider(self, text: str) -> bool:
        """Say the failure `text` reports, if it is one; True when it was one."""
        failure = classify(text, self.security.protocol)
        if failure is None:
            return False
        if failure.kind == "plaintext-to-tls" and "disconnected" in failure.detail.lower():
            self._disconnects += 1
            if self._disconnects < PLAINTEXT_TO_TLS_DISCONNECTS:
                return False
        certificate = None
        if failure.kind == "certificate":
            if failure.where not in self._certificates:
                self._certificates[failure.where] = check_certificate(
                    failure.host, failure.port, self.security.ca_file
                )
            certificate = self._certificates[failure.where]
        self._failing = failure.where
        _problems.report(self, sentence(failure, self.security, certificate))
        return True


def _connected(stats: str) -> bool:
    """Whether librdkafka's statistics show a connection up (signed in) to a broker as the
    cluster advertises it: the bootstrap address alone may work when that does not."""
    try:
        brokers = json.loads(stats).get("brokers", {})
    except ValueError:
        return False
    return any(
        isinstance(broker, dict) and broker.get("state") == "UP" and int(broker.get("nodeid", -1)) >= 0
        for broker in brokers.values()
    )


class _Problems:
    """The process's clients that cannot get in; the health problem file says one of them.

    A sentence is logged when no other live client has it already; a client that is
    closed and dropped leaves (weak references), so its sentence does not stay forever.
    The file is only cleared or replaced when it holds a Kafka sign-in sentence, since
    other parts of the service (evcharging.db) report their problems there too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: weakref.WeakSet[ClientWatch] = weakref.WeakSet()

    def report(self, watch: ClientWatch, sentence: str) -> None:
        with self._lock:
            if watch.problem == sentence:
                return
            others = {w.problem for w in self._watches if w is not watch}
            watch.problem = sentence
            self._watches.add(watch)
            if sentence not in others:
                log.error("%s", sentence)
            if health.problem() != sentence:
                health.report_problem(sentence)

    def current(self) -> str | None:
        """One sentence said by a live client, the same one each time (the first in
        order), or None when every client of this process is in."""
        with self._lock:
            said = sorted({w.problem for w in self._watches if w.problem is not None})
        return said[0] if said else None

    def resolve(self, watch: ClientWatch) -> None:
        """`watch`'s client is in: its problem is over, and so is one that another
        process of this container said (a driver command run earlier with a wrong
        password), since they all sign in with the container's settings."""
        with self._lock:
            said, watch.problem = watch.problem, None
            self._watches.discard(watch)
            left = sorted({w.problem for w in self._watches if w.problem is not None})
            current = health.problem()
            if said is not None and said not in left:
                log.info("Kafka at %s accepts this client now", watch.bootstrap)
            elif said is None and not left and is_sign_in_problem(current):
                log.info(
                    "Kafka at %s accepts this client: the problem reported before is over", watch.bootstrap
                )
            else:
                return
            if current is None or current in left or not is_sign_in_problem(current):
                return
            if left:
                health.report_problem(left[0])
            else:
                health.clear_problem()


_problems = _Problems()
