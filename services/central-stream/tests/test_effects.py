"""The effects of an outcome in the crash story's order: rows, acknowledged
messages, then the record; telemetry's without waiting, its record kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from central_stream import rules
from central_stream.effects import Effects, Origin
from central_stream.records import CpRecords
from central_stream.rules import CpRecord, Outcome, SaveCpState, SaveSupply, Send, SupplyRow
from central_stream.store import StoreRejected
from evcharging import topics as t
from evcharging.messages import CpState, DeadLetter, Message, SupplyUpdate
from tests.support.waiting import wait_until_async

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ROW = SupplyRow("s1", "D1", "CP1", NOW, None, Decimal(0), Decimal(0), Decimal("0.3"), "en_curso")
UPDATE = SupplyUpdate(
    session_id="s1", cp_id="CP1", driver_id="D1", seq=1, kw=Decimal(7), kwh=Decimal(1), eur=Decimal("0.3")
)


@dataclass
class World:
    """The database, the broker and the changelog, noting what happened in what order."""

    steps: list[str] = field(default_factory=list)
    pending: list[asyncio.Future[None]] = field(default_factory=list)
    refuse: bool = False

    async def save_supply(self, row: SupplyRow) -> None:
        if self.refuse:
            raise StoreRejected("foreign key")
        self.steps.append(f"row {row.session_id}")

    async def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None:
        self.steps.extend(f"state {cp_id} {state.value}" for cp_id, state, _ in states)

    async def authorised_at(self, session_id: str) -> datetime | None:
        return None

    async def publish(self, topic: t.Topic, message: Message) -> Awaitable[Any]:
        self.steps.append(f"send {topic.name}")
        return self._acknowledgement(f"ack {topic.name}")

    async def publish_live(self, topic: t.Topic, message: Message) -> None:
        self.steps.append(f"live {topic.name}")

    async def write(
        self, topic: str, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        self.steps.append(f"record p{partition}")
        return self._acknowledgement("ack record") if acknowledged else None

    def _acknowledgement(self, step: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda _: self.steps.append(step))
        self.pending.append(future)
        return future

    def acknowledge(self) -> None:
        for future in self.pending:
            if not future.done():
                future.set_result(None)


def effects(world: World) -> tuple[Effects, CpRecords]:
    records = CpRecords({}, lambda *args: world.write("changelog", *args), lambda _cp: 0)
    return Effects(world, world, records), records


RECORD = CpRecord(cp_id="CP1", connected=True)
SETTLING = Outcome(
    RECORD, (SaveSupply(ROW), SaveCpState("CP1", CpState.SUPPLYING, NOW), Send(t.DRIVER_RESPONSES, UPDATE))
)


def test_rows_then_acknowledged_messages_then_the_record() -> None:
    async def scenario() -> list[str]:
        world = World()
        carrying_out = asyncio.ensure_future(effects(world)[0].carry_out(SETTLING, 3))
        await wait_until_async(lambda: world.pending, 1, "the message's acknowledgement asked for")
        assert "record p3" not in world.steps, "the record waits for the messages' acknowledgement"
        world.acknowledge()
        await wait_until_async(lambda: "record p3" in world.steps, 1, "the record written")
        world.acknowledge()
        await asyncio.wait_for(carrying_out, 1)
        return world.steps

    assert asyncio.run(scenario()) == [
        "row s1",
        "state CP1 suministrando",
        f"send {t.DRIVER_RESPONSES.name}",
        f"ack {t.DRIVER_RESPONSES.name}",
        "record p3",
        "ack record",
    ]


def test_live_figures_go_without_waiting_and_their_record_is_kept_for_later() -> None:
    async def scenario() -> tuple[list[str], int]:
        world = World()
        carry, records = effects(world)
        await carry.carry_out(Outcome(RECORD, (Send(t.DRIVER_RESPONSES, UPDATE),), live_only=True), 3)
        return world.steps, records.unwritten

    assert asyncio.run(scenario()) == ([f"live {t.DRIVER_RESPONSES.name}"], 1)


def test_a_row_the_database_refuses_stops_everything_after_it() -> None:
    async def scenario() -> list[str]:
        world = World(refuse=True)
        with pytest.raises(StoreRejected):
            await effects(world)[0].carry_out(SETTLING, 3)
        return world.steps

    assert asyncio.run(scenario()) == []


def test_a_dead_letter_says_where_the_event_was_and_why_with_an_id_a_replay_repeats() -> None:
    sent: list[Message] = []

    class Broker(World):
        async def publish(self, topic: t.Topic, message: Message) -> Awaitable[Any]:
            sent.append(message)
            return await super().publish(topic, message)

    async def scenario() -> None:
        world = Broker()
        sending = asyncio.ensure_future(
            effects(world)[0].dead_letter(Origin("averias", b"CP1", b"{", 2, 41), "not JSON")
        )
        await wait_until_async(lambda: world.pending, 1, "the letter's acknowledgement asked for")
        world.acknowledge()
        await sending

    asyncio.run(scenario())
    (letter,) = sent
    assert isinstance(letter, DeadLetter)
    assert (letter.source_topic, letter.key, letter.payload, letter.reason, letter.offset) == (
        "averias",
        "CP1",
        "{",
        "not JSON",
        41,
    )
    assert letter.message_id == rules.derived_id("dead", "averias", "2", "41")
