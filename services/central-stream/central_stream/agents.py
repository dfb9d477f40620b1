"""The Faust agents that run every CP, over all CP-keyed topics.

All of a CP's events — requests, telemetry, ends, faults, recoveries,
connections, operator commands — share its partition, so the worker that owns
that partition sees them one at a time, with the CP's record (the `cp_state`
table) at hand. That is what makes "exactly one of two simultaneous requests
wins" true without a lock between workers, and what lets workers be added up
to the partition count.

Two agents share the CP events, each with its own buffer, so a driver's
request never queues behind the rest: one for supply requests, one for
everything else (after a restart, a request waits for the events that came
before it: catchup.py). Telemetry, nearly all of the input, comes in apart from
Faust (intake.py says why) and is conflated under load — only the newest report
of each CP is applied (telemetry.py, latest.py say why nothing is lost by it) —
and a CP's waiting report is applied before any other event of that CP, so an
end or a fault bills the energy it reports. Each CP takes its turn (turns.py): the rules
see one event of a CP at a time, and a CP waiting for MariaDB or the broker
holds up no other CP.

For each event the agent: parses it against the contract (or dead-letters it),
applies the rules (rules.py), and carries out their effects, then saves the
record (effects.py). The order of those last steps is the crash story:

1. database rows first (idempotent upserts),
2. then the messages, waiting for the broker's acknowledgement,
3. then the record, on the table's changelog (which *is* the state; records.py).

A crash before 3 replays the event from the last commit: the rules see the old
record and produce the same rows and messages, with the same ids. A crash after
3 replays it against the new record, which recognises it as already done. So
nothing is lost, and nothing is billed twice. Telemetry does not wait for
acknowledgements: a lost live update is superseded by the next one, and the
record it changed is written before its offset is committed (records.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.types import TP

from central_stream import rules
from central_stream.app import CHANGELOG_CONFIG
from central_stream.backlog import GroupBacklog
from central_stream.catchup import CatchUp, Position
from central_stream.effects import Effects, Origin, Sink, StorePort
from central_stream.intake import TelemetryIntake
from central_stream.records import CpRecords
from central_stream.registry import CachedRegistry
from central_stream.rules import CpRecord, Inbound
from central_stream.settings import StreamSettings
from central_stream.store import StoreRejected
from central_stream.telemetry import TelemetryFlow
from central_stream.turns import Turns
from central_stream.watchdog import RecoveryWatch, Watchdog
from evcharging import health
from evcharging import topics as t
from evcharging.codec import ContractError, decode
from evcharging.messages import SupplyRequest
from evcharging.partitioning import partition_for

log = logging.getLogger(__name__)

SOURCES: tuple[t.Topic, ...] = (
    t.SUPPLY_REQUESTS,
    t.TELEMETRY,
    t.SUPPLY_ENDED,
    t.FAULTS,
    t.RECOVERIES,
    t.CP_CONNECTIONS,
    t.OPERATOR_COMMANDS,
)
SOURCE_NAMES = frozenset(topic.name for topic in SOURCES)
FAUST_SOURCES = tuple(topic for topic in SOURCES if topic is not t.TELEMETRY)
"""What Faust reads; telemetry comes in through intake.py."""
READ_AGAIN_AFTER = 5.0
"""Seconds both agents may sit idle with events of an assignment's backlog not
delivered before those are read again (catchup.py)."""


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, key_type=bytes, value_type=bytes)


class CentralStream:
    """The agents, their table, the telemetry's flow and the housekeeping, wired onto one Faust app."""

    def __init__(
        self,
        app: faust.App,
        settings: StreamSettings,
        store: StorePort,
        registry: CachedRegistry,
        sink: Sink,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        intake: Callable[[], TelemetryIntake] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.store = store
        self.registry = registry
        self.sink = sink
        self.clock = clock
        self.table = app.Table(
            "cp_state",
            key_type=str,
            value_type=str,
            partitions=settings.partitions,
            extra_topic_configs=CHANGELOG_CONFIG,
            help="CP id -> rules.CpRecord as JSON: the facts that make the CP's state",
        )
        self.records = CpRecords(self.table, self._write_record, self._partition_of)
        self.effects = Effects(store, sink, self.records)
        self.turns = Turns()
        control = [topic.name for topic in FAUST_SOURCES if topic is not t.SUPPLY_REQUESTS]
        self.agent = app.agent(_raw_topic(app, *control), name="cp_events")(self._process_events)
        self.requests_agent = app.agent(_raw_topic(app, t.SUPPLY_REQUESTS.name), name="supply_requests")(
            self._process_requests
        )
        new_intake = intake or (
            lambda: TelemetryIntake(
                settings.kafka_bootstrap,
                settings.telemetry_group,
                t.TELEMETRY.name,
                settings.offset_reset,
            )
        )
        self.telemetry = TelemetryFlow(
            new_intake, self.turns, self.records, self._accept, self.apply, self._settled
        )
        app.task(self.telemetry.take)
        app.task(self._apply_telemetry)
        cast(Any, app.on_partitions_revoked).connect(self._forget_revoked)  # typed for sync receivers
        cast(Any, app.on_partitions_assigned).connect(self._read_assigned)
        app.timer(settings.housekeeping_interval, name="housekeeping")(self.housekeeping)
        self._reconciled: set[int] = set()
        self._started = time.monotonic()
        self._last_event = time.monotonic()
        self._recovery = RecoveryWatch(READ_AGAIN_AFTER, settings.stall_limit)
        self.backlog = GroupBacklog(settings.kafka_bootstrap, settings.app_id, FAUST_SOURCES)
        self._watchdog = Watchdog(self.backlog, settings.stall_limit)
        self.catch_up = CatchUp(t.SUPPLY_REQUESTS.name)
        self._noting_backlog: asyncio.Task[None] | None = None

    # --- the agents ---------------------------------------------------------------

    async def _process_events(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Ends, faults, recoveries, connections and operator commands."""
        async for event in stream.events():
            origin = Origin.of(event.message)
            await self._process(origin)
            self.catch_up.processed(origin.topic, origin.partition, origin.offset, time.monotonic())
            yield None

    async def _process_requests(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Drivers' supply requests, each judged after the CP's events that came before it."""
        async for event in stream.events():
            origin = Origin.of(event.message)
            self.catch_up.delivered(origin.topic, origin.partition, origin.offset, time.monotonic())
            await self.catch_up.until_caught_up(origin.partition)
            await self._process(origin)
            self.catch_up.processed(origin.topic, origin.partition, origin.offset, time.monotonic())
            yield None

    async def _process(self, origin: Origin) -> None:
        self._last_event = time.monotonic()
        async with self.turns.of(origin.cp_id):
            await self.telemetry.apply_waiting(origin.cp_id)  # an end or a fault bills the newest figures
            await self.handle(origin.topic, origin.key, origin.raw, origin.partition, origin.offset)

    # --- telemetry (telemetry.py) and assignment ----------------------------------------

    async def _apply_telemetry(self) -> None:
        """Apply waiting telemetry for as long as the worker runs. A failure here ends the
        process, as a crash would: this task is not an agent, so Faust would not notice it
        gone, and the reports would wait forever. Restarted, the worker reads the
        uncommitted ones again."""
        try:
            await self.telemetry.apply_all()
        except Exception:
            log.critical("applying telemetry failed; ending the worker", exc_info=True)
            self._watchdog.end_process()

    async def _read_assigned(self, _app: Any, assigned: set[TP], **_: Any) -> None:
        """Read the telemetry of the CPs this worker now owns; forget the records of those it lost."""
        partitions = {tp.partition for tp in assigned if tp.topic == t.SUPPLY_REQUESTS.name}
        self.records.assigned(partitions)
        self.telemetry.assign(partitions)
        self.catch_up.assigned(partitions)
        if self._noting_backlog is not None:
            self._noting_backlog.cancel()  # a question about the previous assignment
        self._noting_backlog = asyncio.ensure_future(self._note_backlog(partitions))

    async def _note_backlog(self, partitions: set[int]) -> None:
        """Tell catch_up how far the CP events go that these partitions' requests wait for."""
        try:
            unread = await asyncio.to_thread(self.backlog.unread, partitions)
        except Exception:
            log.warning("could not read the backlog of partitions %s", sorted(partitions), exc_info=True)
            self.catch_up.release(partitions)
            return
        for partition in partitions:
            events = {topic: offsets for (topic, p), offsets in unread.items() if p == partition}
            self.catch_up.expect(partition, events, time.monotonic())

    async def _forget_revoked(self, _app: Any, revoked: set[TP], **_: Any) -> None:
        """Reports of partitions now another worker's are its to apply: commit up to
        the first not applied here, and forget the rest. The CP records of a partition
        go only if the assignment that follows gives it to another worker (records.py)."""
        gone = {tp.partition for tp in revoked if tp.topic == t.SUPPLY_REQUESTS.name}
        async with self.turns.everyone():  # not in the middle of applying one
            self.catch_up.release(gone)
            await self.telemetry.forget(gone)  # writes their records first
            self.records.revoked(gone)

    async def handle(
        self, topic: str, key: bytes | None, raw: bytes | None, partition: int, offset: int
    ) -> None:
        """Process one event about one CP, start to end."""
        origin = Origin(topic, key, raw, partition, offset)
        event = await self._accept(origin)
        if event is not None:
            await self.apply(event, origin)

    async def _accept(self, origin: Origin) -> Inbound | None:
        """The event, parsed; None when it is dead-lettered or not this deployment's."""
        if not origin.cp_id.startswith(self.settings.cp_prefix):
            return None  # another deployment's CP (see StreamSettings.cp_prefix)
        try:
            return self._parse(origin.topic, origin.cp_id, origin.raw)
        except ContractError as error:
            await self.effects.dead_letter(origin, str(error))
            return None

    async def apply(self, event: Inbound, origin: Origin) -> None:
        """Apply the rules to one parsed event and carry out what they say."""
        cp_id = origin.cp_id
        unknown = [] if self.registry.cp(cp_id) else [cp_id]
        drivers = [event.driver_id] if isinstance(event, SupplyRequest) else []
        if unknown or drivers:
            await self.registry.look_up(unknown, drivers)
        now = self.clock()
        if isinstance(event, SupplyRequest) and rules.utc(now) > rules.utc(event.expires_at):
            now = await self._authorised_at(cp_id, event) or now
        outcome = rules.apply(self.load(cp_id), event, self.registry, now)
        try:
            await self.effects.carry_out(outcome, origin.partition)
        except StoreRejected as error:
            await self.effects.dead_letter(origin, f"database rejected it: {error}")
            return
        log.log(
            logging.DEBUG if outcome.live_only or outcome.record is None else logging.INFO,
            "%s %s: %s",
            cp_id,
            type(event).__name__,
            outcome.note,
        )

    async def _authorised_at(self, cp_id: str, request: SupplyRequest) -> datetime | None:
        """When a request found expired was authorised, if it was: a worker killed after
        publishing the authorisation but before saving the record replays the request,
        maybe once it has expired. Its session row is written first, so it is in the
        database, and judged at that moment the request gets the same answer again —
        the driver and the CP already hold it — instead of one that contradicts it."""
        return await self.store.authorised_at(rules.session_id_for(cp_id, request.request_id))

    def _parse(self, topic: str, cp_id: str, raw: bytes | None) -> Inbound:
        if topic not in SOURCE_NAMES:
            raise ContractError(topic, "central-stream does not consume this topic")
        event: Inbound = decode(topic, raw)
        if event.cp_id != cp_id:
            raise ContractError(topic, f"the key {cp_id!r} is not the message's CP {event.cp_id!r}", "cp_id")
        return event

    async def _write_record(
        self, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        """A record to the table's changelog, in the partition of the CP's events."""
        topic = self.table.changelog_topic.get_topic_name()
        return await self.sink.write(topic, key, value, partition, acknowledged)

    def load(self, cp_id: str) -> CpRecord:
        """The CP's record; a CP never heard of since start-up is desconectado."""
        return self.records.load(cp_id)

    # --- housekeeping ---------------------------------------------------------------

    async def housekeeping(self) -> None:
        """Every few seconds: say we are alive, follow the registry, and make the
        database and `estado_cp` show every CP this worker (newly) owns."""
        await self._check_intake()
        health.beat()
        if self.registry.age >= self.settings.registry_refresh:
            await self.registry.reload()
        owned = self.owned_partitions()
        await self._check_recovery()
        if owned is None:
            return  # rebalancing or recovering the table: not now
        await self._read_again(self.catch_up.stuck(time.monotonic(), READ_AGAIN_AFTER), "the agents")
        fresh = owned - self._reconciled
        # hashing every registered CP is only needed when partitions were newly assigned
        due = {cp for cp in self.registry.cps if self._partition_of(cp) in fresh} if fresh else set()
        due |= {cp for cp in self.registry.take_new_cps() if self._partition_of(cp) in owned}
        if owned != self._reconciled:
            log.info(
                "owning partitions %s (%.1f s after start)", sorted(owned), time.monotonic() - self._started
            )
        self._reconciled = owned
        if due:
            await self.reconcile(due)
        await self._check_progress(owned)

    async def _check_intake(self) -> None:
        """Commit what telemetry is applied; a dead intake thread is a crash."""
        if not self.telemetry.reading:
            log.critical("the telemetry intake stopped; ending the worker")
            self._watchdog.end_process()
        await self.telemetry.commit()

    async def _check_recovery(self) -> None:
        """A table recovery whose remaining changes stay the same is read again from
        where it stands after READ_AGAIN_AFTER; still the same at the stall limit, it is
        stuck. The hang this is for (docs/central-stream.md, "Known limits") looks like
        the start-up drop of catchup.py, on the changelog: records consumed and never
        handed over, so the recovery waits for records its consumer is already past.
        A second read is harmless otherwise: Faust skips what it has recovered."""
        recovery = cast(Any, self.app.tables).recovery
        remaining = (
            recovery.active_remaining_total() + recovery.standby_remaining_total()
            if self.app.in_recovery
            else None
        )
        verdict = self._recovery.verdict(remaining, time.monotonic())
        if verdict == "stuck":
            log.critical(
                "table recovery made no progress for %.0f s; ending the worker", self._watchdog.limit
            )
            self._watchdog.end_process()
        elif verdict == "read again":
            stats = {**recovery.active_stats(), **recovery.standby_stats()}  # Faust's RecoveryStats
            last = [Position(tp.topic, tp.partition, max(offset, 0)) for tp, (_, offset, _) in stats.items()]
            await self._read_again(last, "the table's recovery")

    async def _read_again(self, positions: list[Position], handed_to: str) -> None:
        """Seek each partition back to its position, so that its records come again: Faust's
        consumer took them and never handed them over (to the agents: catchup.py; to the
        table's recovery: _check_recovery). A partition revoked meanwhile is its next
        owner's to read."""
        for position in positions:
            tp = TP(position.topic, position.partition)
            try:
                log.warning(
                    "%s[%d]: records from offset %d not handed over to %s (its consumer is at %s);"
                    " reading them again",
                    tp.topic,
                    tp.partition,
                    position.offset,
                    handed_to,
                    await self.app.consumer.position(tp),
                )
                await self.app.consumer.seek(tp, position.offset)
            except Exception:
                log.warning("could not read %s[%d] again", tp.topic, tp.partition, exc_info=True)

    async def close(self, timeout: float = 10.0) -> None:
        """At shutdown: the telemetry applied committed, its records written (telemetry.py)."""
        await self.telemetry.close(timeout)

    async def _check_progress(self, owned: set[int]) -> None:
        idle_for = time.monotonic() - self._last_event
        if await asyncio.to_thread(self._watchdog.stalled, owned, idle_for):
            self._watchdog.end_process()
        if idle_for >= self._watchdog.limit:
            self._last_event = time.monotonic()  # checked: look again after another limit

    def owned_partitions(self) -> set[int] | None:
        """The partitions of CP events this worker processes now, None while that is changing."""
        if not self._settled():
            return None
        return set(self.telemetry.partitions)  # as Faust's assignment signals left them

    def _settled(self) -> bool:
        """Neither rebalancing nor recovering the table: three flags, cheap enough per report."""
        app = self.app
        recovery = cast(Any, app.tables).recovery
        return not (app.rebalancing or app.in_recovery or not recovery.completed.is_set())

    def _partition_of(self, cp_id: str) -> int:
        return partition_for(cp_id, self.settings.partitions)

    async def reconcile(self, cp_ids: Iterable[str]) -> None:
        """Write and publish the state of these CPs as this worker knows it: a CP
        heard of since start-up shows its recorded state, any other is desconectado
        (SPEC step 1). Run when partitions are assigned, so a restart repairs
        whatever a crash left half-published."""
        now = self.clock()
        async with self.turns.everyone():
            records = [self.load(cp_id) for cp_id in sorted(cp_ids)]
            await self.store.save_cp_states([(r.cp_id, r.state, now) for r in records])
            acks = []
            for record in records:
                info = self.registry.cp(record.cp_id)
                if info is not None:
                    status = rules.status_of(record, info, f"reconcile-{now.isoformat()}")
                    acks.append(await self.sink.publish(t.CP_STATUS, status))
            await asyncio.gather(*acks)
        log.info("published the state of %d CPs", len(records))
