"""confluent-kafka wiring that every service shares: producer settings, a
contract-checked producer, and the creation of the topics.

Producers use murmur2_random so a CP key lands in the same partition as when
Faust (aiokafka, Java-compatible murmur2) produces it; see tests/integration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import Message as KafkaRecord
from confluent_kafka.admin import AdminClient, NewTopic

from evcharging.codec import encode, key_of
from evcharging.messages import DeadLetter, Message
from evcharging.topics import ALL, Topic

log = logging.getLogger(__name__)

DeliveryReport = Callable[[KafkaError | None, Any], None]


def producer_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
    }


def consumer_config(bootstrap: str, group_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        **extra,
    }


class ContractProducer:
    """Sends contract messages, each keyed as its topic says."""

    def __init__(self, bootstrap: str, client_id: str, **overrides: Any) -> None:
        self._producer = Producer({**producer_config(bootstrap, client_id), **overrides})

    def send(self, topic: Topic, message: Message, on_delivery: DeliveryReport | None = None) -> None:
        """Queue `message`; `on_delivery(error, record)` runs in whichever thread serves
        delivery reports (poll, flush); by default a failure is logged."""
        if not isinstance(message, Message):
            raise TypeError(f"{topic.name}: expected a contract message, got {type(message).__name__}")
        report = on_delivery or _report_failure
        self._producer.produce(topic.name, encode(message), key=key_of(topic, message), on_delivery=report)
        self._producer.poll(0)

    def poll(self, timeout: float) -> int:
        """Serve delivery reports for up to `timeout` s; returns how many were served."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for every message to be acknowledged; returns how many are still queued."""
        return int(self._producer.flush(timeout))


def end_positions(consumer: Consumer, topics: Iterable[Topic], timeout: float = 10.0) -> list[TopicPartition]:
    """Every partition of `topics` at its current end: assign (or commit) these to
    read only what is published from now on."""
    positions = []
    for topic in topics:
        for partition in range(topic.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic.name, partition), timeout=timeout
            )
            positions.append(TopicPartition(topic.name, partition, high))
    return positions


def _report_failure(error: KafkaError | None, _message: Any) -> None:
    if error is not None:
        log.error("delivery failed: %s", error)


def dead_letter(record: KafkaRecord, reason: str, service: str) -> DeadLetter:
    """The dead-letter record for a Kafka record that could not be processed."""
    key, value = record.key(), record.value()
    return DeadLetter(
        source_topic=record.topic() or "",
        partition=record.partition() or 0,
        offset=record.offset() or 0,
        key=bytes(key).decode(errors="replace") if key else None,
        payload=bytes(value or b"").decode(errors="replace"),
        reason=reason,
        service=service,
    )


def create_topics(bootstrap: str, replication: int = 1, timeout: float = 30.0) -> list[str]:
    """Create every topic of the contract that does not exist yet; returns those created.

    Raises if an existing topic has another partition count than the contract,
    since a CP's events would then no longer stay on one worker.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    for topic in ALL:
        if topic.name in existing and len(existing[topic.name].partitions) != topic.partitions:
            raise RuntimeError(
                f"topic {topic.name} has {len(existing[topic.name].partitions)} partitions, "
                f"the contract says {topic.partitions}"
            )
    missing = [_new_topic(topic, replication) for topic in ALL if topic.name not in existing]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def _new_topic(topic: Topic, replication: int) -> NewTopic:
    config = {"cleanup.policy": "compact"} if topic.compacted else {}
    if topic.retention_ms is not None:
        # Retention deletes whole segments: roll them often enough for it to bite.
        # The active segment is never deleted, so the newest record always stays.
        segment_ms = max(topic.retention_ms // 6, 60_000)
        config |= {"retention.ms": str(topic.retention_ms), "segment.ms": str(segment_ms)}
    return NewTopic(
        topic.name, num_partitions=topic.partitions, replication_factor=replication, config=config
    )
