"""central-auth's configuration: the environment, overridden by the seed's arguments
`python -m central_auth [PORT [KAFKA_BOOTSTRAP [DB_HOST[:PORT]]]]`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from central_auth.tls import DEFAULT_CERT, DEFAULT_KEY, TlsFiles
from evcharging.config import DatabaseSettings, KafkaSettings, env, env_float, env_int

AUTO_ID_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,23}$")
"""Leaves room for the number within the 32 characters of an id; no '_' or '%',
which mean something to SQL LIKE."""


@dataclass(frozen=True)
class Deadlines:
    """How long a peer may take, in seconds, before its connection is closed."""

    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 3.0
    """Silence after which an authenticated CP counts as disconnected (SPEC: 'silent past its timeout')."""
    handshake: float = 10.0
    """From connecting to being authenticated (on the TLS port, the TLS handshake included):
    a client that sends nothing is closed after this."""
    frame: float = 5.0
    """From a frame's first byte to its last: a whole-frame deadline, so a byte a second cannot last."""
    write: float = 5.0
    """For an answer to leave: a peer that does not read cannot hold a connection."""


@dataclass(frozen=True)
class AuthSettings:
    port: int
    kafka: KafkaSettings
    database: DatabaseSettings
    enrolment_key: str
    auto_id_prefix: str = "CP-A"
    deadlines: Deadlines = Deadlines()
    max_connections: int = 4096
    heartbeat_budget: float = 1000.0
    """Heartbeats per second central-auth plans for across all CPs (central_auth.terms)."""
    beacon_interval: float = 1.0
    """Seconds between CentralAuthBeacons (central_auth.beacon); readers give up after a few."""
    restart_announce_prefix: str = ""
    """Announce 'disconnected' at start-up only for CPs whose id starts with this.
    Empty (the default) means every CP; tests sharing a database narrow it."""
    tls_port: int = 7443
    """The TLS listener's port: the same protocol, for monitors on other hosts."""
    tls: TlsFiles = field(default_factory=TlsFiles)
    """Its certificate and key (scripts/pki.sh); without both files the TLS listener is off."""

    @classmethod
    def load(cls, argv: list[str]) -> AuthSettings:
        """Settings from the environment, then the seed's positional arguments on top."""
        port = int(argv[0]) if argv else env_int("AUTH_PORT", 7000)
        kafka = KafkaSettings(argv[1]) if len(argv) > 1 else KafkaSettings.from_env()
        database = DatabaseSettings.from_env()
        if len(argv) > 2:
            database = database.with_address(argv[2])
        settings = cls(
            port=port,
            kafka=kafka,
            database=database,
            enrolment_key=env("CP_ENROLMENT_KEY"),
            auto_id_prefix=env("AUTH_AUTO_ID_PREFIX", "CP-A"),
            deadlines=Deadlines(
                heartbeat_interval=env_float("AUTH_HEARTBEAT_INTERVAL", 1.0),
                heartbeat_timeout=env_float("AUTH_HEARTBEAT_TIMEOUT", 3.0),
                handshake=env_float("AUTH_HANDSHAKE_TIMEOUT", 10.0),
                frame=env_float("AUTH_FRAME_TIMEOUT", 5.0),
            ),
            max_connections=env_int("AUTH_MAX_CONNECTIONS", 4096),
            heartbeat_budget=env_float("AUTH_HEARTBEAT_BUDGET", 1000.0),
            beacon_interval=env_float("AUTH_BEACON_INTERVAL", 1.0),
            restart_announce_prefix=env("AUTH_RESTART_ANNOUNCE_PREFIX", ""),
            tls_port=env_int("AUTH_TLS_PORT", 7443),
            tls=TlsFiles(
                Path(env("AUTH_TLS_CERT", str(DEFAULT_CERT))), Path(env("AUTH_TLS_KEY", str(DEFAULT_KEY)))
            ),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse a configuration that would misbehave later, naming the culprit."""
        problems = []
        if len(self.enrolment_key) < 16:
            problems.append("CP_ENROLMENT_KEY must have at least 16 characters")
        if not AUTO_ID_PREFIX_PATTERN.match(self.auto_id_prefix):
            problems.append(
                f"AUTH_AUTO_ID_PREFIX={self.auto_id_prefix!r} must match {AUTO_ID_PREFIX_PATTERN.pattern}"
            )
        if not 0 < self.deadlines.heartbeat_interval < self.deadlines.heartbeat_timeout:
            problems.append("AUTH_HEARTBEAT_INTERVAL must be positive and below AUTH_HEARTBEAT_TIMEOUT")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is not a TCP port")
        if not 0 < self.tls_port < 65536:
            problems.append(f"AUTH_TLS_PORT={self.tls_port} is not a TCP port")
        elif self.tls_port == self.port and not self.tls.absent():
            problems.append(f"AUTH_TLS_PORT={self.tls_port} is the plain port too")
        if self.heartbeat_budget <= 0:
            problems.append("AUTH_HEARTBEAT_BUDGET must be positive")
        if self.beacon_interval <= 0:
            problems.append("AUTH_BEACON_INTERVAL must be positive")
        if self.max_connections < 1:
            problems.append("AUTH_MAX_CONNECTIONS must be at least 1")
        if problems:
            raise SystemExit("configuration error: " + "; ".join(problems))
