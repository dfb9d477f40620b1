"""`evcharging.kafka.read_batch`: awake at the first record, then only what is already there."""

from __future__ import annotations

from dataclasses import dataclass, field

from evcharging.kafka import read_batch


@dataclass
class FakeConsumer:
    """Records already fetched; records the waits it was asked for."""

    fetched: list[str] = field(default_factory=list)
    waits: list[tuple[str, float]] = field(default_factory=list)

    def poll(self, timeout: float, /) -> str | None:
        self.waits.append(("poll", timeout))
        return self.fetched.pop(0) if self.fetched else None

    def consume(self, num_messages: int, timeout: float, /) -> list[str]:
        self.waits.append(("consume", timeout))
        taken, self.fetched = self.fetched[:num_messages], self.fetched[num_messages:]
        return taken


def test_one_record_returns_at_once_without_waiting_for_a_batch() -> None:
    consumer = FakeConsumer(["a"])
    assert read_batch(consumer, 0.5) == ["a"]
    assert consumer.waits == [("poll", 0.5), ("consume", 0)]


def test_a_backlog_is_taken_in_one_batch_of_at_most_most() -> None:
    consumer = FakeConsumer([str(n) for n in range(10)])
    assert read_batch(consumer, 0.5, most=4) == ["0", "1", "2", "3"]
    assert read_batch(consumer, 0.5, most=100) == [str(n) for n in range(4, 10)]


def test_nothing_there_waits_the_timeout_once_and_returns_empty() -> None:
    consumer = FakeConsumer()
    assert read_batch(consumer, 0.2) == []
    assert consumer.waits == [("poll", 0.2)]


def test_a_batch_of_one_never_drains() -> None:
    consumer = FakeConsumer(["a", "b"])
    assert read_batch(consumer, 0.2, most=1) == ["a"]
    assert consumer.waits == [("poll", 0.2)]
