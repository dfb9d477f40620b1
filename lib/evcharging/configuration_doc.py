"""Write docs/configuration.md from the services' settings classes, so the document
cannot drift: `make docs` (a test checks it is current).

The classes live in the services, which the shared package does not depend on: they are
imported by name, with each service's folder on the path (`make docs` sets PYTHONPATH;
pytest's pythonpath has them).
"""

from __future__ import annotations

import importlib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo

from evcharging.config import SECRET_VARIABLES, Expects, HostPort, ServiceSettings

SERVICES: dict[str, list[str]] = {
    "every service": ["evcharging.logs:LogSettings", "evcharging.config:HealthSettings"],
    "every Kafka client (all services but cp-monitor and ocpp-gateway)": [
        "evcharging.kafka_security:KafkaSecuritySettings"
    ],
    "central-auth": ["central_auth.settings:AuthSettings"],
    "central-stream": ["central_stream.settings:StreamSettings", "evcharging.config:DatabaseSettings"],
    "central-web": ["central_web.settings:WebSettings", "central_web.settings:ServerSettings"],
    "cp-engine": ["cp_engine.settings:Settings"],
    "cp-monitor": ["cp_monitor.settings:Settings"],
    "driver": ["driver.settings:DriverSettings"],
    "ocpp-gateway": ["ocpp_gateway.settings:GatewaySettings"],
    "kafka-setup": [
        "evcharging.config:KafkaSettings",
        "evcharging.config:TopicSettings",
        "evcharging.acl:RolePasswords",
    ],
    "make doctor": ["evcharging.doctor:DoctorSettings"],
}
"""Each service, and the settings classes it reads, in the order it reads them; the
classes every service (or every Kafka client) shares come first, in sections of their own."""

INTRO = """# Configuration

Generated from the services' settings classes by `make docs` (evcharging.configuration_doc);
do not edit by hand.

Every service reads its settings from environment variables (the compose files set them,
mostly from `.env`); a command line, where a service has one, overrides them. An empty
variable counts as unset. A bad or missing value stops the service at start with one line
that names it:

```
configuration error: CP_RATED_KW='abc': Input should be a valid decimal
```

Booleans are spelt the same everywhere: `1`, `true`, `yes`, `on` or `0`, `false`, `no`,
`off`, in any case; anything else is refused. Secrets are never shown, here or in errors.
The first two sections are shared: each service also reads them. Why a Kafka client signs
in as it does (`KAFKA_SECURITY_PROTOCOL` and the SASL variables) is in
[security.md](security.md).
"""


@dataclass(frozen=True)
class Row:
    variable: str
    expected: str
    default: str
    description: str


def rows(settings_class: type[ServiceSettings], optional: bool = False) -> Iterator[Row]:
    """One row per variable, those of nested groups (Kafka, database...) in place. In an
    optional group (central-web's database) nothing is required: unset, the group is off."""
    for field in settings_class.model_fields.values():
        if isinstance(field.validation_alias, str):
            default = default_of(field)
            if optional and default == "required":
                default = "unset: none of this group is used"
            yield Row(field.validation_alias, expected_of(field), default, field.description or "")
        elif (group := _settings_class_in(field.annotation)) is not None:
            yield from rows(group, optional=type(None) in typing.get_args(field.annotation))


def _settings_class_in(annotation: Any) -> type[ServiceSettings] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, ServiceSettings):
            return candidate
    return None


def expected_of(field: FieldInfo) -> str:
    expected = _expected(field.annotation, list(field.metadata))
    return f"{expected} (secret)" if field.validation_alias in SECRET_VARIABLES else expected


BASE_NAMES: dict[Any, str] = {
    str: "text",
    int: "whole number",
    float: "number",
    Decimal: "decimal number",
    bool: "boolean",
    Path: "path",
    HostPort: "HOST:PORT",
}


def _expected(annotation: Any, metadata: list[Any]) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *more = typing.get_args(annotation)
        return _expected(inner, more + metadata)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _expected(inner, metadata)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    words = [item.text for item in metadata if isinstance(item, Expects)]
    words += [
        item.description for item in metadata if isinstance(item, FieldInfo) and item.description is not None
    ]
    if words:
        return words[0]
    base = annotation.__name__ if isinstance(annotation, type) and issubclass(annotation, Enum) else None
    return ", ".join([base or BASE_NAMES.get(annotation, str(annotation)), *_constraints(metadata)])


def _constraints(metadata: list[Any]) -> Iterator[str]:
    for item in metadata:
        if isinstance(item, FieldInfo):
            yield from _constraints(item.metadata)
        elif isinstance(item, annotated_types.Gt):
            yield f"> {item.gt}"
        elif isinstance(item, annotated_types.Ge):
            yield f"≥ {item.ge}"
        elif isinstance(item, annotated_types.Lt):
            yield f"< {item.lt}"
        elif isinstance(item, annotated_types.Le):
            yield f"≤ {item.le}"
        elif isinstance(item, annotated_types.MinLen):
            yield f"at least {item.min_length} characters"
        elif (pattern := getattr(item, "pattern", None)) is not None:
            yield f"matching `{pattern}`"
        elif (places := getattr(item, "decimal_places", None)) is not None:
            yield f"at most {places} decimals"


def default_of(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    default = field.get_default(call_default_factory=False)
    if default is None:
        return "unset"
    if field.validation_alias in SECRET_VARIABLES:
        return "(secret)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if default == "":
        return "empty"
    return f"`{default}`"


def table(settings_classes: list[type[ServiceSettings]]) -> str:
    lines = ["| variable | expected | default | what it is for |", "|---|---|---|---|"]
    seen: set[str] = set()
    for group in settings_classes:
        for row in rows(group):
            if row.variable not in seen:
                seen.add(row.variable)
                lines.append(
                    f"| `{row.variable}` | {row.expected} | {row.default} | {_cell(row.description)} |"
                )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A description as a table cell: no '|' inside, a full stop to end."""
    text = text.replace("|", "\\|")
    return text if text.endswith(".") else text + "."


def settings_class(location: str) -> type[ServiceSettings]:
    """The class at `module:name`."""
    module_name, _, name = location.partition(":")
    found = getattr(importlib.import_module(module_name), name)
    if not (isinstance(found, type) and issubclass(found, ServiceSettings)):
        raise TypeError(f"{location} is not a settings class")
    return found


def render() -> str:
    sections = [INTRO]
    for service, locations in SERVICES.items():
        sections.append(f"## {service}\n\n" + table([settings_class(location) for location in locations]))
    return "\n".join(sections)


if __name__ == "__main__":
    print(render(), end="")
