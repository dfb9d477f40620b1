"""Scriptable control of a running engine: `charger <action>` inside its container
talks to the engine over a local Unix socket, one JSON line each way.

The actions are the keys of the live screen: plug, unplug, fault, clear,
request <driver>, and status. The live screen (`charger screen`) is itself a client
of this socket, so both halves of the protocol live here: `serve` in the engine,
`ask` in the client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cp_engine.charging import Engine, charging_seconds
from cp_engine.runtime import EngineRuntime
from evcharging.messages import Identifier

log = logging.getLogger("cp-engine.control")

Action = Literal["status", "plug", "unplug", "fault", "clear", "request"]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    driver_id: Identifier | None = None


class Snapshot(BaseModel):
    cp_id: str | None
    phase: str
    health: str
    session_id: str | None = None
    driver_id: str | None = None
    kw: Decimal | None = None
    kwh: Decimal | None = None
    eur: Decimal | None = None
    duration_s: Decimal | None = None
    """Charging time so far, in the CP's time (see time_factor)."""
    time_factor: Decimal = Decimal(1)
    kafka_problem: str | None = None
    """Why Kafka refuses the engine's sign-in, in one sentence; None while it lets it in.
    The engine keeps working meanwhile (a supply goes on, its messages wait), so this is
    shown beside the CP's status, not instead of it."""

    @classmethod
    def of(cls, engine: Engine, kafka_problem: str | None = None) -> Snapshot:
        session = engine.session
        return cls(
            cp_id=engine.cp_id,
            phase=str(engine.phase),
            health="KO" if engine.faulty else "OK",
            session_id=session.session_id if session else None,
            driver_id=session.driver_id if session else None,
            kw=session.kw if session else None,
            kwh=session.kwh if session else None,
            eur=session.eur if session else None,
            duration_s=charging_seconds(session) if session else None,
            time_factor=engine.time_factor,
            kafka_problem=kafka_problem,
        )


class Reply(BaseModel):
    ok: bool
    message: str = ""
    status: Snapshot | None = None
    errors: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    """The engine's recent notes, oldest first: the live screen runs in another
    process and shows them, so they travel with every reply."""


async def serve(runtime: EngineRuntime, path: Path) -> None:
    path.unlink(missing_ok=True)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            writer.write(answer(runtime, line).model_dump_json().encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(handle, path, limit=4096)
    async with server:
        await server.serve_forever()


def answer(runtime: EngineRuntime, line: bytes) -> Reply:
    try:
        request = Request.model_validate_json(line)
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in error.errors()]
        return Reply(ok=False, message="bad request", errors=problems)
    if request.action == "request" and request.driver_id is None:
        return Reply(ok=False, message="request needs a driver id")
    step = runtime.perform(request.action, request.driver_id)
    return Reply(
        ok=not step.refused,
        message=step.note,
        status=Snapshot.of(runtime.engine, runtime.kafka_problem),
        notes=list(runtime.notes),
    )


def ask(path: Path, request: dict[str, str | None], timeout: float = 5.0) -> Reply:
    """One request to the engine listening on `path`, and its reply.

    The request is sent as given, not validated here: the engine validates it and
    says what is wrong. An engine that hangs up without answering (it is stopping)
    raises ConnectionError, like one that is not there at all.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(str(path))
        connection.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        raise ConnectionError("it closed the connection without answering")
    return Reply.model_validate_json(data)
