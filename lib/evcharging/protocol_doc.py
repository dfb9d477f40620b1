"""Write docs/protocol.md from the contract itself, so the document cannot drift:
`python -m evcharging.protocol_doc > docs/protocol.md` (a test checks it is current).
"""

from __future__ import annotations

import sys
import types
import typing
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from evcharging import messages as m
from evcharging.topics import ALL, PARTITIONS, Topic

INTRO = f"""# EVCharging protocol

Generated from `lib/evcharging` by `python -m evcharging.protocol_doc`; do not edit by hand.
The TCP protocol between monitors and central-auth is in [central-auth.md](central-auth.md).

## Conventions

- **One encoding.** Every Kafka value is a UTF-8 JSON object made by `evcharging.codec.encode`
  and checked by `evcharging.codec.decode`, which names the field at fault. Unknown fields are
  refused, not ignored.
- **Envelope.** Every record has `type` (which record), `version` (schema version, now
  {m.SCHEMA_VERSION}), `message_id` (unique; sinks use it to drop redelivered copies) and
  `sent_at` (UTC, ISO 8601).
- **Numbers that are money or energy** (kWh, kW, €, € per kWh) are decimal strings such as
  `"12.345"`, never floats.
- **Keys.** A message about a CP is keyed by the CP id; a message for a driver by the driver id.
  All CP-keyed topics have {PARTITIONS} partitions so one central-stream worker owns all of a
  CP's events, in order. Every producer hashes keys with murmur2 (Kafka's Java client,
  aiokafka/Faust, and confluent-kafka with `partitioner=murmur2_random`).
- **Ids** of CPs and drivers: 1-32 characters of letters, digits, `_`, `.`, `-`, starting with
  a letter or digit.
- **Versions.** A change that old readers cannot read gets a new `version`; readers refuse
  versions they do not know, and the message goes to the dead-letter topic.
"""


def topics_table() -> str:
    rows = [
        "| topic | key | partitions | carries | produced by | consumed by | purpose |",
        "|---|---|---|---|---|---|---|",
    ]
    for topic in ALL:
        records = ", ".join(f"[{name}](#{name.lower()})" for name in record_names(topic))
        partitions = f"{topic.partitions}{' (compacted)' if topic.compacted else ''}"
        if topic.retention_ms is not None:
            partitions += f" (kept {_duration(topic.retention_ms)})"
        rows.append(
            f"| `{topic.name}` | {topic.key or '-'} | {partitions} | {records} | "
            f"{topic.produced_by} | {topic.consumed_by} | {topic.purpose} |"
        )
    return "## Topics\n\n" + "\n".join(rows) + "\n"


def _duration(ms: int) -> str:
    """A retention in the largest whole unit: '1 h', '10 min', '30 s'."""
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def record_classes(topic: Topic) -> list[type[BaseModel]]:
    schema = topic.schema
    if typing.get_origin(schema) is typing.Annotated:
        schema = typing.get_args(schema)[0]
    if isinstance(schema, type):
        return [schema]
    return list(typing.get_args(schema))


def record_names(topic: Topic) -> list[str]:
    return [cls.__name__ for cls in record_classes(topic)]


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " or ".join(repr(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return " / ".join(f"`{member.value}`" for member in annotation)
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


CONSTRAINTS = {
    "ge": "≥ {}",
    "gt": "> {}",
    "le": "≤ {}",
    "lt": "< {}",
    "min_length": "at least {} characters",
    "max_length": "at most {} characters",
    "decimal_places": "{} decimals at most",
}


def describe(field: FieldInfo) -> str:
    notes = [field.description] if field.description else []
    for item in field.metadata:
        for attribute, template in CONSTRAINTS.items():
            value = getattr(item, attribute, None)
            if value is not None and type(item).__name__ != "StringConstraints":
                notes.append(template.format(value))
    return "; ".join(notes).replace("|", "\\|")


def record_section(cls: type[BaseModel]) -> str:
    doc = (cls.__doc__ or "").strip().replace("\n    ", " ")
    lines = [f"### {cls.__name__}", "", doc, "", "| field | type | required | notes |", "|---|---|---|---|"]
    if not doc:
        del lines[2:4]
    for name, field in cls.model_fields.items():
        required = "yes" if field.is_required() else "no"
        lines.append(f"| `{name}` | {type_name(field.annotation)} | {required} | {describe(field)} |")
    return "\n".join(lines) + "\n"


def render() -> str:
    seen: list[type[BaseModel]] = []
    for topic in ALL:
        seen += [cls for cls in record_classes(topic) if cls not in seen]
    records = "\n".join(record_section(cls) for cls in seen)
    return f"{INTRO}\n{topics_table()}\n## Records\n\n{records}"


if __name__ == "__main__":
    sys.stdout.write(render())
