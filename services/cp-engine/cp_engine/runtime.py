"""The running engine: one place that holds the CP's state, applies every action
(a command, a key, a tick, the monitor) through the pure rules in `charging`, and
sends what they say to send.

Everything runs on one asyncio loop, so actions never interleave; the Kafka
command feed runs in a thread and hands each command over to the loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime

from confluent_kafka import KafkaException
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_when_event_set

from cp_engine import charging
from cp_engine.charging import Engine, Step
from cp_engine.commands import CommandFeed
from cp_engine.settings import Settings
from evcharging import messages as m
from evcharging.health import beat
from evcharging.kafka import ContractProducer
from evcharging.kafka_security import current_problem
from evcharging.retry import backoff_wait, pause_until
from evcharging.topics import SUPPLY_ENDED, SUPPLY_REQUESTS, TELEMETRY, Topic

log = logging.getLogger("cp-engine")

STOP_FLUSH_SECONDS = 2.0
"""At a stop, how long the engine waits for Kafka to acknowledge what it sent."""
FEED_STOP_SECONDS = 1.0
"""At a stop, how long the command feed may take to finish its poll and close."""

OUTBOUND: dict[type[m.Message], Topic] = {
    m.Telemetry: TELEMETRY,
    m.SupplyEnded: SUPPLY_ENDED,
    m.EngineStarted: SUPPLY_ENDED,
    m.SupplyRequest: SUPPLY_REQUESTS,
}


class EngineRuntime:
    def __init__(self, settings: Settings, producer: ContractProducer, follow_commands: bool = True) -> None:
        """`follow_commands=False` leaves Kafka's command feed out (tests of the other parts)."""
        self.settings = settings
        self._follow = follow_commands
        self.engine = Engine(time_factor=settings.charger.time_factor)
        self.credential: str | None = None
        self.notes: deque[str] = deque(maxlen=6)
        self._producer = producer
        self._rng = random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._feed_stop = threading.Event()
        self._feed_thread: threading.Thread | None = None

    # --- actions -------------------------------------------------------------------

    def apply(self, step: Step) -> Step:
        previous_id = self.engine.cp_id
        self.engine = step.engine
        for message in step.messages:
            self._producer.send(OUTBOUND[type(message)], message)
        if step.note:
            log.info("%s: %s", self.engine.cp_id or "CP", step.note)
            self.notes.append(f"{datetime.now().strftime('%H:%M:%S')} {step.note}")
        if self._follow and self.engine.cp_id != previous_id and self.engine.cp_id is not None:
            self._follow_commands(self.engine.cp_id)
        return step

    def perform(self, action: str, driver_id: str | None = None) -> Step:
        """A person's action, from `charger` (its live screen's keys, or a command)."""
        now = time.monotonic()
        match action:
            case "plug":
                return self.apply(charging.plug_in(self.engine, now))
            case "unplug":
                return self.apply(charging.unplug(self.engine))
            case "fault":
                return self.apply(charging.inject_fault(self.engine))
            case "clear":
                return self.apply(charging.clear_fault(self.engine))
            case "request" if driver_id:
                return self.apply(charging.request_here(self.engine, driver_id, datetime.now(UTC)))
            case "status":
                return Step(self.engine)
        return charging.refuse(self.engine, f"unknown action {action!r}")

    def assign_identity(self, cp_id: str, credential: str | None) -> None:
        step = self.apply(charging.assign_identity(self.engine, cp_id))
        if step.engine.cp_id == cp_id:
            self.credential = credential

    def on_command(self, command: m.Message) -> None:
        self.apply(charging.on_command(self.engine, command, time.monotonic()))

    @property
    def health(self) -> m.EngineHealth:
        return m.EngineHealth.KO if self.engine.faulty else m.EngineHealth.OK

    @property
    def kafka_problem(self) -> str | None:
        """Why Kafka does not let this engine's clients in, in one sentence
        (evcharging.kafka_security), or None while it does: for its screen."""
        return current_problem()

    # --- the loops -----------------------------------------------------------------

    async def run(self) -> None:
        """Tick every telemetry period, on a fixed schedule that does not drift."""
        self._loop = asyncio.get_running_loop()
        period = self.settings.telemetry_period
        hours = self.settings.charger.hours(period)
        next_tick = time.monotonic()
        while True:
            next_tick += period
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            self._drive_automatically()
            self.apply(charging.tick(self.engine, self.settings.charger.power(self._rng), hours))
            # Serve the producer's callbacks even when nothing is sent: its sign-in watch
            # says why Kafka refuses it, and sees it get in, only from within a poll.
            self._producer.poll(0)
            beat()

    def _drive_automatically(self) -> None:
        if self.settings.autopilot is None:
            return
        action = self.settings.autopilot.action(self.engine, time.monotonic())
        if action is not None:
            self.perform(action)

    def _follow_commands(self, cp_id: str) -> None:
        """(Re)start the command feed for `cp_id`, stopping the previous one."""
        if self._feed_thread is not None:
            self._feed_stop.set()
            self._feed_thread.join()
        self._feed_stop = threading.Event()
        self._feed_thread = threading.Thread(
            target=self._read_commands, args=(cp_id, self._feed_stop), name="commands", daemon=True
        )
        self._feed_thread.start()

    def _read_commands(self, cp_id: str, stop: threading.Event) -> None:
        assert self._loop is not None
        loop = self._loop
        feed = self._open_feed(cp_id, stop)
        if feed is None:
            return
        log.info("%s: following commands on its partition", cp_id)

        def hand_over(command: m.Message) -> None:
            asyncio.run_coroutine_threadsafe(self._on_command_async(command), loop).result()

        try:
            while not stop.is_set():
                feed.next(hand_over)
        finally:
            feed.close()

    def _open_feed(self, cp_id: str, stop: threading.Event) -> CommandFeed | None:
        """The command feed, once Kafka says where it starts; None if stopped first.

        A broker that has just started answers "not coordinator" (or times out) for a
        while; without retrying, the thread died and the CP never saw a command again.
        """

        def say_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            pause = state.next_action.sleep if state.next_action else 0.0
            log.warning("%s: cannot follow commands yet (%s); retrying in %.1f s", cp_id, error, pause)

        if stop.is_set():
            return None
        retrying = Retrying(
            retry=retry_if_exception_type(KafkaException),
            wait=backoff_wait(initial=0.5, maximum=5.0, jitter=0.5),
            stop=stop_when_event_set(stop),
            sleep=pause_until(stop),
            before_sleep=say_retry,
            retry_error_callback=lambda _state: None,
        )
        feed: CommandFeed | None = retrying(CommandFeed, self.settings.kafka_bootstrap, cp_id, self._producer)
        return feed

    async def _on_command_async(self, command: m.Message) -> None:
        self.on_command(command)

    def close(self) -> None:
        """The engine is stopping: end a supply in progress (charging.shut_down), deliver
        what the producer holds, and stop following commands.

        Called once the loops are cancelled, so nothing is reported after the end. The
        flush is bounded (STOP_FLUSH_SECONDS): `docker compose stop` must return quickly,
        and with Kafka unreachable the end report is lost like at a crash — the monitor
        then reports the engine gone and the central bills the last telemetry it got.
        """
        self.apply(charging.shut_down(self.engine))
        self._feed_stop.set()
        remaining = self._producer.flush(STOP_FLUSH_SECONDS)
        if remaining:
            log.error("%d messages not delivered at shutdown (Kafka did not acknowledge them)", remaining)
        if self._feed_thread is not None:
            self._feed_thread.join(FEED_STOP_SECONDS)
