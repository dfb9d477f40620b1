"""One Kafka reader for the whole load generator: what the central says to the
simulated CPs and drivers, handed to the asyncio loop in batches.

A single consumer thread (confluent-kafka does its I/O outside the GIL) reads
every partition of the four topics the CPs and drivers listen to, from the end
as it is when the run starts, the way the baseline reads (`evcharging.kafka.read_batch`:
awake at the first record, no batch timeout). Records whose key is not one of
this run's ids are skipped before they are decoded, so a shared stack's own
traffic costs almost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer

from evcharging import topics as t
from evcharging.codec import ContractError, decode
from evcharging.kafka import consumer_config, end_positions, read_batch

log = logging.getLogger(__name__)

TOPICS = (t.CP_COMMANDS, t.DRIVER_RESPONSES, t.TICKETS, t.CP_STATUS)
"""What a CP engine and a driver consume, and the CP states a driver would see."""

Dispatch = Callable[[list[Any]], None]


class Feed:
    def __init__(
        self, bootstrap: str, prefix: str, loop: asyncio.AbstractEventLoop, dispatch: Dispatch
    ) -> None:
        self._prefix = prefix.encode()
        self._loop = loop
        self._dispatch = dispatch
        self._stop = threading.Event()
        self._consumer = Consumer(consumer_config(bootstrap, f"bench-feed-{uuid.uuid4().hex[:8]}"))
        self._consumer.assign(end_positions(self._consumer, TOPICS, timeout=30))
        self._thread = threading.Thread(target=self._read, name="bench-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()

    def _read(self) -> None:
        while not self._stop.is_set():
            batch = []
            for record in read_batch(self._consumer, timeout=0.1):
                key = record.key()
                if record.error() is not None or not key or not key.startswith(self._prefix):
                    continue
                try:
                    batch.append(decode(str(record.topic()), record.value()))
                except ContractError as error:
                    log.warning("central sent a message the contract refuses: %s", error)
            if batch:
                self._loop.call_soon_threadsafe(self._dispatch, batch)
