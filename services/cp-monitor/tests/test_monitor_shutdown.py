"""Stopping the monitor (SIGTERM, `docker compose stop`): it closes its connection to
central-auth — which is how central-auth learns at once that the CP left, the
protocol having no goodbye frame — and to its engine, and exits 0.

The engine and central-auth are small stand-ins here, speaking the real framing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evcharging import engine_link as link
from evcharging import wire
from evcharging.framing import Frame, FrameDecoder
from evcharging.messages import EngineHealth
from tests.support.processes import stop_when_ready
from tests.support.waiting import wait_until

MONITOR_DIR = Path(__file__).resolve().parents[1]
KEY = "enrolment-key-for-tests"
CREDENTIAL = "credential-for-the-tests"


@dataclass
class Seen:
    """What the stand-ins saw, each event with its monotonic time."""

    events: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str) -> None:
        with self.lock:
            self.events.append((what, time.monotonic()))

    def at(self, what: str) -> float | None:
        with self.lock:
            return next((moment for name, moment in self.events if name == what), None)


async def serve_frames(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    answer: Callable[[Frame], bytes | None],
) -> None:
    decoder = FrameDecoder()
    try:
        while data := await reader.read(4096):
            for frame in decoder.feed(data):
                reply = answer(frame)
                if reply:
                    writer.write(reply)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class StandIns:
    """An engine (port `engine_port`) and a central-auth (port `auth_port`) on a loop
    of their own, in a thread."""

    def __init__(self) -> None:
        self.seen = Seen()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.engine_port = 0
        self.auth_port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        engine = self.loop.run_until_complete(asyncio.start_server(self._engine, "127.0.0.1", 0))
        auth = self.loop.run_until_complete(asyncio.start_server(self._auth, "127.0.0.1", 0))
        self.engine_port = engine.sockets[0].getsockname()[1]
        self.auth_port = auth.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _engine(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        identity: dict[str, str | None] = {"cp_id": None, "credential": None}

        def answer(frame: Frame) -> bytes | None:
            record = link.from_frame(frame)
            if isinstance(record, link.AssignIdentity):
                identity.update(cp_id=record.cp_id, credential=record.credential)
                self.seen.add("engine assigned")
            if isinstance(record, link.Check):
                return link.to_frame(link.Health(health=EngineHealth.OK))
            return link.to_frame(link.Attached(**identity))

        await serve_frames(reader, writer, answer)
        self.seen.add("engine connection closed")

    async def _auth(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def answer(frame: Frame) -> bytes | None:
            record = wire.from_frame(frame)
            if isinstance(record, wire.Claim):
                self.seen.add("authenticated")
                return wire.to_frame(
                    wire.Claimed(
                        cp_id="CP-A001",
                        credential=CREDENTIAL,
                        connection_id="c1",
                        heartbeat_interval=1,
                        heartbeat_timeout=3,
                    )
                )
            if isinstance(record, wire.Heartbeat):
                return wire.to_frame(wire.HeartbeatAck())
            return wire.to_frame(wire.Error(reason=wire.Reason.UNEXPECTED_REQUEST))

        await serve_frames(reader, writer, answer)
        self.seen.add("central-auth connection closed")

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    servers = StandIns()
    yield servers
    servers.close()


def test_sigterm_closes_the_central_auth_session_at_once_and_exits_0(
    stand_ins: StandIns, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": str(MONITOR_DIR),
        "ENGINE_ADDRESS": f"127.0.0.1:{stand_ins.engine_port}",
        "CENTRAL_ADDRESS": f"127.0.0.1:{stand_ins.auth_port}",
        "CP_ENROLMENT_KEY": KEY,
        "HEALTH_FILE": str(tmp_path / "alive"),
    }
    environment.pop("CP_ID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "cp_monitor"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped = stop_when_ready(
        process,
        lambda: stand_ins.seen.at("engine assigned"),
        "the monitor to authenticate and tell its engine",
    )
    stopped_at, stderr = stopped.signalled_at, stopped.stderr
    assert stopped.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "cp-monitor stopped" in stderr
    wait_until(
        lambda: stand_ins.seen.at("central-auth connection closed"), 2, "central-auth to see the close"
    )
    closed = stand_ins.seen.at("central-auth connection closed")
    assert closed is not None
    assert closed - stopped_at < 1.0, "central-auth must not have to wait for a heartbeat timeout"
    wait_until(lambda: stand_ins.seen.at("engine connection closed"), 2, "the engine to be detached")
