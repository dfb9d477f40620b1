"""The gateway's Kafka: what chargers report goes out acknowledged, and the central's
commands and denials come in.

A charger forgets a transaction message once it has its answer, so the gateway answers
only after Kafka has acknowledged what the message became (`Outbox.deliver`): a gateway
that dies before that leaves the message in the charger's queue, to be sent again to
the next gateway. A repeat is harmless, every record of it carrying the same id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from confluent_kafka import Consumer, TopicPartition

from evcharging import messages as m
from evcharging.codec import ContractError, decode
from evcharging.kafka import ask, consumer_config, end_positions
from evcharging.sink import KafkaSink
from evcharging.topics import CP_COMMANDS, Topic

log = logging.getLogger(__name__)

GROUP = "ocpp-gateway"
"""Where the gateway's place in the central's commands is kept across its restarts."""
FEED_BUFFER = {"queued.max.messages.kbytes": 1024, "queued.min.messages": 1000}
"""What librdkafka fetches ahead: the commands of the gateway's chargers are few, and
the defaults (64 MB, 100,000 messages) held hundreds of MB of other CPs' commands."""
START_WITHIN = 60.0
"""How long a starting gateway waits for Kafka to say where its reading starts."""


class Undelivered(Exception):
    """Kafka did not acknowledge a record: the charger's message is answered with an
    error, and the charger sends it again later."""


class Outbox(Protocol):
    """Where the gateway's records go (Network; a list in unit tests)."""

    async def deliver(self, topic: Topic, message: m.Message) -> None: ...


class Network:
    """The shared sink (evcharging.sink), awaited until Kafka has each record, within a deadline."""

    def __init__(self, bootstrap: str, deliver_within: float) -> None:
        self._sink = KafkaSink(bootstrap, "ocpp-gateway")
        self._deliver_within = deliver_within

    async def deliver(self, topic: Topic, message: m.Message) -> None:
        """Send `message` and return once Kafka has acknowledged it; Undelivered otherwise."""
        acknowledged = await self._sink.publish(topic, message)
        try:
            async with asyncio.timeout(self._deliver_within):
                await acknowledged
        except TimeoutError:
            raise Undelivered(
                f"Kafka did not acknowledge {type(message).__name__} within {self._deliver_within:g} s"
            ) from None

    def close(self, timeout: float = 5.0) -> None:
        self._sink.close(timeout)


def _start_positions(consumer: Consumer) -> list[TopicPartition]:
    """Where the last run left each partition; the end for one it never read."""
    topics = (CP_COMMANDS,)
    partitions = [TopicPartition(topic.name, p) for topic in topics for p in range(topic.partitions)]
    committed = ask(lambda wait: consumer.committed(partitions, timeout=wait), START_WITHIN, consumer)
    ends = end_positions(consumer, topics, START_WITHIN)
    return [left if left.offset >= 0 else end for left, end in zip(committed, ends, strict=True)]


Handler = Callable[[m.Message], Coroutine[Any, Any, None]]


class CentralFeed:
    """The central's commands to the gateway's chargers (`comandos_cp`, with the denials
    of the requests made at them), read in a thread and handed to the gateway's loop one
    at a time, in order.

    It reads every partition, outside any consumer group's assignment: each gateway
    sees every command and acts on those of its own chargers, so two gateways never split
    a charger's commands between them. A record for any other CP is skipped by its key,
    undecoded. Its position is committed under `ocpp-gateway` once a record is handed
    over: a restarted gateway takes the commands sent while it was down (an operator's
    stop reaches the charger when it is back). A gateway's very first start begins at
    the end.
    """

    def __init__(
        self,
        bootstrap: str,
        loop: asyncio.AbstractEventLoop,
        serves: Callable[[str], bool],
        on_command: Handler,
    ) -> None:
        """`serves(cp_id)` tells the CPs whose commands are wanted (called from the thread)."""
        self._bootstrap = bootstrap
        self._loop = loop
        self._serves = serves
        self._on_command = on_command
        self._stop = threading.Event()
        self.following = threading.Event()
        self._thread = threading.Thread(target=self._read, name="central-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        consumer = Consumer(consumer_config(self._bootstrap, GROUP, **FEED_BUFFER))
        try:
            consumer.assign(_start_positions(consumer))
            log.info("following the central's commands and answers")
            self.following.set()
            while not self._stop.is_set():
                record = consumer.poll(0.5)
                if record is None:
                    continue
                if record.error() is not None:
                    log.warning("central feed: %s", record.error())
                    continue
                key = record.key()
                if key is not None and self._serves(key.decode(errors="replace")):
                    self._hand_over(record.value())
                    consumer.commit(message=record, asynchronous=True)
        finally:
            consumer.close()

    def _hand_over(self, value: bytes | None) -> None:
        try:
            message = decode(CP_COMMANDS, value)
        except ContractError as error:
            log.error("skipped a record the contract refuses: %s", error)
            return
        handled: concurrent.futures.Future[None] = asyncio.run_coroutine_threadsafe(
            self._on_command(message), self._loop
        )
        try:
            handled.result()
        except Exception:
            log.exception("could not apply %s", type(message).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
