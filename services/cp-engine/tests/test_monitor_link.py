"""The engine's monitor link over a real socket: one monitor at a time, health
answers, and the CP identity that outlives a monitor."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cp_engine.monitor_link import MonitorLink
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
