"""What of a consumer group's topics is not processed yet, read without joining the group.

The watchdog asks it whether a silent worker has events waiting (watchdog.py), and a
new assignment asks it how far the CP events went before a request may be judged
(catchup.py).
"""

from __future__ import annotations

import threading
from functools import partial

from confluent_kafka import Consumer, TopicPartition

from evcharging.kafka import ask, consumer_config
from evcharging.topics import Topic

TIMEOUT = 10.0
"""Seconds a question to the broker may take, retries included (evcharging.kafka.ask)."""


class GroupBacklog:
    """The group's committed offsets against the end of each of its partitions.

    Blocking (it asks the broker): call it from a thread. One question at a time, as
    the watchdog and an assignment may ask at once."""

    def __init__(self, bootstrap: str, group: str, sources: tuple[Topic, ...]) -> None:
        self._sources = sources
        self._config = consumer_config(bootstrap, group)
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

    def unread(self, partitions: set[int]) -> dict[tuple[str, int], tuple[int, int]]:
        """(topic, partition) -> (first offset not committed, end offset), for every
        source partition among `partitions` that has events past the committed offset."""
        wanted = [TopicPartition(topic.name, p) for topic in self._sources for p in sorted(partitions)]
        with self._lock:
            reader = self._reader()
            behind: dict[tuple[str, int], tuple[int, int]] = {}
            for position in ask(partial(reader.committed, wanted), TIMEOUT, reader):
                low, high = ask(partial(reader.get_watermark_offsets, position), TIMEOUT, reader)
                start = position.offset if position.offset >= 0 else low
                if start < high:
                    behind[(position.topic, position.partition)] = (start, high)
            return behind

    def _reader(self) -> Consumer:
        """Made on first need: a worker that never asks opens no connection for it."""
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        return self._consumer
