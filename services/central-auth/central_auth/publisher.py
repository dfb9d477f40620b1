"""Hands central-auth's events to Kafka, in the order they happened.

ContractProducer (librdkafka, idempotent, acks=all) keeps the order of the
messages of one partition, retries while the broker is away and reconnects by
itself; this wrapper only adds what a long-running server needs around it: no
message dropped because the local queue is momentarily full, and delivery
reports served even when nothing is being sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from evcharging.kafka import ContractProducer
from evcharging.messages import Message
from evcharging.topics import Topic

log = logging.getLogger(__name__)

Event = tuple[Topic, Message]

PRODUCER_OVERRIDES = {
    # A connection event delivered late is still true; one dropped after the default
    # five minutes would leave a CP online forever. Wait for the broker as long as it takes.
    "message.timeout.ms": 0,
}


class EventPublisher:
    def __init__(self, producer: ContractProducer) -> None:
        self._producer = producer

    def publish(self, events: Iterable[Event]) -> None:
        """Queue the events for delivery, in order. Never blocks for long: the broker
        may be restarting, and the queue absorbs that."""
        for topic, message in events:
            self._send(topic, message)
            log.info("%s -> %s: %s", topic.name, getattr(message, "cp_id", "?"), type(message).__name__)

    def signal(self, topic: Topic, message: Message) -> None:
        """Queue a periodic message (a beacon) without a log line for each. Never waits:
        when the local queue is full, Kafka is not taking anything and the beacon,
        whose point is to be current, is dropped."""
        try:
            self._producer.send(topic, message)
        except BufferError:
            log.warning("Kafka queue full: %s for %s dropped", type(message).__name__, topic.name)

    def _send(self, topic: Topic, message: Message) -> None:
        for _ in range(50):
            try:
                self._producer.send(topic, message)
                return
            except BufferError:
                self._producer.flush(0.1)  # the local queue is full: let deliveries drain
        log.error("Kafka queue still full: %s for %s not sent", type(message).__name__, topic.name)

    async def serve_delivery_reports(self, period: float = 1.0) -> None:
        """Run forever: let librdkafka report deliveries and failures while we are idle."""
        while True:
            self._producer.flush(0)
            await asyncio.sleep(period)

    def drain(self, timeout: float) -> int:
        """Wait up to `timeout` s for every queued event to be acknowledged; returns those left."""
        left = self._producer.flush(timeout)
        if left:
            log.warning("%d events not acknowledged by Kafka at shutdown", left)
        return left
