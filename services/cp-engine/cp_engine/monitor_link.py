"""The engine's side of the monitor link (evcharging.engine_link): answer health
checks, accept one monitor at a time, and take the CP identity it assigns.

A monitor that goes silent for IDLE_LIMIT seconds is dropped, so a monitor killed
without closing its socket cannot keep the engine's only slot.

An engine started as a CP (the seed's `python -m cp_engine <cp_id> <kafka_broker>`)
refuses a monitor of another CP — when it attaches saying its id, or when it assigns
that id — with Busy, and says so in its log naming both ids: taking the id silently
would make it a CP that nobody started.
"""

from __future__ import annotations

import asyncio
import logging

from cp_engine.runtime import EngineRuntime
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
from evcharging.framed import FramedConnection, PeerClosed, WriteTimeout
from evcharging.framing import FramingError

log = logging.getLogger("cp-engine.link")

IDLE_LIMIT = 5.0


class MonitorLink:
    def __init__(self, runtime: EngineRuntime) -> None:
        self.runtime = runtime
        self.attached: asyncio.StreamWriter | None = None

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._handle, host, port)

    async def serve(self, port: int) -> None:
        server = await self.start("0.0.0.0", port)
        log.info("answering health checks on port %d", port)
        async with server:
            await server.serve_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        connection = FramedConnection(reader, writer, CODEC, write_timeout=IDLE_LIMIT)
        try:
            while True:
                answer = self._answer(await connection.receive(IDLE_LIMIT), writer)
                await connection.send(answer)
                if isinstance(answer, Busy):
                    return
        except WriteTimeout:
            log.warning("monitor %s does not read its answers: dropped", peer)
        except TimeoutError:
            log.warning("monitor %s silent for %.0f s: dropped", peer, IDLE_LIMIT)
        except (FramingError, LinkError) as error:
            log.warning("monitor %s sent a bad frame: %s", peer, error)
        except (PeerClosed, ConnectionError):
            pass
        finally:
            if self.attached is writer:
                self.attached = None
                log.info("monitor %s detached", peer)
            connection.close()

    def _answer(self, record: LinkRecord, writer: asyncio.StreamWriter) -> LinkRecord:
        if isinstance(record, Attach):
            if self.attached is not None and self.attached is not writer:
                return Busy()
            if not self._accepts(record.cp_id, writer):
                return Busy(cp_id=self.runtime.settings.cp_id)
            self.attached = writer
            log.info("monitor %s attached", writer.get_extra_info("peername"))
            return self._identity()
        if self.attached is not writer:
            return Busy()
        if isinstance(record, Check):
            return Health(health=self.runtime.health)
        if isinstance(record, AssignIdentity):
            if not self._accepts(record.cp_id, writer):
                return Busy(cp_id=self.runtime.settings.cp_id)
            self.runtime.assign_identity(record.cp_id, record.credential)
            return self._identity()
        raise LinkError(f"{type(record).__name__} is not a request")

    def _accepts(self, cp_id: str | None, writer: asyncio.StreamWriter) -> bool:
        """Whether a monitor of `cp_id` may watch this engine; a refusal is logged."""
        reason = refusal(self.runtime.settings.cp_id, cp_id)
        if reason is not None:
            log.error("monitor %s refused: %s", writer.get_extra_info("peername"), reason)
        return reason is None

    def _identity(self) -> Attached:
        return Attached(cp_id=self.runtime.engine.cp_id, credential=self.runtime.credential)


def refusal(expected: str | None, offered: str | None) -> str | None:
    """Why an engine started as CP `expected` refuses a monitor of CP `offered`, or None
    when it does not: an engine started without a CP id takes the one its monitor
    assigns (scaled CPs), and a monitor that does not know its id yet is let in."""
    if expected is None or offered is None or offered == expected:
        return None
    return (
        f"it is a monitor of CP {offered}, and this engine was started as CP {expected}: "
        "start both with the same CP id"
    )
