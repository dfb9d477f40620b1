"""Settings shared by the services, read from environment variables.

Every service declares its variables once, as a pydantic-settings class over
`ServiceSettings`: each field names its variable (`validation_alias`), its type, its
default and, in `description`, what it is for. `load` reads such a class from the
environment and turns any bad or missing value into one line naming the variable, so
a misconfigured container stops with a sentence, not a traceback. docs/configuration.md
is generated from the same classes (evcharging.configuration_doc).

Each service's entry point also accepts the seed's command-line forms (a port,
a broker address, a CP id...) and those override the environment: they reach `load`
as keyword overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeVar

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from evcharging import health
from evcharging.messages import Identifier

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


class HostPort(NamedTuple):
    """An address as `host:port`, split in one place. The last ':' splits, so a list
    `a:9092,b:9092` counts by its last broker."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int | None = None) -> HostPort:
        """`host:port`, or a bare `host` when there is a default port; ValueError otherwise."""
        host, separator, port = text.rpartition(":")
        if not separator:
            if default_port is None or not text:
                raise ValueError(f"{text!r} is not HOST:PORT")
            return cls(text, default_port)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r} is not HOST:PORT")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Expects:
    """What a variable's value must look like, in words, where its type alone does not
    say it (docs/configuration.md shows it; pydantic ignores it)."""

    text: str


def parse_host_port(default_port: int | None = None) -> Callable[[Any], Any]:
    """A pydantic validator reading `host:port` text as a HostPort (a bare host takes
    `default_port`, when there is one)."""

    def validate(value: Any) -> Any:
        return HostPort.parse(value, default_port) if isinstance(value, str) else value

    return validate


def _checked_address(text: str) -> str:
    HostPort.parse(text)
    return text


AddressText = Annotated[str, AfterValidator(_checked_address), Expects("HOST:PORT")]
"""`host:port` checked at start-up but kept as text, for code that takes the text."""
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
"""A duration; zero or less would make a loop spin or a deadline expire at once."""
Count = Annotated[int, Field(ge=1)]
PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Flag = Annotated[bool, Expects("boolean: 1, true, yes, on or 0, false, no, off")]
"""One spelling for every service: 1/true/yes/on/t/y and 0/false/no/off/f/n, in any case
(pydantic's booleans); anything else is refused rather than read as false."""


def is_identifier(text: str) -> bool:
    """Whether `text` is a CP or driver id as the contract allows one. A seed's command
    line tells an id from an address by it: an id never holds ':', a HOST:PORT does."""
    try:
        _IDENTIFIER.validate_python(text)
    except ValidationError:
        return False
    return True


def is_host_port(text: str) -> bool:
    """Whether `text` is HOST:PORT with a host and a port (HostPort.parse)."""
    try:
        HostPort.parse(text)
    except ValueError:
        return False
    return True


_GIVEN_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("given_environment", default=None)
"""The variables `load` was given in place of the process's (make doctor's, a test's)."""


@contextmanager
def _reading(environ: Mapping[str, str] | None) -> Iterator[None]:
    """Settings built meanwhile, nested groups too, read `environ` if given."""
    token = _GIVEN_ENVIRONMENT.set(environ)
    try:
        yield
    finally:
        _GIVEN_ENVIRONMENT.reset(token)


