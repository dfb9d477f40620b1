"""The baseline every EVCharging figure is divided by: raw Kafka on the same broker.

- round trip: a confluent-kafka producer sends a request, a responder consumes it
  and replies on a second topic, the requester's consumer receives the reply;
- throughput: produce, then consume, telemetry-sized records as fast as possible.

Both use the producer settings of the services (acks=all, idempotent, murmur2),
and read with `evcharging.kafka.read_batch`, as the load generator's own readers do, so
a ratio against them measures what EVCharging adds, not a different client.

    python -m bench.baseline --bootstrap localhost:9094
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.stats import Latency
from evcharging.kafka import ask, consumer_config, producer_config, read_batch

log = logging.getLogger(__name__)

PAYLOAD = b'{"type":"telemetry","cp_id":"CP001","session_id":"' + b"x" * 32 + b'","seq":1,"kw":"22.000"}' * 2


@dataclass(frozen=True)
class Throughput:
    messages: int
    produce_per_s: float
    consume_per_s: float


@contextmanager
def scratch_topics(bootstrap: str, count: int, partitions: int = 6) -> Iterator[list[str]]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
    )
    for future in futures.values():
        future.result(30)
    try:
        yield names
    finally:
        admin.delete_topics(names)


def _ready_consumer(bootstrap: str, topic: str, partitions: int = 6) -> Consumer:
    """A consumer assigned every partition at its current end, so nothing sent afterwards
    is missed. Not a group subscription with `latest`: that resolves the offset at the
    first fetch, which may come after the first record, and the record is skipped."""
    consumer = Consumer(consumer_config(bootstrap, f"bench-{uuid.uuid4().hex}"))
    ends = []
    for partition in range(partitions):
        where = TopicPartition(topic, partition)
        _low, high = ask(partial(consumer.get_watermark_offsets, where), 30, consumer)
        ends.append(TopicPartition(topic, partition, high))
    consumer.assign(ends)
    return consumer


WARM_UP = 20
"""Round trips left out of the figures: the first ones include fetching metadata."""
REPLY_WAIT = 30.0
"""A reply not back after this long is lost: noted and left out, never waited for forever."""


def round_trip(bootstrap: str, requests: int = 300) -> Latency:
    """Request → responder → reply, one at a time, as a driver waits for its answer."""
    with scratch_topics(bootstrap, 2) as (request_topic, reply_topic):
        stop = threading.Event()
        responder_consumer = _ready_consumer(bootstrap, request_topic)
        requester_consumer = _ready_consumer(bootstrap, reply_topic)

        def respond() -> None:
            producer = Producer(producer_config(bootstrap, "bench-responder"))
            while not stop.is_set():
                for record in read_batch(responder_consumer, 0.1):
                    if record.error() is None:
                        producer.produce(reply_topic, record.value(), key=record.key())
                        producer.poll(0)
                        producer.flush(5)

        responder = threading.Thread(target=respond, daemon=True)
        responder.start()
        producer = Producer(producer_config(bootstrap, "bench-requester"))
        samples = []
        try:
            for number in range(requests + WARM_UP):
                key = f"CP{number % 100:03d}".encode()
                started = time.perf_counter()
                producer.produce(request_topic, PAYLOAD, key=key)
                producer.flush(5)
                if _replied(requester_consumer, started + REPLY_WAIT):
                    samples.append(time.perf_counter() - started)
                else:
                    log.warning("round trip %d: no reply within %.0f s", number, REPLY_WAIT)
        finally:
            stop.set()
            responder.join(5)
            responder_consumer.close()
            requester_consumer.close()
        return Latency.of(samples[WARM_UP:])


def _replied(consumer: Consumer, deadline: float) -> bool:
    """Wait, reading as every reader of the bench does, for a reply until `deadline`."""
    while time.perf_counter() < deadline:
        if any(
            record.error() is None
            for record in read_batch(consumer, min(1.0, deadline - time.perf_counter()))
        ):
            return True
    return False


def throughput(bootstrap: str, messages: int = 100_000) -> Throughput:
    with scratch_topics(bootstrap, 1) as (topic,):
        producer = Producer(producer_config(bootstrap, "bench-throughput"))
        started = time.perf_counter()
        for number in range(messages):
            while True:
                try:
                    producer.produce(topic, PAYLOAD, key=f"CP{number % 5000:04d}".encode())
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush(60)
        produce_rate = messages / (time.perf_counter() - started)

        consumer = Consumer(consumer_config(bootstrap, f"bench-{uuid.uuid4().hex}"))
        consumer.subscribe([topic])
        received = 0
        started = time.perf_counter()
        while received < messages:
            batch = read_batch(consumer, 1.0, most=1000)
            received += sum(1 for record in batch if record.error() is None)
            if time.perf_counter() - started > 120:
                break
        consume_rate = received / (time.perf_counter() - started)
        consumer.close()
        return Throughput(messages, produce_rate, consume_rate)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default="localhost:9094")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    result = {
        "round_trip": asdict(round_trip(args.bootstrap, args.requests)),
        "throughput": asdict(throughput(args.bootstrap, args.messages)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
