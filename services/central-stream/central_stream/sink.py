"""Where central-stream's messages go out: librdkafka, not Faust's own producer.

Why: a telemetry event makes the agent publish two messages (the driver's
SupplyUpdate and the page's CpStatus). Sent through Faust's producer (aiokafka,
pure Python, on the agent's event loop) those sends were the largest share of
the agent's time per event; librdkafka batches and encodes them in C, on its
own threads, and only its delivery reports come back to the loop.

The crash story of agents.py is unchanged: the agent still waits for the
broker's acknowledgement of every message that is not a live figure before it
saves the CP's record, and the record itself still goes through Faust's
producer, which Faust flushes before it commits offsets. A live figure that a
crash loses is superseded by the next one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
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
        self._serving = True
        self._reports = threading.Thread(target=self._serve_reports, name="delivery-reports", daemon=True)
        self._reports.start()

    async def publish(self, topic: Topic, message: Message) -> asyncio.Future[None]:
        """Queue `message`; the future completes when the broker has acknowledged it."""
        loop = asyncio.get_running_loop()
        acknowledged: asyncio.Future[None] = loop.create_future()

        def delivered(error: KafkaError | None, _record: Any) -> None:
            loop.call_soon_threadsafe(_settle, acknowledged, error)

        await self._send(topic, message, delivered)
        return acknowledged

    async def publish_live(self, topic: Topic, message: Message) -> None:
        """Queue a live figure: nobody waits for it, a failure is only logged."""
        await self._send(topic, message, None)

    async def _send(self, topic: Topic, message: Message, on_delivery: DeliveryReport | None) -> None:
        while True:
            try:
                self._producer.send(topic, message, on_delivery)
                return
            except BufferError:
                await asyncio.sleep(QUEUE_FULL_PAUSE)

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


def _settle(acknowledged: asyncio.Future[None], error: KafkaError | None) -> None:
    if acknowledged.done():
        return
    if error is None:
        acknowledged.set_result(None)
    else:
        acknowledged.set_exception(KafkaException(error))
