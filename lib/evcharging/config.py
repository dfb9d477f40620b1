"""Settings shared by the services, read from environment variables.

Each service's entry point also accepts the seed's command-line forms (a port,
a broker address, a CP id...) and those override the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from evcharging.messages import Identifier

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def env(name: str, default: str | None = None) -> str:
    """The variable's value, or `default`; a missing required one names itself."""
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f"configuration error: environment variable {name} is required")
    return value


def env_int(name: str, default: int) -> int:
    raw = env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not a whole number") from None


def env_float(name: str, default: float) -> float:
    raw = env(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not a number") from None


def is_identifier(text: str) -> bool:
    """Whether `text` is a CP or driver id as the contract allows one. A seed's command
    line tells an id from an address by it: an id never holds ':', a HOST:PORT does."""
    try:
        _IDENTIFIER.validate_python(text)
    except ValidationError:
        return False
    return True


def is_host_port(text: str) -> bool:
    """Whether `text` is HOST:PORT with a host and a whole-number port (the last ':' splits,
    so a list `a:9092,b:9092` counts by its last broker)."""
    host, separator, port = text.rpartition(":")
    return bool(separator and host and port.isdigit())


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str

    @classmethod
    def from_env(cls) -> KafkaSettings:
        return cls(bootstrap=env("KAFKA_BOOTSTRAP", "kafka:9092"))


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_env(cls) -> DatabaseSettings:
        return cls(
            host=env("DB_HOST", "mariadb"),
            port=env_int("DB_PORT", 3306),
            user=env("DB_USER", "evcharging"),
            password=env("DB_PASSWORD"),
            database=env("DB_NAME", "evcharging_db"),
        )

    def with_address(self, address: str) -> DatabaseSettings:
        """Apply the seed's `host[:port]` form."""
        host, _, port = address.partition(":")
        return DatabaseSettings(
            host, int(port) if port else self.port, self.user, self.password, self.database
        )
