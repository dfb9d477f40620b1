"""The engine's side of the monitor link (evcharging.engine_link): answer health
checks, accept one monitor at a time, and take the CP identity it assigns.

A monitor that goes silent for IDLE_LIMIT seconds is dropped, so a monitor killed
without closing its socket cannot keep the engine's only slot.
"""

from __future__ import annotations

import asyncio
import logging

from cp_engine.runtime import EngineRuntime
from evcharging.engine_link import (
    AssignIdentity,
    Attach,
    Attached,
    Busy,
    Check,
    Health,
    LinkError,
    LinkRecord,
    from_frame,
    to_frame,
)
from evcharging.framing import FrameDecoder, FramingError

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
        decoder = FrameDecoder()
        try:
            while True:
                # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that
                # meets a read just completed, and the handler then serves its monitor on
                # and on, so a stopping engine never finished (SIGKILL after 10 s).
                async with asyncio.timeout(IDLE_LIMIT):
                    data = await reader.read(4096)
                if not data:
                    return
                for frame in decoder.feed(data):
                    answer = self._answer(from_frame(frame), writer)
                    writer.write(to_frame(answer))
                    if isinstance(answer, Busy):
                        await writer.drain()
                        return
                await writer.drain()
        except TimeoutError:
            log.warning("monitor %s silent for %.0f s: dropped", peer, IDLE_LIMIT)
        except (FramingError, LinkError) as error:
            log.warning("monitor %s sent a bad frame: %s", peer, error)
        except ConnectionError:
            pass
        finally:
            if self.attached is writer:
                self.attached = None
                log.info("monitor %s detached", peer)
            writer.close()

    def _answer(self, record: LinkRecord, writer: asyncio.StreamWriter) -> LinkRecord:
        if isinstance(record, Attach):
            if self.attached is not None and self.attached is not writer:
                return Busy()
            self.attached = writer
            log.info("monitor %s attached", writer.get_extra_info("peername"))
            return self._identity()
        if self.attached is not writer:
            return Busy()
        if isinstance(record, Check):
            return Health(health=self.runtime.health)
        if isinstance(record, AssignIdentity):
            self.runtime.assign_identity(record.cp_id, record.credential, record.price_per_kwh)
            return self._identity()
        raise LinkError(f"{type(record).__name__} is not a request")

    def _identity(self) -> Attached:
        return Attached(cp_id=self.runtime.engine.cp_id, credential=self.runtime.credential)