class _DeclaredVariables(EnvSettingsSource):
    """The environment, read only for fields that name their variable: a field without
    one (a nested group, something only a command line sets) is never taken from a
    variable that happens to share its name. It is the process's, or the mapping that
    `load` was given."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        given = _GIVEN_ENVIRONMENT.get()
        if given is not None:
            self.env_vars = {name: value for name, value in given.items() if value != ""}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = field.validation_alias
        if not isinstance(variable, str):
            return None, field_name, False
        return self.env_vars.get(variable), variable, False


class ServiceSettings(BaseSettings):
    """The project's conventions for a settings class: frozen, fields set by name in code
    and by their variable in the environment, an empty variable counts as unset (compose
    files pass `${X:-}`), no .env file read by the service itself (compose does that)."""

    model_config = SettingsConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        case_sensitive=True,
        env_ignore_empty=True,
        extra="forbid",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments given in code (the command line's overrides) win over the environment.
        return init_settings, _DeclaredVariables(settings_cls)


SECRET_VARIABLES: set[str] = set()
"""Every variable declared secret, whichever class declares it: their values are never
shown in an error message or in docs/configuration.md."""


def variable(
    name: str, description: str, default: Any = ..., *, secret: bool = False, **constraints: Any
) -> Any:
    """A field read from the variable `name`. A secret is left out of reprs, error
    messages and docs/configuration.md."""
    if secret:
        SECRET_VARIABLES.add(name)
    return Field(default, validation_alias=name, description=description, repr=not secret, **constraints)


S = TypeVar("S", bound=ServiceSettings)


def load(settings_class: type[S], /, environ: Mapping[str, str] | None = None, **overrides: Any) -> S:
    """The settings from the environment (or from `environ`, variables given as a mapping),
    `overrides` (a command line's) on top; a bad or missing value stops the service with
    one line naming the variable."""
    try:
        with _reading(environ):
            return settings_class(**overrides)
    except ValidationError as error:
        raise SystemExit(configuration_error(settings_class, error)) from None


def is_set(settings_class: type[ServiceSettings], field_name: str) -> bool:
    """Whether the variable of `field_name` is set (and not empty) where `load` reads: for
    a group of settings that a service goes without when a variable of it is unset."""
    variable_name = settings_class.model_fields[field_name].validation_alias
    return isinstance(variable_name, str) and variable_name in _DeclaredVariables(settings_class).env_vars


def configuration_error(settings_class: type[ServiceSettings], error: ValidationError) -> str:
    """`configuration error: VARIABLE=<value>: <what it expected>`, one clause per problem,
    on one line. A value given on the command line is named by the variable it stands for."""
    variables = {
        name: field.validation_alias
        for name, field in settings_class.model_fields.items()
        if isinstance(field.validation_alias, str)
    }
    return "configuration error: " + "; ".join(_clause(detail, variables) for detail in error.errors())


def _clause(detail: ErrorDetails, variables: dict[str, str]) -> str:
    name = ".".join(variables.get(str(part), str(part)) for part in detail["loc"])
    expected = detail["msg"].removeprefix("Value error, ")
    if not name:  # a check across variables: its message names them
        return expected
    if detail["type"] == "missing":
        return f"{name} is required and not set"
    shown = "<hidden>" if name in SECRET_VARIABLES else repr(detail["input"])
    return f"{name}={shown}: {expected}"


KAFKA_BOOTSTRAP = variable(
    "KAFKA_BOOTSTRAP", "Kafka bootstrap servers: HOST:PORT, or a comma-separated list", "kafka:9092"
)
"""Declared once, for the services that keep the address as a field of their own."""
TOPIC_REPLICATION = variable(
    "TOPIC_REPLICATION", "replicas of each topic: 1 on one broker, 3 on the three-node cluster", 1, ge=1
)


class KafkaSettings(ServiceSettings):
    """Where the Kafka cluster is; how a client signs in is evcharging.kafka_security's."""

    bootstrap: str = KAFKA_BOOTSTRAP


class TopicSettings(ServiceSettings):
    """What evcharging.create_topics needs beyond the cluster's address."""

    replication: int = TOPIC_REPLICATION


class DatabaseSettings(ServiceSettings):
    """How to reach MariaDB (evcharging.db)."""

    host: str = variable("DB_HOST", "MariaDB's host name", "mariadb")
    port: Port = variable("DB_PORT", "MariaDB's port", 3306)
    user: str = variable("DB_USER", "the database user the services log in as", "evcharging")
    password: str = variable("DB_PASSWORD", "that user's password", secret=True)
    database: str = variable("DB_NAME", "the schema", "evcharging_db")

    def with_address(self, address: str) -> DatabaseSettings:
        """Apply the seed's `host[:port]` form."""
        host, port = HostPort.parse(address, default_port=self.port)
        return self.model_copy(update={"host": host, "port": port})


class HealthSettings(ServiceSettings):
    """Where every service keeps its liveness and problem files (evcharging.health, which
    reads them by these names without this class, to keep the health check light): in
    /tmp, one container each; a test or a hand-run process sharing a machine names its own."""

    alive_file: Path = variable(
        health.ALIVE_VARIABLE,
        "the liveness file the main loop touches and the health check reads",
        health.ALIVE_DEFAULT,
    )
    problem_file: Path = variable(
        health.PROBLEM_VARIABLE,
        "the file holding why the service cannot work, which the health check prints",
        health.PROBLEM_DEFAULT,
    )
