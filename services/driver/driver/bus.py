"""The driver's Kafka I/O: what it sends, and the few partitions it reads.

A driver reads only the partition of `respuestas_conductor` and of `tickets`
that its own key hashes to (`evcharging.partitioning`), never the whole topic,
and the tracker then drops the other drivers that share that partition.

Tickets are read from the offset committed by the driver's own consumer group
(`driver-<id>`), and a ticket's offset is committed once it has been shown: a
ticket produced while the driver was not running is therefore shown the next
time the driver starts, on this or any other machine, exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from evcharging.codec import ContractError, decode
from evcharging.kafka import ContractProducer, ask, consumer_config
from evcharging.messages import CpStatus, Message, SupplyRequest
from evcharging.partitioning import partition_for
from evcharging.topics import CP_STATUS, DRIVER_RESPONSES, SUPPLY_REQUESTS, TICKETS, Topic

PATIENCE_FACTOR = 2
"""Reading waits for Kafka up to twice a request's validity: when a node of a three-node
cluster dies, its partitions answer again from another node only after its controllers
have given up on it (infra/kafka-cluster.yml; 4-7 s measured, more when the node also
led the controllers), and a driver that starts meanwhile should wait, not fail."""


class BrokerUnreachable(RuntimeError):
    """Kafka did not answer in time: `bootstrap` was tried, `detail` says what failed."""

    def __init__(self, bootstrap: str, detail: str) -> None:
        super().__init__(f"{bootstrap}: {detail}")
        self.bootstrap = bootstrap
        self.detail = detail


@dataclass(frozen=True)
class Received:
    """A decoded message and where it was read."""

    topic: str
    partition: int
    offset: int
    message: Message


def ticket_group(driver_id: str) -> str:
    """The consumer group whose committed offset marks the tickets a driver has seen."""
    return f"driver-{driver_id}"


class _Catchup:
    """Knows when a consumer has read each of its partitions up to a fixed end."""

    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self._pending = {tp for tp, end in ends.items() if end > 0}
        self._ends = ends

    def started_at(self, tp: tuple[str, int], offset: int) -> None:
        if offset >= self._ends[tp]:
            self._pending.discard(tp)

    def read(self, tp: tuple[str, int], offset: int) -> None:
        if tp in self._ends and offset + 1 >= self._ends[tp]:
            self._pending.discard(tp)

    def reached_end(self, tp: tuple[str, int]) -> None:
        self._pending.discard(tp)

    @property
    def done(self) -> bool:
        return not self._pending


class DriverBus:
    """Everything one driver sends to and reads from Kafka."""

    def __init__(self, bootstrap: str, driver_id: str, timeout: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.driver_id = driver_id
        self.timeout = timeout
        """How long a request is valid: its delivery waits no longer."""
        self.patience = PATIENCE_FACTOR * timeout
        """How long reading waits for the broker before it is called unreachable."""
        self._producer: ContractProducer | None = None

    # --- sending ----------------------------------------------------------------

    def send(self, request: SupplyRequest) -> None:
        """Send a request and wait until the broker has it; raise BrokerUnreachable if it does not."""
        if self._producer is None:
            self._producer = ContractProducer(
                self.bootstrap, f"driver-{self.driver_id}", **{"message.timeout.ms": int(self.timeout * 1000)}
            )
        self._producer.send(SUPPLY_REQUESTS, request)
        if self._producer.flush(self.timeout + 1) > 0:
            raise BrokerUnreachable(
                self.bootstrap, f"the request was not acknowledged within {self.timeout:g} s"
            )

    # --- reading ----------------------------------------------------------------

    def statuses(self) -> dict[str, CpStatus]:
        """The latest status of every CP on the compacted status topic."""
        consumer = self._consumer(f"driver-{self.driver_id}-list")
        try:
            tps = [TopicPartition(CP_STATUS.name, p, OFFSET_BEGINNING) for p in range(CP_STATUS.partitions)]
            ends = {(tp.topic, tp.partition): self._high(consumer, tp) for tp in tps}
            consumer.assign(tps)
            latest: dict[str, CpStatus] = {}
            for item in _drain(consumer, _Catchup(ends), self.patience, self.bootstrap):
                if isinstance(item.message, CpStatus):
                    latest[item.message.cp_id] = item.message
            return latest
        finally:
            consumer.close()

    def inbox(self, history: bool = False) -> Inbox:
        """Open this driver's partitions: responses from now on, tickets from the last one seen
        (or from the beginning, with `history`)."""
        consumer = self._consumer(ticket_group(self.driver_id))
        responses = TopicPartition(DRIVER_RESPONSES.name, self._partition(DRIVER_RESPONSES))
        tickets = TopicPartition(TICKETS.name, self._partition(TICKETS))
        try:
            responses.offset = self._high(consumer, responses)
            tickets_end = self._high(consumer, tickets)
            tickets.offset = OFFSET_BEGINNING if history else self._committed(consumer, tickets)
            consumer.assign([responses, tickets])
        except BaseException:
            consumer.close()
            raise
        return Inbox(consumer, tickets, tickets_end, self.patience, self.bootstrap)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self.timeout)

    # --- helpers ----------------------------------------------------------------

    def _partition(self, topic: Topic) -> int:
        return partition_for(self.driver_id, topic.partitions)

    def _consumer(self, group: str) -> Consumer:
        return Consumer(
            consumer_config(
                self.bootstrap,
                group,
                **{"enable.partition.eof": True, "client.id": f"driver-{self.driver_id}"},
            )
        )

    def _high(self, consumer: Consumer, tp: TopicPartition) -> int:
        try:
            _low, high = ask(
                partial(consumer.get_watermark_offsets, tp, cached=False), self.patience, consumer
            )
        except KafkaException as error:
            raise BrokerUnreachable(
                self.bootstrap, f"no end offset of {tp.topic}: {error.args[0].str()}"
            ) from None
        return int(high)

    def _committed(self, consumer: Consumer, tp: TopicPartition) -> int:
        where = [TopicPartition(tp.topic, tp.partition)]
        try:
            [committed] = ask(partial(consumer.committed, where), self.patience, consumer)
        except KafkaException as error:
            raise BrokerUnreachable(
                self.bootstrap, f"no committed offset of {tp.topic}: {error.args[0].str()}"
            ) from None
        offset = int(committed.offset)
        return offset if offset >= 0 else OFFSET_BEGINNING


class Inbox:
    """An open consumer on the driver's own partitions."""

    def __init__(
        self, consumer: Consumer, tickets: TopicPartition, tickets_end: int, timeout: float, bootstrap: str
    ) -> None:
        self._consumer = consumer
        self._bootstrap = bootstrap
        self._catchup = _Catchup({(tickets.topic, tickets.partition): tickets_end})
        if tickets.offset >= 0:
            self._catchup.started_at((tickets.topic, tickets.partition), tickets.offset)
        self._timeout = timeout
        self._shown: set[str] = set()

    def was_shown(self, ticket_id: str) -> bool:
        """True for a ticket already shown by this inbox (the central may deliver one twice)."""
        return ticket_id in self._shown

    def backlog(self) -> list[Received]:
        """Everything on the tickets partition up to where it ended when the inbox opened."""
        return list(_drain(self._consumer, self._catchup, self._timeout, self._bootstrap))

    def poll(self, timeout: float) -> list[Received]:
        """The messages that arrive within `timeout` seconds (maybe none)."""
        return list(_read(self._consumer, timeout))

    def seen(self, ticket: Received) -> None:
        """Remember that a ticket was shown, so it is not shown as new again."""
        ticket_id = getattr(ticket.message, "ticket_id", None)
        if isinstance(ticket_id, str):
            self._shown.add(ticket_id)
        self._consumer.commit(
            offsets=[TopicPartition(ticket.topic, ticket.partition, ticket.offset + 1)], asynchronous=False
        )

    def close(self) -> None:
        self._consumer.close()


