"""Read what the system publishes, from the moment a test starts listening."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer

from evcharging.codec import decode, key_of
from evcharging.kafka import consumer_config, end_positions
from evcharging.topics import BY_NAME, Topic
from tests.support.waiting import wait_until


class TopicTail:
    """Every message published on `topics` after construction, decoded and
    grouped by key; read from all partitions, with no consumer group."""

    def __init__(self, bootstrap: str, topics: Iterable[Topic]) -> None:
        self._consumer = Consumer(consumer_config(bootstrap, f"test-tail-{uuid.uuid4().hex}"))
        self._consumer.assign(end_positions(self._consumer, topics))
        self._by_key: dict[str, list[tuple[str, object]]] = {}

    def close(self) -> None:
        self._consumer.close()

    def of(self, key: str, topic: Topic | None = None) -> list[object]:
        """Messages received so far under `key` (on `topic` only, if given), in arrival order."""
        self._drain()
        return [msg for name, msg in self._by_key.get(key, []) if topic is None or name == topic.name]

    def wait_for(self, key: str, topic: Topic, count: int, timeout: float) -> list[object]:
        def arrived() -> list[object] | None:
            messages = self.of(key, topic)
            return messages[:count] if len(messages) >= count else None

        return wait_until(arrived, timeout, f"{count} messages for {key} on {topic.name}")

    def _drain(self) -> None:
        while (record := self._consumer.poll(0.05)) is not None:
            if record.error() is not None or record.key() is None:
                continue
            topic = BY_NAME[record.topic() or ""]
            key = bytes(record.key() or b"")
            message = decode(topic, record.value())
            assert key_of(topic, message) == key, f"{topic.name}: key {key!r} does not match {message!r}"
            self._by_key.setdefault(key.decode(), []).append((topic.name, message))
