"""Sending from an event loop through librdkafka, with acknowledgements the loop can await.

central-stream sends through it rather than Faust's own producer: Faust's (aiokafka)
is pure Python and runs on the agent's event loop, and sent through it the two
messages of a telemetry report (the driver's SupplyUpdate and the page's CpStatus)
and the CP's record were most of the agent's time per report. librdkafka batches
and encodes in C, on its own threads. Only what somebody waits for comes back to the
loop: a message central-stream must see acknowledged before it saves the CP's record,
a changelog write its records wait for, a charger's message ocpp-gateway answers only
once Kafka has it. A live figure is sent with no delivery report at all: a lost one
is superseded by the next.

Everything goes through one idempotent producer, so each partition keeps the
order it was written in (central-stream's records rely on it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from evcharging.kafka import ContractProducer, DeliveryReport
from evcharging.messages import Message
from evcharging.topics import Topic

log = logging.getLogger(__name__)

QUEUE_FULL_PAUSE = 0.05
"""Seconds to wait when librdkafka's local queue is full (the broker is away or slow)."""


class KafkaSink:
    """Publishes contract messages through the project's ContractProducer, with
    acknowledgements the event loop can await."""

    def __init__(self, bootstrap: str, client_id: str) -> None:
        # No delivery deadline: while Kafka restarts, messages wait for it, as the
        # agent does (SPEC: Kafka restarts lose nothing).
        self._producer = ContractProducer(bootstrap, client_id, **{"message.timeout.ms": 0})
        self._producer.serve_on_send = False  # _serve_reports does
        self._serving = True
        self._reports = threading.Thread(target=self._serve_reports, name="delivery-reports", daemon=True)
        self._reports.start()

    async def publish(self, topic: Topic, message: Message) -> asyncio.Future[None]:
        """Queue `message`; the future completes when the broker has acknowledged it."""
        acknowledged, report = _acknowledgement()
        await _queued(lambda: self._producer.send(topic, message, report))
        return acknowledged

    async def publish_live(self, topic: Topic, message: Message) -> None:
        """Queue a live figure: nobody waits for it, and nothing comes back."""
        await _queued(lambda: self._producer.send_unfollowed(topic, message))

    async def write(
        self, topic: str, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> asyncio.Future[None] | None:
        """Queue a changelog record; with `acknowledged`, a future of the broker's ack."""
        future, report = _acknowledgement() if acknowledged else (None, None)
        await _queued(lambda: self._producer.write(topic, key, value, partition, report))
        return future

    def _serve_reports(self) -> None:
        while self._serving:
            self._producer.poll(0.1)

    def close(self, timeout: float = 10.0) -> int:
        """Stop, after waiting up to `timeout` s for what is queued; returns what is left."""
        self._serving = False
        self._reports.join()
        left = self._producer.flush(timeout)
        if left:
            log.warning("%d messages not acknowledged by Kafka at shutdown", left)
        return left


def _acknowledgement() -> tuple[asyncio.Future[None], DeliveryReport]:
    """A future of the loop, and the delivery report that settles it from librdkafka's thread."""
    loop = asyncio.get_running_loop()
    acknowledged: asyncio.Future[None] = loop.create_future()

    def delivered(error: KafkaError | None, _record: Any) -> None:
        loop.call_soon_threadsafe(_settle, acknowledged, error)

    return acknowledged, delivered


async def _queued(produce: Callable[[], None]) -> None:
    """Produce, waiting while librdkafka's local queue is full (the broker is away or slow)."""
    while True:
        try:
            produce()
            return
        except BufferError:
            await asyncio.sleep(QUEUE_FULL_PAUSE)


def _settle(acknowledged: asyncio.Future[None], error: KafkaError | None) -> None:
    if acknowledged.done():
        return
    if error is None:
        acknowledged.set_result(None)
    else:
        acknowledged.set_exception(KafkaException(error))