def _drain(consumer: Consumer, catchup: _Catchup, timeout: float, bootstrap: str) -> Iterator[Received]:
    """Read until every partition reached its end; raise BrokerUnreachable if that takes too long."""
    deadline = time.monotonic() + timeout
    while not catchup.done:
        if time.monotonic() > deadline:
            raise BrokerUnreachable(bootstrap, f"reading up to the end took over {timeout:g} s")
        for raw in consumer.consume(500, 0.2):
            tp = (str(raw.topic()), int(raw.partition() or 0))
            error = raw.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    catchup.reached_end(tp)
                continue
            catchup.read(tp, int(raw.offset() or 0))
            item = _decoded(raw)
            if item is not None:
                yield item


def _read(consumer: Consumer, timeout: float) -> Iterator[Received]:
    """Wait up to `timeout` for a first message, then take whatever else is already there."""
    raw = consumer.poll(timeout)
    while raw is not None:
        if raw.error() is None:
            item = _decoded(raw)
            if item is not None:
                yield item
        raw = consumer.poll(0)


def _decoded(raw: Any) -> Received | None:
    """The message, or None for one that breaks the contract (central-stream dead-letters those)."""
    try:
        message = decode(raw.topic(), raw.value())
    except ContractError:
        return None
    return Received(raw.topic(), raw.partition(), raw.offset(), message)
