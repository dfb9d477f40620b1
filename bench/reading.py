"""How every reader of the bench takes records off Kafka: the baseline's, the
load generator's and the probes'. One function, so a ratio of the product's
latency to raw Kafka's compares two readers that wait the same way.

`Consumer.consume(n, timeout)` returns early only when `n` records are there:
a batch that does not fill waits its whole timeout, a floor of 0–timeout on
every sample. `poll(timeout)` returns with the first record; what librdkafka
has already fetched behind it is then drained with `consume(n, 0)`, which never
waits. So a reader wakes as soon as there is anything, and still takes a
backlog in batches.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

R = TypeVar("R")


class Reader(Protocol[R]):
    """What `read` needs of a confluent-kafka Consumer (and what the tests stand in for)."""

    def poll(self, timeout: float, /) -> R | None: ...

    def consume(self, num_messages: int, timeout: float, /) -> list[R]: ...


def read(consumer: Reader[R], timeout: float, most: int = 2000) -> list[R]:
    """Up to `most` records: wait at most `timeout` s for the first one, then take
    without waiting what has already arrived. Empty when nothing came in time."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(most - 1, 0)] if most > 1 else [first]
