"""Telemetry's way in: librdkafka in a thread of its own, not Faust's fetcher.

Telemetry is nearly all of central-stream's input (one report per supplying CP
per second), and Faust's fetcher costs the event loop more per event than
all the rest of a report's work (docs/performance.md). At 5,000 CPs that was
more than the worker's share of a core, so the
backlog grew for ever and a driver's request or a fault, read by the same
fetcher on the same loop, waited behind it. librdkafka reads the reports in C,
in this thread; the loop gets them in batches and keeps only the newest of each
CP (latest.py), so what the loop pays per report is a parse and a dict entry.

The reports are read under a consumer group of their own, with the partitions
Faust assigns to this worker (the same numbers for every CP-keyed topic), and
their offsets are committed by hand: up to the first report not yet applied
(Positions), so a crash reads again only what may not have been applied.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka import Message as Record

from evcharging.kafka import consumer_config, read_batch

log = logging.getLogger(__name__)

__all__ = ["Positions", "Record", "TelemetryIntake"]

BATCH = 500
"""Records handed to the event loop at a time, at most."""
POLL_TIMEOUT = 0.1
"""Seconds the thread waits for a record before it looks at assignment and commits again."""
GATHER_MS = 20
GATHER_BYTES = 64 * 1024
"""The broker answers a fetch once it has GATHER_BYTES of reports or GATHER_MS has
passed. Answered at the first report instead, a busy worker fetched, handed over
and woke its loop for every report or two, which cost it about a third more CPU
per report (docs/performance.md). A report waits at most GATHER_MS more, well
inside the half second its relay may take."""
BATCHES_IN_FLIGHT = 20
"""Batches handed over and not yet taken in: past this the thread waits (backpressure)."""


class Positions:
    """Which offsets of each partition may be committed: those before the first
    record still to be applied. A record is outstanding from the moment it is
    taken in until it is applied, or replaced by a newer report of its CP."""

    def __init__(self) -> None:
        self._outstanding: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}

    def taken(self, partition: int, offset: int) -> None:
        self._outstanding.setdefault(partition, set()).add(offset)
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def done(self, partition: int, offset: int) -> None:
        self._outstanding.get(partition, set()).discard(offset)

    def committable(self, partitions: set[int] | None = None) -> dict[int, int]:
        """partition -> the offset to commit (the first not to skip on a restart)."""
        return {
            partition: min(self._outstanding.get(partition) or {after})
            for partition, after in self._next.items()
            if partitions is None or partition in partitions
        }

    def forget(self, partitions: set[int]) -> None:
        """Another worker reads these now: what was outstanding here is its to apply."""
        for partition in partitions:
            self._outstanding.pop(partition, None)
            self._next.pop(partition, None)


class TelemetryIntake:
    """Reads one topic's assigned partitions in a thread and hands the records to
    an event loop; assignment and commits are asked for from the loop and carried
    out by the thread between two reads."""

    def __init__(self, bootstrap: str, group: str, topic: str, offset_reset: str) -> None:
        self.topic = topic
        self._consumer = Consumer(
            consumer_config(
                bootstrap,
                group,
                **{
                    "auto.offset.reset": offset_reset,
                    "fetch.wait.max.ms": GATHER_MS,
                    "fetch.min.bytes": GATHER_BYTES,
                },
            )
        )
        self._lock = threading.Lock()
        self._wanted: set[int] | None = None
        self._to_commit: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        self._room = threading.BoundedSemaphore(BATCHES_IN_FLIGHT)
        self._running = True
        self._thread: threading.Thread | None = None

    def start(self, deliver: Callable[[list[Record]], None], loop: asyncio.AbstractEventLoop) -> None:
        """Start reading; `deliver(batch)` runs on `loop` and must call `taken_in()` once done.
        The batch is librdkafka's records as read, errors included: this thread does no
        work per record, so it takes the interpreter lock from the loop as little as it can."""
        self._thread = threading.Thread(
            target=self._read, args=(deliver, loop), name="telemetry", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def assign(self, partitions: set[int]) -> None:
        """Read these partitions (and no others) from their committed offsets."""
        with self._lock:
            self._wanted = set(partitions)

    def commit(self, positions: dict[int, int]) -> None:
        """Commit these positions on the next turn of the thread."""
        with self._lock:
            self._to_commit.update(positions)

    def taken_in(self) -> None:
        """The loop has taken a batch in: room for another."""
        self._room.release()

    def close(self, positions: dict[int, int]) -> None:
        """Commit `positions`, stop reading and leave."""
        self.commit(positions)
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _read(self, deliver: Callable[[list[Record]], None], loop: asyncio.AbstractEventLoop) -> None:
        try:
            while self._running:
                self._carry_out_requests()
                batch = read_batch(self._consumer, POLL_TIMEOUT, BATCH)
                if batch and self._wait_for_room():
                    loop.call_soon_threadsafe(deliver, batch)
            self._carry_out_requests()
        except Exception:
            log.critical("the telemetry intake failed", exc_info=True)
        finally:
            self._consumer.close()

    def _wait_for_room(self) -> bool:
        while self._running:
            if self._room.acquire(timeout=0.5):
                return True
        return False

    def _carry_out_requests(self) -> None:
        with self._lock:
            wanted, self._wanted = self._wanted, None
            positions, self._to_commit = self._to_commit, {}
        moved = {p: offset for p, offset in positions.items() if self._committed.get(p) != offset}
        if moved:
            offsets = [TopicPartition(self.topic, p, offset) for p, offset in moved.items()]
            try:
                self._consumer.commit(offsets=offsets, asynchronous=False)
                self._committed.update(moved)
            except KafkaException as error:  # the next commit carries the same positions or later ones
                log.warning("committing telemetry offsets failed: %s", error)
        if wanted is not None:
            self._consumer.assign([TopicPartition(self.topic, p) for p in sorted(wanted)])
