"""The worker's view of Kafka and MariaDB, kept current by one background thread.

Each gunicorn worker is its own process with its own board, so each starts its
own feed: a consumer with a private, never-committed group that *assigns* the
partitions it needs (no rebalancing between workers, no shared offsets):

- `estado_cp` from the beginning: it is compacted, so this is the latest status
  of every CP;
- requests, driver responses, tickets and operator commands from `window` ago,
  for the requests in progress and the event log;
- central-auth's beacons from the last one published, so a fresh worker knows at
  once whether central-auth is alive (and since when it is silent, if it is).

CPs registered in MariaDB but never seen on the topic are read from
`charging_points` every `db_every` seconds. The loop survives a broker or
database restart: it reconnects and carries on.

Flask is synchronous, yet central-web reads MariaDB through the same layer as the
asyncio services (evcharging.db_threads), with its blocking `call`: this feed and
the request threads (controls.py, a CP not on the board yet) hand their query to
the worker's database threads and wait. Rather than a connection per request or a
retry loop of its own, central-web thus gets the one transient-error policy
(evcharging.db_retry), kept connections that come back after a restart, and the
refusal said once; the price, a hand-over between two threads, is negligible next
to the query, on a path taken every `db_every` seconds or on an operator's click.
`GIVE_UP_AFTER` keeps a click's wait short: the operator gets a 503 and tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_when_event_set

from central_web.board import Board
from central_web.live import LiveBoard
from evcharging.codec import ContractError, decode
from evcharging.config import DatabaseSettings
from evcharging.db import Cursor, DatabaseRefused
from evcharging.db_threads import DatabaseThreads
from evcharging.kafka import ask, consumer_config
from evcharging.messages import Message, new_id
from evcharging.retry import backoff_wait, pause_until
from evcharging.topics import (
    CENTRAL_AUTH_BEACONS,
    CP_STATUS,
    DRIVER_RESPONSES,
    OPERATOR_COMMANDS,
    SUPPLY_REQUESTS,
    TICKETS,
    Topic,
)

log = logging.getLogger(__name__)

MISSING = frozenset(
    {KafkaError._UNKNOWN_PARTITION, KafkaError._UNKNOWN_TOPIC, KafkaError.UNKNOWN_TOPIC_OR_PART}
)
"""What asking for the offsets of a topic that does not exist raises."""

RECENT_TOPICS: tuple[Topic, ...] = (SUPPLY_REQUESTS, DRIVER_RESPONSES, TICKETS, OPERATOR_COMMANDS)

CP_QUERY = "SELECT id, ubicacion, precio_kwh, estado FROM charging_points"


DATABASE_THREADS = 2
"""The feed's refresh and an operator's lookup need not wait for each other."""

GIVE_UP_AFTER = 1.0
"""Seconds a query waits for a restarting database before it fails (then: a 503, or
the next refresh)."""


def database_threads(settings: DatabaseSettings) -> DatabaseThreads:
    """The worker's database threads (one set per gunicorn worker, made after the fork)."""
    return DatabaseThreads(settings, threads=DATABASE_THREADS, give_up_after=GIVE_UP_AFTER)


def load_cps(database: DatabaseThreads) -> list[dict[str, Any]]:
    """Every registered CP."""

    def load(cur: Cursor) -> list[dict[str, Any]]:
        cur.execute(CP_QUERY)
        return list(cur.fetchall())

    return database.call(load)


def load_cp(database: DatabaseThreads, cp_id: str) -> list[dict[str, Any]]:
    """The CP's row, if it is registered."""

    def load(cur: Cursor) -> list[dict[str, Any]]:
        cur.execute(CP_QUERY + " WHERE id = %s", (cp_id,))
        return list(cur.fetchall())

    return database.call(load)


