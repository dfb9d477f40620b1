"""A gateway served on this host for its unit tests: a real TLS WebSocket server with
central-auth and Kafka replaced by stand-ins (tests/integration/test_ocpp_gateway.py runs
the real ones)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evcharging import messages as m
from evcharging.messages import EngineHealth
from evcharging.topics import Topic
from ocpp_gateway.central import Refused, Unreachable
from ocpp_gateway.ledger import Ledger
from ocpp_gateway.server import Gateway, server_context
from ocpp_gateway.settings import GatewaySettings
from tests.support.stack import free_port

PASSWORD = "right-password-16"  # noqa: S105 - a test password


class StandInSession:
    """central-auth as far as the gateway sees it: PASSWORD opens the CP, "unreachable"
    makes central-auth silent, anything else is refused."""

    def __init__(self, sessions: list[StandInSession], cp_id: str, password: str) -> None:
        self.cp_id = cp_id
        self.password = password
        self.health: list[EngineHealth] = []
        self.closed = asyncio.Event()
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sessions.append(self)

    async def open(self) -> None:
        if self.password == "unreachable":  # noqa: S105 - the stand-in's cue, not a secret
            raise Unreachable(f"central-auth did not accept {self.cp_id} within 10 s")
        if self.password != PASSWORD:
            raise Refused(f"central-auth refused {self.cp_id}: wrong credential")

    @property
    def ended(self) -> asyncio.Future[None]:
        return self._ended

    @property
    def refused(self) -> bool:
        return self._ended.done()

    def refuse_from_now_on(self) -> None:
        self._ended.set_result(None)

    def report(self, health: EngineHealth) -> None:
        self.health.append(health)

    async def close(self) -> None:
        self.closed.set()


class RecordingOutbox:
    """Kafka as far as the gateway sees it: every record it delivers, in order."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, m.Message]] = []
        self.arrived = asyncio.Event()

    async def deliver(self, topic: Topic, message: m.Message) -> None:
        self.delivered.append((topic.name, message))
        self.arrived.set()

    def of(self, kind: type[Any]) -> list[Any]:
        return [message for _topic, message in self.delivered if isinstance(message, kind)]

    async def wait_for(self, kind: type[Any], count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The first `count` records of `kind`, once delivered."""
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.of(kind)[:count]


@dataclass
class Served:
    url: str
    gateway: Gateway
    outbox: RecordingOutbox
    ledger: Ledger
    sessions: list[StandInSession] = field(default_factory=list)


@contextlib.asynccontextmanager
async def serving(
    pki: Path, transactions: list[m.OcppTransaction] | None = None, **settings: Any
) -> AsyncIterator[Served]:
    """A gateway on a free port of this host, which read `transactions` as it started
    (what an earlier gateway delivered, for a restarted one)."""
    configured = GatewaySettings(
        port=free_port(),
        tls_cert=pki / "central.crt",
        tls_key=pki / "central.key",
        **{"authorize_within": 5.0, **settings},
    )
    outbox = RecordingOutbox()
    kept = Ledger(outbox, {transaction.cp_id: transaction for transaction in transactions or []})
    sessions: list[StandInSession] = []

    def session_for(_settings: GatewaySettings, cp_id: str, password: str) -> StandInSession:
        return StandInSession(sessions, cp_id, password)

    gateway = Gateway(configured, outbox, kept, session_for)
    server = await gateway.start(server_context(configured.tls_cert, configured.tls_key), "127.0.0.1")
    try:
        yield Served(f"wss://localhost:{configured.port}", gateway, outbox, kept, sessions)
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def served(pki: Path, **settings: Any) -> AsyncIterator[tuple[str, list[StandInSession]]]:
    """The gateway's address and the CP sessions it opened."""
    async with serving(pki, **settings) as gateway:
        yield gateway.url, gateway.sessions
