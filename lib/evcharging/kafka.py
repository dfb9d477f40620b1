"""confluent-kafka wiring that every service shares: client settings (with the
security of the central's external listener, evcharging.kafka_security) and a
contract-checked producer. kafka-setup's topics, users and ACLs: evcharging.kafka_admin.

Producers use murmur2_random so a CP key lands in the same partition as when
Faust (aiokafka, Java-compatible murmur2) produces it; see tests/integration.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import Message as KafkaRecord
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from evcharging.codec import encode, key_of
from evcharging.kafka_security import RECOVERY_CHECK_MS, ClientWatch, KafkaSecurity
from evcharging.messages import DeadLetter, Message
from evcharging.topics import Topic

log = logging.getLogger(__name__)

DeliveryReport = Callable[[KafkaError | None, Any], None]
T = TypeVar("T")
R = TypeVar("R")

PASSING = frozenset(
    {
        KafkaError._RESOLVE,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._WAIT_COORD,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._DESTROY_BROKER,
    }
)
"""What a dead broker of a cluster looks like to a question asked meanwhile: its name
no longer resolves, its connection drops, it no longer leads, the client dropped its
handle, or a metadata answer without it left the partition out for a moment. Its
partitions and groups move to another node within seconds (infra/kafka-cluster.yml),
so these pass."""


def client_config(bootstrap: str, security: KafkaSecurity | None = None) -> dict[str, Any]:
    """What every client needs: the broker, its security, and the watch that turns a
    sign-in failure into one clear sentence (ClientWatch)."""
    security = KafkaSecurity.from_env() if security is None else security
    watch = ClientWatch(bootstrap, security)
    return {
        "bootstrap.servers": bootstrap,
        **security.config(),
        "error_cb": watch.on_error,
        "logger": watch,
        "stats_cb": watch.on_stats,
        "statistics.interval.ms": RECOVERY_CHECK_MS,
        # Small requests go out at once: with Nagle's algorithm a request written while
        # an earlier one to the same broker was unanswered waited for its TCP ack, which
        # made central-stream's acknowledged sends several times slower than one alone.
        "socket.nagle.disable": True,
    }


def producer_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    return {
        **client_config(bootstrap),
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        # Sent at once: a driver's request, a CP's report or the central's answer has
        # somebody waiting for it. Under load librdkafka still batches whatever queues
        # while its requests to a broker are in flight.
        "linger.ms": 0,
    }


def consumer_config(bootstrap: str, group_id: str, **extra: Any) -> dict[str, Any]:
    return {
        **client_config(bootstrap),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        **extra,
    }


class ContractProducer:
    """Sends contract messages, each keyed as its topic says."""

    serve_on_send = True
    """Whether a send serves the delivery reports waiting (poll(0)) on the sender's thread;
    False when a thread of the owner's serves them."""

    def __init__(self, bootstrap: str, client_id: str, **overrides: Any) -> None:
        self._producer = Producer({**producer_config(bootstrap, client_id), **overrides})

    def send(self, topic: Topic, message: Message, on_delivery: DeliveryReport | None = None) -> None:
        """Queue `message`; `on_delivery(error, record)` runs in whichever thread serves
        delivery reports (poll, flush); by default a failure is logged."""
        self._produce(topic, message, on_delivery or _report_failure)

    def send_unfollowed(self, topic: Topic, message: Message) -> None:
        """Queue a message whose delivery nobody follows (a live figure the next one
        supersedes): no Python runs when it is delivered. A failure of the connection
        still reaches the client's error callback."""
        self._produce(topic, message, None)

    def write(
        self, topic: str, key: bytes, value: bytes, partition: int, on_delivery: DeliveryReport | None
    ) -> None:
        """Queue a record outside the contract (a stream processor's changelog) in `partition`;
        `on_delivery` as for send, None for no report."""
        self._producer.produce(topic, value, key=key, partition=partition, on_delivery=on_delivery)
        if self.serve_on_send:
            self._producer.poll(0)

    def _produce(self, topic: Topic, message: Message, on_delivery: DeliveryReport | None) -> None:
        if not isinstance(message, Message):
            raise TypeError(f"{topic.name}: expected a contract message, got {type(message).__name__}")
        key = key_of(topic, message)
        self._producer.produce(topic.name, encode(message), key=key, on_delivery=on_delivery)
        if self.serve_on_send:
            self._producer.poll(0)

    def poll(self, timeout: float) -> int:
        """Serve delivery reports for up to `timeout` s; returns how many were served."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for every message to be acknowledged; returns how many are still queued."""
        return int(self._producer.flush(timeout))


ATTEMPT_SECONDS = 2.0
"""The longest one try of `ask` waits: a question sent to a broker that just died may
wait on it for its whole timeout, while the partition already has another leader."""


def ask(question: Callable[[float], T], timeout: float, client: Consumer | None = None) -> T:
    """The answer to a question to the cluster (offsets, committed positions), asked
    again while the error is one that passes (PASSING), for up to `timeout` seconds;
    then the last error is raised. A single broker that is down fails the same way,
    after the same wait. `question(seconds)` waits at most that long for its answer.

    Between two tries the `client` asking re-reads the cluster's metadata: a question
    about a partition goes to the leader the client last heard of, and librdkafka does
    not look again on its own when that leader is dead."""
    deadline = time.monotonic() + timeout

    def look_again(_state: object) -> None:
        if client is not None:
            with contextlib.suppress(KafkaException):
                client.list_topics(timeout=min(ATTEMPT_SECONDS, max(deadline - time.monotonic(), 0.1)))

    def one_try() -> T:
        return question(min(ATTEMPT_SECONDS, max(deadline - time.monotonic(), 0.1)))

    asking = Retrying(
        retry=retry_if_exception(passes),
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        before_sleep=look_again,
        reraise=True,
    )
    return asking(one_try)


class Reader(Protocol[R]):
    """What `read_batch` needs of a confluent-kafka Consumer (and what tests stand in for)."""

    def poll(self, timeout: float, /) -> R | None: ...

    def consume(self, num_messages: int, timeout: float, /) -> list[R]: ...


def read_batch(consumer: Reader[R], timeout: float, most: int = 2000) -> list[R]:
    """Up to `most` records: wait at most `timeout` s for the first one, then take
    without waiting what has already arrived; empty when nothing came in time.

    `consume(n, timeout)` alone returns early only when `n` records are there: a
    batch that does not fill waits its whole timeout, a delay on every record.
    `poll` wakes at the first; `consume(n, 0)` then drains what librdkafka has
    already fetched behind it. Every reader that is timed or timing (central-stream's
    intake, the bench's readers and its raw-Kafka baseline) reads this way."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(most - 1, 0)] if most > 1 else [first]


def passes(error: BaseException) -> bool:
    return isinstance(error, KafkaException) and error.args[0].code() in PASSING


def end_positions(consumer: Consumer, topics: Iterable[Topic], timeout: float = 10.0) -> list[TopicPartition]:
    """Every partition of `topics` at its current end: assign (or commit) these to
    read only what is published from now on."""
    positions = []
    for topic in topics:
        for partition in range(topic.partitions):
            where = TopicPartition(topic.name, partition)
            _low, high = ask(partial(consumer.get_watermark_offsets, where), timeout, consumer)
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
