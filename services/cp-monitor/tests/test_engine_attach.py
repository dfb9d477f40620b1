"""The watch looks for a free engine again, with backoff, until one accepts it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cp_monitor.engine_watch import EngineWatch
from evcharging.engine_link import CODEC, Attach, Attached, Busy, LinkRecord
from evcharging.framed import FramedConnection


async def attach_after_one_refusal() -> tuple[EngineWatch, list[LinkRecord]]:
    asked: list[LinkRecord] = []

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = FramedConnection(reader, writer, CODEC)
        request = await connection.receive(timeout=5)
        asked.append(request)
        await connection.send(Busy() if len(asked) == 1 else Attached(cp_id="CP001"))

    server = await asyncio.start_server(engine, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        watch = EngineWatch("127.0.0.1", port, timeout=1.0)
        async with asyncio.timeout(10):
            await watch._attach()
        assert watch.connection is not None
        watch.close()
    return watch, asked


def test_a_busy_engine_is_tried_again_after_a_pause(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cp-monitor.engine"):
        watch, asked = asyncio.run(attach_after_one_refusal())
    assert asked == [Attach(), Attach()]
    assert watch.identity == Attached(cp_id="CP001")
    said = [r.getMessage() for r in caplog.records if r.name == "cp-monitor.engine"]
    assert any(
        line.startswith("no free engine at 127.0.0.1:") and "yet; retrying in" in line for line in said
    )
