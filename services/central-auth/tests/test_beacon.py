"""central-auth's beacons: what they carry, how often they go, and how they are queued."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from central_auth.beacon import beacon_of, send_beacons
from central_auth.publisher import EventPublisher
from central_auth.service import AuthService
from central_auth.settings import AuthSettings
from evcharging import topics
from evcharging.config import DatabaseSettings, KafkaSettings
from evcharging.kafka import ContractProducer
from evcharging.messages import CentralAuthBeacon, Message
from evcharging.topics import Topic


class FakeProducer:
    def __init__(self, full: bool = False) -> None:
        self.sent: list[tuple[Topic, Message]] = []
        self.full = full

    def send(self, topic: Topic, message: Message) -> None:
        if self.full:
            raise BufferError("queue full")
        self.sent.append((topic, message))

    def flush(self, _timeout: float = 0) -> int:
        return 0


def service(producer: FakeProducer) -> AuthService:
    settings = AuthSettings(
        port=7000,
        kafka=KafkaSettings(bootstrap="localhost:1"),
        database=DatabaseSettings(host="localhost", port=3306, user="u", password="p", database="d"),
        enrolment_key="k" * 16,
    )
    publisher = EventPublisher(cast(ContractProducer, producer))
    return AuthService(settings, cast(Any, None), publisher)


def test_a_beacon_names_the_run_its_start_and_its_connected_cps() -> None:
    auth = service(FakeProducer())
    auth.registry.take("CP1", "conn-1")
    auth.registry.take("CP2", "conn-2")
    beacon = beacon_of(auth)
    assert beacon.incarnation == auth.incarnation
    assert beacon.started_at == auth.started_at
    assert beacon.connected_cps == 2
    assert beacon.sent_at >= auth.started_at


def test_beacons_go_out_periodically_on_their_topic() -> None:
    producer = FakeProducer()
    auth = service(producer)

    async def three() -> None:
        task = asyncio.create_task(send_beacons(auth, interval=0.01))
        try:
            async with asyncio.timeout(5):
                while len(producer.sent) < 3:
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()

    asyncio.run(three())
    assert {topic for topic, _ in producer.sent} == {topics.CENTRAL_AUTH_BEACONS}
    beacons = [message for _, message in producer.sent]
    assert all(isinstance(b, CentralAuthBeacon) for b in beacons)
    assert len({b.message_id for b in beacons}) == len(beacons)
    assert [b.sent_at for b in beacons] == sorted(b.sent_at for b in beacons)


def test_a_full_queue_drops_the_beacon_rather_than_blocking() -> None:
    auth = service(FakeProducer(full=True))
    auth.publisher.signal(topics.CENTRAL_AUTH_BEACONS, beacon_of(auth))  # returns at once, no raise


def test_the_beacon_interval_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    monkeypatch.setenv("CP_ENROLMENT_KEY", "k" * 16)
    assert AuthSettings.load([]).beacon_interval == 1.0
    monkeypatch.setenv("AUTH_BEACON_INTERVAL", "0")
    with pytest.raises(SystemExit, match="AUTH_BEACON_INTERVAL"):
        AuthSettings.load([])
