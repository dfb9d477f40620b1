"""Telemetry from the intake to the rules: only the newest report of a session is
applied, an older one is done at once, and offsets are committed only as far as
every report before them is done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from central_stream.effects import Origin
from central_stream.intake import Record, TelemetryIntake
from central_stream.records import CpRecords
from central_stream.rules import Inbound
from central_stream.telemetry import TelemetryFlow
from central_stream.turns import Turns
from evcharging.codec import decode, encode
from evcharging.messages import Telemetry


@dataclass
class FakeRecord:
    """What the intake hands over: librdkafka's record, as far as the flow reads it."""

    raw: bytes
    cp_id: str
    at: int
    on: int = 0

    def error(self) -> None:
        return None

    def key(self) -> bytes:
        return self.cp_id.encode()

    def value(self) -> bytes:
        return self.raw

    def partition(self) -> int:
        return self.on

    def offset(self) -> int:
        return self.at


@dataclass
class World:
    applied: list[tuple[str, int]] = field(default_factory=list)
    persisted: list[set[int] | None] = field(default_factory=list)

    async def accept(self, origin: Origin) -> Inbound | None:
        event: Inbound = decode(origin.topic, origin.raw)
        return event

    async def apply(self, event: Inbound, _origin: Origin) -> None:
        assert isinstance(event, Telemetry)
        self.applied.append((event.session_id, event.seq))

    async def persist(self, partitions: set[int] | None = None) -> int:
        self.persisted.append(partitions)
        return 0


def report(cp_id: str, session: str, seq: int, offset: int, partition: int = 0) -> Record:
    telemetry = Telemetry(
        cp_id=cp_id, session_id=session, seq=seq, kw=Decimal(7), kwh=Decimal(seq), eur=Decimal(0)
    )
    return cast(Record, FakeRecord(encode(telemetry), cp_id, offset, partition))


def flow_in(world: World) -> TelemetryFlow:
    flow = TelemetryFlow(
        lambda: cast(TelemetryIntake, None),
        Turns(),
        cast(CpRecords, cast(Any, world)),
        world.accept,
        world.apply,
        lambda: True,
    )
    flow.assign({0, 1})
    return flow


def test_only_the_newest_report_of_a_session_is_applied_and_every_one_is_committed() -> None:
    async def body() -> None:
        world = World()
        flow = flow_in(world)
        for seq, offset in ((1, 10), (2, 11), (3, 12)):
            await flow.take_report(report("CPA", "s1", seq, offset))
        assert flow.positions.committable() == {0: 12}, "the two replaced are done, the newest is not"
        assert await flow.apply_oldest()
        assert world.applied == [("s1", 3)]
        assert flow.positions.committable() == {0: 13}

    asyncio.run(body())


def test_a_report_still_waiting_holds_back_its_partition_only() -> None:
    async def body() -> None:
        world = World()
        flow = flow_in(world)
        await flow.take_report(report("CPA", "s1", 1, 10))
        await flow.take_report(report("CPB", "s2", 1, 11))
        await flow.take_report(report("CPC", "s3", 1, 7, partition=1))
        await flow.apply_oldest()  # CPA waited longest
        await flow.apply_waiting("CPC")  # out of turn, as before an end of CPC
        assert world.applied == [("s1", 1), ("s3", 1)]
        assert flow.positions.committable() == {0: 11, 1: 8}

    asyncio.run(body())


def test_partitions_gone_to_another_worker_are_committed_then_dropped() -> None:
    async def body() -> None:
        world = World()
        flow = flow_in(world)
        await flow.take_report(report("CPA", "s1", 1, 10))
        await flow.take_report(report("CPC", "s3", 1, 7, partition=1))
        await flow.forget({1})
        assert world.persisted == [{1}], "the records of partition 1 are written before it goes"
        assert flow.partitions == {0}
        assert len(flow.waiting) == 1
        await flow.apply_oldest()
        assert world.applied == [("s1", 1)]
        assert flow.positions.committable() == {0: 11}

    asyncio.run(body())
