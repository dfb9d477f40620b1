"""What the rules ask for (rules.Outcome), carried out in the order that makes a
crash harmless — the crash story of agents.py:

1. database rows first (idempotent upserts),
2. then the messages, waiting for the broker's acknowledgement,
3. then the CP's record, on the table's changelog (records.py).

Telemetry's outcome is only live figures: its messages go without waiting, and
its record is kept to be written before the telemetry offsets are committed.
An event that cannot be processed becomes a dead letter, which says why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from central_stream import rules
from central_stream.records import CpRecords
from central_stream.rules import Outcome
from evcharging import topics as t
from evcharging.messages import CpState, DeadLetter, Message

log = logging.getLogger(__name__)

SERVICE = "central-stream"


class StorePort(Protocol):
    """What the agent needs of the database (store.Store; a fake in unit tests)."""

    async def save_supply(self, row: rules.SupplyRow) -> None: ...

    async def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None: ...

    async def authorised_at(self, session_id: str) -> datetime | None: ...


class Sink(Protocol):
    """Publishes contract messages and writes records (evcharging.sink.KafkaSink; a recorder
    in unit tests)."""

    async def publish(self, topic: t.Topic, message: Message) -> Awaitable[Any]:
        """Queue `message`; the awaitable returned completes on the broker's ack."""
        ...

    async def publish_live(self, topic: t.Topic, message: Message) -> None:
        """Queue a live figure, which nobody waits for."""
        ...

    async def write(
        self, topic: str, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        """Queue a changelog record; with `acknowledged`, an awaitable of the broker's ack."""
        ...


@dataclass(frozen=True)
class Origin:
    """Where an event came from: for its CP, its partition and its dead letter."""

    topic: str
    key: bytes | None
    raw: bytes | None
    partition: int
    offset: int

    @classmethod
    def of(cls, message: Any) -> Origin:
        """From a Faust message."""
        return cls(message.topic, message.key, message.value, message.partition, message.offset)

    @cached_property
    def cp_id(self) -> str:
        return self.key.decode("utf-8", "replace") if self.key else ""


class Effects:
    def __init__(self, store: StorePort, sink: Sink, records: CpRecords) -> None:
        self.store = store
        self.sink = sink
        self.records = records

    async def carry_out(self, outcome: Outcome, partition: int) -> None:
        """Rows, then acknowledged messages, then the record (the module's docstring).
        A row MariaDB refuses raises store.StoreRejected before anything is sent."""
        for effect in outcome.effects:
            if isinstance(effect, rules.SaveSupply):
                await self.store.save_supply(effect.row)
        states = [(e.cp_id, e.state, e.since) for e in outcome.effects if isinstance(e, rules.SaveCpState)]
        if states:
            await self.store.save_cp_states(states)
        sends = [effect for effect in outcome.effects if isinstance(effect, rules.Send)]
        if outcome.live_only:
            for send in sends:
                await self.sink.publish_live(send.topic, send.message)
            if outcome.record is not None:
                self.records.keep(outcome.record, partition)
            return
        await asyncio.gather(*[await self.sink.publish(send.topic, send.message) for send in sends])
        if outcome.record is not None:
            await self.records.save(outcome.record, partition)

    async def dead_letter(self, origin: Origin, reason: str) -> None:
        """Publish the event on `mensajes_rechazados` with the reason; returns once the broker has it.
        Its id comes from where the event was, so a replay publishes the same letter."""
        topic, partition, offset = origin.topic, origin.partition, origin.offset
        log.warning("dead letter %s[%d]@%d: %s", topic, partition, offset, reason)
        letter = DeadLetter(
            message_id=rules.derived_id("dead", topic, str(partition), str(offset)),
            source_topic=topic,
            partition=partition,
            offset=offset,
            key=origin.key.decode("utf-8", "replace") if origin.key is not None else None,
            payload=(origin.raw or b"").decode("utf-8", "replace")[:100_000],
            reason=reason[:1000],
            service=SERVICE,
        )
        await (await self.sink.publish(t.DEAD_LETTERS, letter))
