"""The broker, the partitioner parity and a Faust agent, on the real Kafka."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from evcharging.kafka import consumer_config, producer_config
from evcharging.partitioning import partition_for
from tests.support.stack import Infra
from tests.support.waiting import wait_until


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path


KEYS = [f"CP{n:03d}" for n in range(40)] + ["CP-A001", "x", "a-much-longer-charging-point-id"]


@pytest.fixture
def topic_pair(infra: Infra) -> Iterator[tuple[str, str]]:
    """Two fresh 6-partition topics, deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"it-source-{suffix}", f"it-sink-{suffix}")
    admin = AdminClient({"bootstrap.servers": infra.kafka_bootstrap})
    for future in admin.create_topics(
        [NewTopic(n, num_partitions=6, replication_factor=1) for n in names]
    ).values():
        future.result(30)
    yield names
    admin.delete_topics(list(names))


def record(placements: dict[str, int], message: Message) -> None:
    """Note which partition the message's key landed in."""
    key, partition = message.key(), message.partition()
    assert key is not None
    assert partition is not None
    placements[bytes(key).decode()] = partition


def produce_with_confluent(bootstrap: str, topic: str) -> dict[str, int]:
    """Produce one record per key and return the partition each key landed in."""
    landed: dict[str, int] = {}
    producer = Producer(producer_config(bootstrap, "it-parity"))
    for key in KEYS:
        producer.produce(topic, b"{}", key=key.encode(), on_delivery=lambda _error, msg: record(landed, msg))
    assert producer.flush(30) == 0
    return landed


def consume(bootstrap: str, topic: str, count: int) -> dict[str, int]:
    """Read `count` records from the beginning; return key -> partition."""
    consumer = Consumer(consumer_config(bootstrap, f"it-reader-{uuid.uuid4().hex}"))
    consumer.subscribe([topic])
    seen: dict[str, int] = {}

    def read_some() -> bool:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            record(seen, message)
        return len(seen) >= count

    try:
        wait_until(read_some, 60, f"{count} records on {topic}", interval=0)
    finally:
        consumer.close()
    return seen


@pytest.fixture
def faust_echo(infra: Infra, topic_pair: tuple[str, str], tmp_path: Path) -> Iterator[Worker]:
    source, sink = topic_pair
    log = tmp_path / "faust-worker.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "SOURCE_TOPIC": source,
        "SINK_TOPIC": sink,
        "FAUST_APP_ID": f"it-echo-{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": str(Path(__file__).parent),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "faust", "-A", "faust_echo_app", "worker", "--without-web", "-l", "info"],
        cwd=tmp_path,  # Faust keeps its data directory in the working directory
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    yield Worker(worker, log)
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()


def test_confluent_producer_places_keys_where_murmur2_says(infra: Infra, topic_pair: tuple[str, str]) -> None:
    landed = produce_with_confluent(infra.kafka_bootstrap, topic_pair[0])
    assert landed == {key: partition_for(key, 6) for key in KEYS}


def test_faust_agent_round_trip_and_partitioner_parity(
    infra: Infra, topic_pair: tuple[str, str], faust_echo: Worker
) -> None:
    """confluent-kafka produces to the source; the Faust agent consumes and re-produces
    under the same key with aiokafka; a confluent consumer reads the sink. Every key
    must land in the same partition on both topics."""
    source, sink = topic_pair
    sent = produce_with_confluent(infra.kafka_bootstrap, source)
    echoed = consume(infra.kafka_bootstrap, sink, len(KEYS))
    assert faust_echo.process.poll() is None, faust_echo.log.read_text()
    assert echoed == sent