class Feed(threading.Thread):
    def __init__(
        self,
        live: LiveBoard,
        bootstrap: str,
        database: DatabaseThreads | None,
        window: timedelta = timedelta(minutes=15),
        db_every: float = 10.0,
    ) -> None:
        super().__init__(name="central-web-feed", daemon=True)
        self.live = live
        self.bootstrap = bootstrap
        self.database = database
        self.window = window
        self.db_every = db_every
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Follow the topics until stopped; after a failure, again with the project's backoff."""
        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=backoff_wait(initial=0.5, maximum=5.0, jitter=0.5),
            stop=stop_when_event_set(self._stop),
            sleep=pause_until(self._stop),
            before_sleep=self._interrupted,
            retry_error_callback=lambda _state: None,
        )
        retrying(self._follow)

    def _interrupted(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning("feed interrupted (%s); reconnecting in %.1f s", error, pause)
        self.live.set_feed(False, False)

    def _follow(self) -> None:
        consumer = Consumer(
            consumer_config(
                self.bootstrap,
                f"central-web-{new_id()}",
                **{"enable.partition.eof": False, "client.id": "central-web"},
            )
        )
        try:
            self._refresh_database()  # the DB's CPs show even while Kafka is unreachable
            ends = self._assign(consumer)
            self.live.set_feed(True, not ends)
            next_db = 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_db:
                    self._refresh_database()
                    next_db = now + self.db_every
                batch = self._poll(consumer)
                for raw in batch:
                    key = (raw.topic(), raw.partition())
                    if key in ends and raw.offset() + 1 >= ends[key]:
                        del ends[key]
                messages = [m for m in (_decoded(raw) for raw in batch) if m is not None]
                self.live.change(partial(_apply_all, messages=messages, now=datetime.now(UTC)))
                self.live.set_feed(True, not ends)
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> dict[tuple[str, int], int]:
        """Assign every partition; return the ends of the status and beacon partitions
        (caught up when read)."""
        since_ms = int((datetime.now(UTC) - self.window).timestamp() * 1000)
        recent = [TopicPartition(t.name, p, since_ms) for t in RECENT_TOPICS for p in range(t.partitions)]
        try:
            starts = ask(partial(consumer.offsets_for_times, recent), 10, consumer)
            statuses = [
                TopicPartition(CP_STATUS.name, p, OFFSET_BEGINNING) for p in range(CP_STATUS.partitions)
            ]
            ends = {}
            for tp in statuses:
                low, high = ask(partial(consumer.get_watermark_offsets, tp, cached=False), 10, consumer)
                if high > low:
                    ends[(tp.topic, tp.partition)] = int(high)
        except KafkaException as error:
            raise ConnectionError(f"Kafka at {self.bootstrap}: {error}") from None
        for tp in starts:
            if tp.offset < 0:
                tp.offset = OFFSET_END
        beacons = self._last_beacon(consumer, ends)
        consumer.assign(statuses + list(starts) + beacons)
        return ends

    def _last_beacon(self, consumer: Consumer, ends: dict[tuple[str, int], int]) -> list[TopicPartition]:
        """The beacon partition from its newest record, added to `ends` when there is one.
        A missing topic (a stack set up before it existed) costs the page its witness,
        not its feed: every tile then shows as last known."""
        topic = CENTRAL_AUTH_BEACONS.name
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        except KafkaException as error:
            if error.args[0].code() not in MISSING:
                raise ConnectionError(f"Kafka at {self.bootstrap}: {error}") from None
            log.warning("there is no topic %s: central-auth will look silent; run kafka-setup", topic)
            return []
        if high > low:
            ends[(topic, 0)] = int(high)
        return [TopicPartition(topic, 0, max(int(low), int(high) - 1))]

    def _poll(self, consumer: Consumer) -> list[Any]:
        """Wait a little for a first message, then take what is already there (bounded)."""
        batch: list[Any] = []
        raw = consumer.poll(0.25)
        while raw is not None and len(batch) < 1000:
            if raw.error() is None:
                batch.append(raw)
            raw = consumer.poll(0)
        return batch

    def _refresh_database(self) -> None:
        if self.database is None:
            return
        try:
            rows = load_cps(self.database)
        except DatabaseRefused:
            return  # said once, in the log and the health, by evcharging.db
        except Exception as error:
            log.warning("could not read charging_points: %s", error)
            return
        now = datetime.now(UTC)
        self.live.change(lambda board: board.load_database(rows, now))


def _apply_all(board: Board, messages: list[Message], now: datetime) -> bool:
    changed = board.expire(now)
    for message in messages:
        changed = board.apply(message, now) or changed
    return changed


def _decoded(raw: Any) -> Message | None:
    try:
        message: Message = decode(raw.topic(), raw.value())
    except ContractError as error:
        log.warning("skipped a message that breaks the contract: %s", error)
        return None
    return message
