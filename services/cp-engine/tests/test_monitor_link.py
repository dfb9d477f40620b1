"""The engine's monitor link over a real socket: one monitor at a time, health
answers, and the CP identity that outlives a monitor."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from cp_engine.monitor_link import MonitorLink, refusal
from cp_engine.runtime import EngineRuntime
from evcharging.engine_link import (
    AssignIdentity,
    Attach,
    Attached,
    Busy,
    Check,
    Health,
    LinkRecord,
    from_frame,
    to_frame,
)
from evcharging.framing import FrameDecoder
from evcharging.messages import EngineHealth
from tests.support.engine import SETTINGS, Outbox


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.decoder = reader, writer, FrameDecoder()

    async def ask(self, record: LinkRecord) -> LinkRecord | None:
        self.writer.write(to_frame(record))
        await self.writer.drain()
        while True:
            data = await asyncio.wait_for(self.reader.read(4096), 5)
            if not data:
                return None
            frames = self.decoder.feed(data)
            if frames:
                return from_frame(frames[0])


async def scenario() -> None:
    runtime = EngineRuntime(SETTINGS, Outbox(), follow_commands=False)  # type: ignore[arg-type]
    link = MonitorLink(runtime)
    server = await link.start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    first = Peer(*await asyncio.open_connection("127.0.0.1", port))
    assert await first.ask(Attach()) == Attached(cp_id=None, credential=None)
    second = Peer(*await asyncio.open_connection("127.0.0.1", port))
    assert isinstance(await second.ask(Attach()), Busy)
    assert await second.reader.read() == b""  # the engine hung up on the second monitor

    assert await first.ask(Check()) == Health(health=EngineHealth.OK)
    runtime.perform("fault")
    assert await first.ask(Check()) == Health(health=EngineHealth.KO)

    assigned = AssignIdentity(cp_id="CP-A001", credential="secret", price_per_kwh=Decimal("0.35"))
    assert await first.ask(assigned) == Attached(cp_id="CP-A001", credential="secret")
    first.writer.close()

    async def replacement_attaches() -> LinkRecord | None:
        while True:
            peer = Peer(*await asyncio.open_connection("127.0.0.1", port))
            reply = await peer.ask(Attach())
            if not isinstance(reply, Busy):
                return reply
            await asyncio.sleep(0.05)  # the engine has not yet seen the first monitor go

    assert await asyncio.wait_for(replacement_attaches(), 5) == Attached(cp_id="CP-A001", credential="secret")
    server.close()


def test_one_monitor_at_a_time_and_the_identity_outlives_it() -> None:
    asyncio.run(scenario())


# --- an engine started as a CP (the seed's form) takes no other id -------------------------


def test_an_engine_without_a_cp_id_refuses_nobody() -> None:
    assert refusal(None, "CP-A001") is None
    assert refusal("CP001", None) is None  # a monitor that does not know its id yet
    assert refusal("CP001", "CP001") is None
    reason = refusal("CP001", "CP002")
    assert reason is not None
    assert "CP002" in reason
    assert "CP001" in reason


async def mismatched_monitors() -> EngineRuntime:
    runtime = EngineRuntime(SETTINGS.model_copy(update={"cp_id": "CP001"}), Outbox(), follow_commands=False)  # type: ignore[arg-type]
    server = await MonitorLink(runtime).start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    other = Peer(*await asyncio.open_connection("127.0.0.1", port))
    assert await other.ask(Attach(cp_id="CP002")) == Busy(cp_id="CP001")
    assert await other.reader.read() == b""  # refused and hung up on

    unsure = Peer(*await asyncio.open_connection("127.0.0.1", port))
    assert await unsure.ask(Attach()) == Attached(cp_id=None)  # it may yet be CP001's monitor
    claimed = AssignIdentity(cp_id="CP-A007", credential="secret", price_per_kwh=Decimal("0.35"))
    assert await unsure.ask(claimed) == Busy(cp_id="CP001")
    assert await unsure.reader.read() == b""
    assert runtime.engine.cp_id is None
    assert runtime.credential is None

    async def own_monitor_attaches() -> LinkRecord | None:
        while True:  # the engine frees its slot once it has seen the refused monitor go
            peer = Peer(*await asyncio.open_connection("127.0.0.1", port))
            reply = await peer.ask(Attach(cp_id="CP001"))
            if not isinstance(reply, Busy) or reply.cp_id is not None:
                assigned = AssignIdentity(cp_id="CP001", credential="c", price_per_kwh=Decimal("0.35"))
                return await peer.ask(assigned)
            await asyncio.sleep(0.05)

    assert await asyncio.wait_for(own_monitor_attaches(), 5) == Attached(cp_id="CP001", credential="c")
    server.close()
    return runtime


def test_an_engine_started_as_a_cp_refuses_a_monitor_of_another_and_says_both_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="cp-engine.link"):
        runtime = asyncio.run(mismatched_monitors())
    assert runtime.engine.cp_id == "CP001"
    refusals = [r.getMessage() for r in caplog.records if r.name == "cp-engine.link"]
    assert len(refusals) == 2
    assert all("this engine was started as CP CP001" in line for line in refusals)
    assert "monitor of CP CP002" in refusals[0]
    assert "monitor of CP CP-A007" in refusals[1]
