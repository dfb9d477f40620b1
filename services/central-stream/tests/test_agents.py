"""The agent, run by Faust's test_context(): events in, messages and rows out,
with the database and the broker replaced by recorders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import faust
from faust.tables.table import Table

from central_stream.agents import CentralStream
from central_stream.app import METADATA_MAX_AGE_MS, create_app
from central_stream.registry import CachedRegistry, Snapshot
from central_stream.rules import CpInfo, CpRecord, SupplyRow
from central_stream.settings import StreamSettings
from central_stream.store import StoreRejected
from evcharging import topics as t
from evcharging.codec import encode
from evcharging.messages import (
    CpConnected,
    CpState,
    CpStatus,
    DeadLetter,
    DenialReason,
    EngineHealth,
    Message,
    SupplyAuthorised,
    SupplyDenied,
    SupplyEnded,
    SupplyRequest,
    Telemetry,
    Ticket,
)

CP = "CPA"
PRICE = Decimal("0.400")


def _done() -> asyncio.Future[None]:
    """An acknowledgement that has already come."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


@dataclass
class Recorder:
    """Stands in for the broker (Sink) and the database (StorePort)."""

    sent: list[tuple[str, Message]] = field(default_factory=list)
    supplies: list[SupplyRow] = field(default_factory=list)
    states: list[tuple[str, CpState, datetime]] = field(default_factory=list)
    changelogged: list[tuple[bytes, bytes, int]] = field(default_factory=list)
    reject_supplies: bool = False

    async def publish(self, topic: t.Topic, message: Message) -> Awaitable[Any]:
        self.sent.append((topic.name, message))
        return _done()

    async def publish_live(self, topic: t.Topic, message: Message) -> None:
        self.sent.append((topic.name, message))

    async def write(
        self, topic: str, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        self.changelogged.append((key, value, partition))
        return _done() if acknowledged else None

    async def save_supply(self, row: SupplyRow) -> None:
        if self.reject_supplies:
            raise StoreRejected("foreign key")
        self.supplies.append(row)

    async def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None:
        self.states.extend(states)

    async def authorised_at(self, session_id: str) -> datetime | None:
        return next((row.started_at for row in self.supplies if row.session_id == session_id), None)

    def on(self, topic: t.Topic) -> list[Message]:
        return [message for name, message in self.sent if name == topic.name]


@dataclass
class FixedSource:
    """A registry source held in memory, noting the look-ups it was asked."""

    cps: dict[str, CpInfo]
    drivers: set[str]
    asked: list[tuple[list[str], list[str]]] = field(default_factory=list)

    async def load_registry(self) -> Snapshot:
        return Snapshot(dict(self.cps), frozenset(self.drivers))

    async def find_registered(self, cp_ids: Collection[str], driver_ids: Collection[str]) -> Snapshot:
        self.asked.append((list(cp_ids), list(driver_ids)))
        cps = {c: self.cps[c] for c in cp_ids if c in self.cps}
        return Snapshot(cps, frozenset(d for d in driver_ids if d in self.drivers))


@dataclass
class Harness:
    stream: CentralStream
    recorder: Recorder
    agent: Any

    async def deliver(self, topic: t.Topic | str, message: Message | bytes, key: str = CP) -> None:
        """Put one record on the agent as if it came from `topic`."""
        name = topic if isinstance(topic, str) else topic.name
        self.agent.original_channel = self.stream.app.topic(name)  # the topic the test wrapper reports
        value = message if isinstance(message, bytes) else encode(message)
        await self.agent.put(value, key=key.encode(), partition=0)

    def table_reads(self, key: bytes, value: bytes) -> tuple[str, str]:
        """A changelog record as Faust's table reads it back when it recovers."""
        table = cast(Table[str, str], self.stream.table)
        loads = self.stream.app.serializers
        cp_id = loads.loads_key(table.key_type, key, serializer=table.key_serializer)
        record = loads.loads_value(table.value_type, value, serializer=table.value_serializer)
        assert isinstance(cp_id, str)
        assert isinstance(record, str)
        return cp_id, record


@asynccontextmanager
async def running_agent() -> AsyncIterator[Harness]:
    """The agent under test_context(), on an app of its own (memory:// table)."""
    settings = StreamSettings(kafka_bootstrap="localhost:1", app_id=f"unit-{uuid.uuid4().hex[:8]}")
    app = create_app(settings, store="memory://")
    recorder = Recorder()

    registry = CachedRegistry(FixedSource({CP: CpInfo(CP, "Elche", PRICE)}, {"D1", "D2"}))
    await registry.reload()
    stream = CentralStream(app, settings, recorder, registry, recorder)
    app.finalize()
    async with stream.agent.test_context() as agent:
        yield Harness(stream, recorder, agent)


def with_agent(test: Callable[[Harness], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test body against a fresh agent, on a loop of its own."""

    def run() -> None:
        async def body() -> None:
            async with running_agent() as harness:
                await test(harness)

        asyncio.run(body())

    run.__name__ = test.__name__
    run.__doc__ = test.__doc__
    return run


def request(driver: str, request_id: str) -> SupplyRequest:
    return SupplyRequest(
        request_id=request_id,
        cp_id=CP,
        driver_id=driver,
        expires_at=datetime.now(UTC) + timedelta(seconds=30),
    )


def connect() -> CpConnected:
    return CpConnected(cp_id=CP, connection_id="c", engine_health=EngineHealth.OK)


@with_agent
async def test_a_connected_cp_is_active_in_the_table_the_database_and_estado_cp(
    harness: Harness,
) -> None:
    await harness.deliver(t.CP_CONNECTIONS, connect())
    assert harness.stream.load(CP).state is CpState.ACTIVE
    assert [(cp, state) for cp, state, _ in harness.recorder.states] == [(CP, CpState.ACTIVE)]
    (status,) = harness.recorder.on(t.CP_STATUS)
    assert isinstance(status, CpStatus)
    assert (status.state, status.location) == (CpState.ACTIVE, "Elche")


@with_agent
async def test_a_whole_session_through_the_agent(harness: Harness) -> None:
    await harness.deliver(t.CP_CONNECTIONS, connect())
    await harness.deliver(t.SUPPLY_REQUESTS, request("D1", "r1"))
    await harness.deliver(t.SUPPLY_REQUESTS, request("D2", "r2"))
    authorised, denied = harness.recorder.on(t.DRIVER_RESPONSES)
    assert isinstance(authorised, SupplyAuthorised)
    assert isinstance(denied, SupplyDenied)
    assert denied.reason is DenialReason.CP_BUSY
    session = authorised.session_id
    # in order, a repeat, a jump, then a late one: only 0, 1 and 3 count
    for seq, kwh in [(0, "0.5"), (1, "1.0"), (1, "1.0"), (3, "1.5"), (2, "9.9")]:
        telemetry = Telemetry(
            cp_id=CP, session_id=session, seq=seq, kw=Decimal(7), kwh=Decimal(kwh), eur=Decimal(0)
        )
        await harness.deliver(t.TELEMETRY, telemetry)
    assert len(harness.recorder.on(t.DRIVER_RESPONSES)) == 2 + 3  # authorised, denied, three updates
    end = SupplyEnded(cp_id=CP, session_id=session, seq=4, kwh=Decimal("1.5"), eur=Decimal(0))
    await harness.deliver(t.SUPPLY_ENDED, end)
    await harness.deliver(t.SUPPLY_ENDED, end)
    (ticket,) = harness.recorder.on(t.TICKETS)
    assert isinstance(ticket, Ticket)
    assert (ticket.ticket_id, ticket.kwh, ticket.total_eur) == (session, Decimal("1.5"), Decimal("0.60"))
    assert [row.status for row in harness.recorder.supplies] == ["en_curso", "unplugged"]
    assert harness.stream.load(CP).state is CpState.ACTIVE
    written = [
        (*harness.table_reads(key, value), partition)
        for key, value, partition in harness.recorder.changelogged
    ]
    assert {(cp, partition) for cp, _, partition in written} == {(CP, 0)}
    assert CpRecord.model_validate_json(written[-1][1]) == harness.stream.load(CP)


@with_agent
async def test_a_request_replayed_after_it_expired_gets_the_authorisation_it_was_given(
    harness: Harness,
) -> None:
    """The worker was killed after authorising, before saving the record: the
    replay finds the request expired, but its session row says it was authorised."""
    await harness.deliver(t.CP_CONNECTIONS, connect())
    before = harness.stream.load(CP)
    await harness.deliver(t.SUPPLY_REQUESTS, request("D1", "r1"))
    await harness.stream.records.save(before, partition=0)  # the record the crash did not save
    harness.stream.clock = lambda: datetime.now(UTC) + timedelta(minutes=5)
    await harness.deliver(t.SUPPLY_REQUESTS, request("D1", "r1"))
    await harness.deliver(t.SUPPLY_REQUESTS, request("D2", "r2"))
    first, again, late = harness.recorder.on(t.DRIVER_RESPONSES)
    assert isinstance(first, SupplyAuthorised)
    assert isinstance(again, SupplyAuthorised)
    assert again.message_id == first.message_id
    assert again.session_id == first.session_id
    assert isinstance(late, SupplyDenied)
    assert late.reason is DenialReason.REQUEST_EXPIRED
    assert harness.stream.load(CP).state is CpState.SUPPLYING


@with_agent
async def test_a_malformed_message_goes_to_the_dead_letters_and_processing_goes_on(harness: Harness) -> None:
    await harness.deliver(t.TELEMETRY, b'{"type": "telemetry", "cp_id": "CPA", "kwh": "lots"}')
    await harness.deliver(t.CP_CONNECTIONS, connect())
    (letter,) = harness.recorder.on(t.DEAD_LETTERS)
    assert isinstance(letter, DeadLetter)
    assert letter.source_topic == "telemetria_cp"
    assert letter.key == CP
    assert "telemetria_cp" in letter.reason
    assert '"lots"' in letter.payload
    assert harness.stream.load(CP).state is CpState.ACTIVE


@with_agent
async def test_a_message_under_another_cps_key_is_dead_lettered(harness: Harness) -> None:
    await harness.deliver(t.CP_CONNECTIONS, connect(), key="CPB")
    (letter,) = harness.recorder.on(t.DEAD_LETTERS)
    assert isinstance(letter, DeadLetter)
    assert "cp_id" in letter.reason
    assert harness.stream.load(CP).state is CpState.DISCONNECTED


@with_agent
async def test_a_request_the_database_refuses_is_dead_lettered_and_changes_nothing(harness: Harness) -> None:
    await harness.deliver(t.CP_CONNECTIONS, connect())
    harness.recorder.reject_supplies = True
    await harness.deliver(t.SUPPLY_REQUESTS, request("D1", "r1"))
    assert isinstance(harness.recorder.on(t.DEAD_LETTERS)[0], DeadLetter)
    assert harness.recorder.on(t.DRIVER_RESPONSES) == []
    assert harness.stream.load(CP).state is CpState.ACTIVE


def test_an_unknown_id_is_looked_up_once_then_not_again_for_a_moment() -> None:
    asyncio.run(_unknown_ids_are_looked_up())


async def _unknown_ids_are_looked_up() -> None:
    source = FixedSource({CP: CpInfo(CP, "Elche", PRICE)}, {"D1"})
    now = [0.0]
    registry = CachedRegistry(source, miss_ttl=1.0, clock=lambda: now[0])
    await registry.reload()
    assert registry.take_new_cps() == {CP}
    source.drivers.add("NEW")
    source.cps["CPN"] = CpInfo("CPN", "Alcoy", PRICE)
    await registry.look_up(["CPN"], ["NEW", "D1", "NOBODY"])
    assert registry.has_driver("NEW")
    assert registry.cp("CPN") == CpInfo("CPN", "Alcoy", PRICE)
    assert registry.take_new_cps() == {"CPN"}
    assert source.asked == [(["CPN"], ["NEW", "NOBODY"])]  # D1 is known: never asked
    await registry.look_up([], ["NOBODY", "NEW"])
    assert len(source.asked) == 1  # NOBODY was missing a moment ago, NEW is known now
    now[0] = 1.5
    await registry.look_up([], ["NOBODY"])
    assert source.asked[-1] == ([], ["NOBODY"])


def test_the_app_is_faust_with_at_least_once_and_the_contracts_partitions() -> None:
    app = create_app(StreamSettings(kafka_bootstrap="k1:9092,k2:9092", app_id="x"))
    assert isinstance(app, faust.App)
    assert str(app.conf.processing_guarantee) == "ProcessingGuarantee.AT_LEAST_ONCE"
    assert app.conf.topic_partitions == t.PARTITIONS
    assert [str(url) for url in app.conf.broker] == ["kafka://k1:9092", "kafka://k2:9092"]
    assert app.conf.consumer_metadata_max_age_ms == METADATA_MAX_AGE_MS  # a changelog made at start is seen
