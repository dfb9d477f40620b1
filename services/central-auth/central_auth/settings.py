"""central-auth's configuration: the environment, overridden by the seed's arguments
`python -m central_auth [PORT [KAFKA_BOOTSTRAP [DB_HOST[:PORT]]]]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import Field, PositiveFloat, model_validator

from central_auth.tls import DEFAULT_CERT, DEFAULT_KEY, TlsFiles
from evcharging.config import (
    Count,
    DatabaseSettings,
    KafkaSettings,
    Port,
    Seconds,
    ServiceSettings,
    load,
    variable,
)

AUTO_ID_PREFIX_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,23}$"
"""Leaves room for the number within the 32 characters of an id; no '_' or '%',
which mean something to SQL LIKE."""

PLAIN_PORT = variable("AUTH_PORT", "the plain TCP port monitors connect to", 7000)
"""Shared with the healthcheck (AuthPort), which needs nothing else."""


class AuthPort(ServiceSettings):
    """Only the plain port: what central_auth.healthcheck reads."""

    port: Port = PLAIN_PORT


class Deadlines(ServiceSettings):
    """How long a peer may take, in seconds, before its connection is closed."""

    heartbeat_interval: Seconds = variable(
        "AUTH_HEARTBEAT_INTERVAL", "seconds between the heartbeats a CP is told to send", 1.0
    )
    heartbeat_timeout: Seconds = variable(
        "AUTH_HEARTBEAT_TIMEOUT",
        "seconds of silence after which an authenticated CP counts as disconnected "
        "(SPEC: 'silent past its timeout'); above AUTH_HEARTBEAT_INTERVAL",
        3.0,
    )
    handshake: Seconds = variable(
        "AUTH_HANDSHAKE_TIMEOUT",
        "seconds from connecting to being authenticated (on the TLS port, the TLS handshake "
        "included): a client that sends nothing is closed after this",
        10.0,
    )
    frame: Seconds = variable(
        "AUTH_FRAME_TIMEOUT",
        "seconds from a frame's first byte to its last: a whole-frame deadline, so a byte "
        "a second cannot last",
        5.0,
    )
    write: float = 5.0
    """For an answer to leave: a peer that does not read cannot hold a connection."""

    @model_validator(mode="after")
    def _interval_below_timeout(self) -> Self:
        if not self.heartbeat_interval < self.heartbeat_timeout:
            raise ValueError("AUTH_HEARTBEAT_INTERVAL must be below AUTH_HEARTBEAT_TIMEOUT")
        return self


class AuthSettings(ServiceSettings):
    """central-auth's settings."""

    port: Port = PLAIN_PORT
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    enrolment_key: str = variable(
        "CP_ENROLMENT_KEY",
        "the shared key a new CP proves itself with before it gets its own credential",
        secret=True,
        min_length=16,
    )
    auto_id_prefix: str = variable(
        "AUTH_AUTO_ID_PREFIX",
        "prefix of the ids given to scaled CPs, followed by a number",
        "CP-A",
        pattern=AUTO_ID_PREFIX_PATTERN,
    )
    deadlines: Deadlines = Field(default_factory=Deadlines)
    max_connections: Count = variable(
        "AUTH_MAX_CONNECTIONS", "connections served at once; more wait to be accepted", 4096
    )
    heartbeat_budget: PositiveFloat = variable(
        "AUTH_HEARTBEAT_BUDGET",
        "heartbeats per second central-auth plans for across all CPs (central_auth.terms)",
        1000.0,
    )
    beacon_interval: Seconds = variable(
        "AUTH_BEACON_INTERVAL",
        "seconds between CentralAuthBeacons (central_auth.beacon); readers give up after a few",
        1.0,
    )
    restart_announce_prefix: str = variable(
        "AUTH_RESTART_ANNOUNCE_PREFIX",
        "announce 'disconnected' at start-up only for CPs whose id starts with this; empty: "
        "every CP (tests sharing a database narrow it)",
        "",
    )
    tls_port: Port = variable(
        "AUTH_TLS_PORT", "the TLS listener's port: the same protocol, for monitors on other hosts", 7443
    )
    tls_cert: Path = variable(
        "AUTH_TLS_CERT",
        "the TLS listener's certificate (scripts/pki.sh); without it and the key the listener is off",
        DEFAULT_CERT,
    )
    tls_key: Path = variable("AUTH_TLS_KEY", "the TLS listener's private key", DEFAULT_KEY)

    @property
    def tls(self) -> TlsFiles:
        return TlsFiles(self.tls_cert, self.tls_key)

    @classmethod
    def load(cls, argv: list[str]) -> AuthSettings:
        """Settings from the environment, then the seed's positional arguments
        `[PORT [KAFKA_BOOTSTRAP [DB_HOST[:PORT]]]]` on top."""
        overrides: dict[str, Any] = {}
        if argv:
            overrides["port"] = argv[0]
        if len(argv) > 1:
            overrides["kafka"] = KafkaSettings(bootstrap=argv[1])
        if len(argv) > 2:
            try:
                overrides["database"] = load(DatabaseSettings).with_address(argv[2])
            except ValueError as error:
                raise SystemExit(f"configuration error: DB_HOST[:PORT] argument: {error}") from None
        settings = load(cls, **overrides)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse what only the file system can tell, naming the culprit."""
        if self.tls_port == self.port and not self.tls.absent():
            raise SystemExit(f"configuration error: AUTH_TLS_PORT={self.tls_port} is the plain port too")
