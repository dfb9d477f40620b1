"""Finds an engine, attaches to it, and checks its health every second.

The engine's address may be a service name that resolves to many scaled
replicas: the watch tries them in turn and keeps the first that accepts it
(an engine accepts one monitor at a time), so each engine gets exactly one
monitor. An engine that does not answer within the timeout counts as KO.

The watch tells an engine which CP it is for once it knows (`cp_id`): an engine
started as another CP refuses it (Busy naming that CP), and the watch keeps looking,
with backoff, so a mismatched pair shows as a CP whose engine is missing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from evcharging.engine_link import (
    CODEC,
    AssignIdentity,
    Attach,
    Attached,
    Busy,
    Check,
    Health,
    LinkError,
    LinkRecord,
)
from evcharging.framed import FramedConnection, PeerClosed
from evcharging.framing import FramingError
from evcharging.health import beat
from evcharging.messages import EngineHealth
from evcharging.retry import backoff_wait

log = logging.getLogger("cp-monitor.engine")


LOST = (PeerClosed, OSError, FramingError, LinkError)
"""What ends a connection to an engine: it closed it, broke it, or sent what is not a record."""


class _NoFreeEngine(Exception):
    """No engine the name resolves to accepted this monitor."""


class EngineConnection(FramedConnection[LinkRecord]):
    """One attached engine (at `address`): a request gets exactly one answer, in order."""

    __slots__ = ("address",)

    def __init__(self, address: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        super().__init__(reader, writer, CODEC)
        self.address = address


class EngineWatch:
    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 1.0,
        period: float = 1.0,
        on_change: Callable[[EngineHealth], None] = lambda _health: None,
        cp_id: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.cp_id = cp_id
        """The CP this monitor is, once known: said when attaching."""
        self.timeout, self.period = timeout, period
        self.health = EngineHealth.KO
        self.identity: Attached | None = None
        self.connection: EngineConnection | None = None
        self._on_change = on_change
        self._attached = asyncio.Event()
        self._last_address: tuple[str, int] | None = None

    async def wait_attached(self) -> Attached:
        """The engine's identity, once attached and checked a first time."""
        await self._attached.wait()
        assert self.identity is not None
        return self.identity

    async def run(self) -> None:
        """Attach, then check every period; re-attach when the engine is lost."""
        while True:
            if self.connection is None:
                await self._attach()
            await self._check()
            if self.connection is not None:
                self._attached.set()  # only now: the CP is announced with its engine's real health
            beat()
            await asyncio.sleep(self.period)

    def close(self) -> None:
        """Detach from the engine (the monitor is stopping): the engine frees its slot."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
            self._attached.clear()

    async def assign(self, cp_id: str, credential: str | None, price_per_kwh: object) -> None:
        """Tell the attached engine which CP it is."""
        if self.connection is None:
            return
        self.cp_id = cp_id
        request = AssignIdentity.model_validate(
            {"cp_id": cp_id, "credential": credential, "price_per_kwh": price_per_kwh}
        )
        reply = await self._request(request)
        if isinstance(reply, Attached):
            self.identity = reply
        elif isinstance(reply, Busy) and self.connection is not None:
            self._say_refused(self.connection.address, reply)
            self._detach()

    async def _check(self) -> None:
        reply = await self._request(Check())
        self._set(reply.health if isinstance(reply, Health) else EngineHealth.KO)

    async def _request(self, record: LinkRecord) -> LinkRecord | None:
        if self.connection is None:
            return None
        try:
            return await self.connection.request(record, self.timeout)
        except TimeoutError:
            log.warning("engine %s did not answer within %.1f s", self.connection.address, self.timeout)
        except LOST as error:
            log.warning("lost the engine %s: %s", self.connection.address, error)
            self._detach()
        return None

    def _detach(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None
        self._attached.clear()
        self._set(EngineHealth.KO)

    def _set(self, health: EngineHealth) -> None:
        if health != self.health:
            self.health = health
            log.info("engine health: %s", health.value)
            self._on_change(health)

    async def _attach(self) -> None:
        """Try the addresses the engine's name resolves to until one engine accepts us,
        with backoff (evcharging.retry) between rounds."""
        retrying = AsyncRetrying(
            wait=backoff_wait(initial=0.5, maximum=10.0, jitter=0.5),
            retry=retry_if_exception_type(_NoFreeEngine),
            before_sleep=self._no_free_engine,
        )
        async for attempt in retrying:
            with attempt:
                for address in await self._candidates():
                    if await self._try_attach(address):
                        return
                raise _NoFreeEngine

    def _no_free_engine(self, retry: RetryCallState) -> None:
        pause = retry.next_action.sleep if retry.next_action else 0.0
        log.info("no free engine at %s:%d yet; retrying in %.1f s", self.host, self.port, pause)

    async def _candidates(self) -> list[tuple[str, int]]:
        """The engine addresses to try: the one watched before first (its engine may
        be back), then the others in random order, so replicas spread out."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            log.warning("cannot resolve %s: %s", self.host, error)
            return []
        addresses = list({(str(info[4][0]), self.port) for info in infos})
        random.shuffle(addresses)
        addresses.sort(key=lambda address: address != self._last_address)
        return addresses

    async def _try_attach(self, address: tuple[str, int]) -> bool:
        try:
            async with asyncio.timeout(self.timeout * 2):
                reader, writer = await asyncio.open_connection(*address)
        except (OSError, TimeoutError):
            return False
        connection = EngineConnection(address, reader, writer)
        try:
            reply = await connection.request(Attach(cp_id=self.cp_id), self.timeout * 2)
        except (TimeoutError, *LOST):
            reply = None
        if not isinstance(reply, Attached):
            connection.close()
            if isinstance(reply, Busy) and reply.cp_id is not None:
                self._say_refused(address, reply)
            elif isinstance(reply, Busy):
                log.debug("engine %s already has a monitor", address)
            return False
        self.connection, self.identity, self._last_address = connection, reply, address
        log.info("attached to the engine at %s:%d (CP %s)", *address, reply.cp_id or "not yet assigned")
        return True

    def _say_refused(self, address: tuple[str, int], reply: Busy) -> None:
        log.warning(
            "the engine at %s:%d was started as CP %s and refuses this monitor of CP %s: "
            "start both with the same CP id",
            *address,
            reply.cp_id or "(another)",
            self.cp_id,
        )
