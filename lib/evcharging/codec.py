"""The single JSON encoding of every message, and its validation on the way in."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from evcharging.messages import Message
from evcharging.topics import BY_NAME, Topic


class ContractError(ValueError):
    """A message that breaks the contract. The text names the topic and the field."""

    def __init__(self, topic: str, problem: str, field: str | None = None) -> None:
        self.topic = topic
        self.field = field
        self.problem = problem
        where = f"field '{field}': " if field else ""
        super().__init__(f"{topic}: {where}{problem}")


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def key_of(topic: Topic, message: Message) -> bytes | None:
    """The partitioning key of a message on a topic: its CP or driver id."""
    if topic.key is None:
        return None
    key = getattr(message, topic.key, None)
    if not isinstance(key, str):
        raise ContractError(topic.name, f"{type(message).__name__} has no {topic.key}", topic.key)
    return key.encode()


def decode(topic: Topic | str, raw: bytes | str | None) -> Any:
    """Parse and validate `raw` as a message of `topic`; raise ContractError if it is not one."""
    topic = BY_NAME[topic] if isinstance(topic, str) else topic
    if not raw:
        raise ContractError(topic.name, "empty message (no value)")
    try:
        return topic.adapter.validate_json(raw)
    except ValidationError as error:
        raise _explain(topic, error) from None


def _explain(topic: Topic, error: ValidationError) -> ContractError:
    first = error.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return ContractError(topic.name, f"not JSON ({first['ctx'].get('error', 'invalid')})")
    if first["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return ContractError(topic.name, "not a JSON object")
    location = list(first["loc"])
    if first["type"].startswith("union_tag") or first["type"] == "discriminator_missing":
        location = ["type"]
    elif topic.is_union and location:
        location = location[1:]  # the first part names the record type, not a field
    field = ".".join(str(part) for part in location) or None
    return ContractError(topic.name, first["msg"], field)
