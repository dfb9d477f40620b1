"""One framed connection: records over an asyncio stream, with the limits every peer
of this project needs (central-auth and its client, the engine and its monitor).

    connection = FramedConnection(reader, writer, wire.CODEC, write_timeout=5.0)
    answer = await connection.request(Ping(), timeout=10.0)      # a client: one answer per request
    ...
    request = await connection.receive(timeout=30.0)              # a server: the next record
    await connection.send(reply)

What it bounds:

- reading: at most `read_chunk` bytes at a time, and at most one frame beyond that in
  the decoder (evcharging.framing refuses an oversized frame from its header);
- time: `receive` and `request` take a timeout; with `frame_timeout` a frame, once its
  first byte has arrived, must be whole within that many seconds (FrameTimeout); and
  `send` gives the peer `write_timeout` seconds to take our bytes (WriteTimeout);
- trust: records are decoded one frame at a time, when asked for. A frame that is not a
  record of the family raises the family's error (evcharging.record_codec) for that frame
  alone: the next `receive` returns the next frame. A FramingError means the stream is
  lost: every later `receive` raises it again.

Timeouts are asyncio.timeout, never asyncio.wait_for: on Python 3.11 wait_for can swallow a
cancellation that meets a read just completed, and a stopping service then never stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic

from evcharging.framing import Frame, FrameDecoder, FramingError
from evcharging.record_codec import R, RecordCodec

READ_CHUNK = 4096
"""Bytes read at once; a peer cannot make a connection buffer more than this plus one frame."""


class PeerClosed(EOFError):
    """The peer closed the connection. `mid_frame`: it left a frame unfinished."""

    def __init__(self, mid_frame: bool) -> None:
        self.mid_frame = mid_frame
        super().__init__(
            "the peer closed the connection" + (" in the middle of a frame" if mid_frame else "")
        )


class FrameTimeout(TimeoutError):
    """A frame begun was not whole within the connection's `frame_timeout`."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"frame not completed within {limit:g} s")


class WriteTimeout(TimeoutError):
    """The peer did not take what we sent within the connection's `write_timeout`."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"the peer took nothing for {limit:g} s: it does not read")


class FramedConnection(Generic[R]):
    """Records of one family (`codec`) over one stream.

    `receive` returns the next record; `send` writes one; `request` sends one and returns
    the answer to it, one request at a time (a second waits for the first). An answer that
    came too late for its request (the request timed out) is skipped by the next request,
    so every request gets its own answer.

    `clock` gives the times `receive(deadline=...)` is in, and times `frame_timeout`.
    """

    __slots__ = (
        "_broken",
        "_clock",
        "_codec",
        "_decoder",
        "_frame_started",
        "_frame_timeout",
        "_frames",
        "_lock",
        "_owed",
        "_read_chunk",
        "_reader",
        "_taken",
        "_write_timeout",
        "_writer",
        "arrived",
    )

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        codec: RecordCodec[R],
        *,
        read_chunk: int = READ_CHUNK,
        write_timeout: float | None = None,
        frame_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._codec = codec
        self._read_chunk = read_chunk
        self._write_timeout = write_timeout
        self._frame_timeout = frame_timeout
        self._clock = clock
        self._decoder = FrameDecoder()
        self._frames: list[Frame] = []
        """The frames the last chunk completed; those before `_taken` are handed out."""
        self._taken = 0
        self._frame_started: float | None = None
        self._broken: FramingError | None = None
        self._owed = 0
        """Requests sent whose answer has not been read yet (one is the current request)."""
        self._lock: asyncio.Lock | None = None
        self.arrived = False
        """Whether a whole frame has come from the peer on this connection."""

    # --- reading ---------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None, *, deadline: float | None = None) -> R:
        """The next record, within `timeout` seconds or before `deadline` (in `clock`'s
        time), or forever when neither is given; TimeoutError if none came in time.

        Raises PeerClosed at the end of the stream, FrameTimeout (a TimeoutError) for a frame
        left unfinished too long, FramingError when the stream has lost its framing, and the
        codec's error when the next frame is not a record (the one after it is still there).
        """
        frames = self._frames
        taken = self._taken
        if taken < len(frames):  # one the last chunk completed
            self._taken = taken + 1
            return self._codec.decode(frames[taken])
        if timeout is not None:
            by = self._clock() + timeout
            deadline = by if deadline is None else min(deadline, by)
        await self._read_frames(deadline)
        self._taken = 1
        return self._codec.decode(self._frames[0])

    async def _read_frames(self, deadline: float | None) -> None:
        """Read until a chunk completes at least one frame, one timeout per read."""
        if self._broken is not None:
            raise self._broken
        decoder = self._decoder
        while True:
            limit = deadline
            frame_limit = False
            if self._frame_timeout is not None:
                # As the last chunk left it: no frame begun, or one begun (anew, if that
                # chunk completed frames before it) whose clock is running.
                if decoder.pending == 0:
                    self._frame_started = None
                elif self._frame_started is None or self._frames:
                    self._frame_started = self._clock()
                if self._frame_started is not None:
                    frame_due = self._frame_started + self._frame_timeout
                    if limit is None or frame_due < limit:
                        limit, frame_limit = frame_due, True
            if limit is None:
                chunk = await self._reader.read(self._read_chunk)
            else:
                try:
                    async with asyncio.timeout(max(0.0, limit - self._clock())):
                        chunk = await self._reader.read(self._read_chunk)
                except TimeoutError:
                    if frame_limit:
                        assert self._frame_timeout is not None
                        raise FrameTimeout(self._frame_timeout) from None
                    raise
            if not chunk:
                raise PeerClosed(mid_frame=decoder.pending > 0)
            try:
                self._frames = decoder.feed(chunk)
            except FramingError as error:
                self._broken = error
                self._frames = []
                raise
            if self._frames:
                self.arrived = True
                return

    # --- writing ---------------------------------------------------------------------------

    async def send(self, record: R) -> None:
        """Write `record` and wait until the peer takes it (WriteTimeout after `write_timeout`)."""
        self._writer.write(self._codec.encode(record))
        await self._drain()

    async def _drain(self) -> None:
        if self._write_timeout is None:
            await self._writer.drain()
            return
        try:
            async with asyncio.timeout(self._write_timeout):
                await self._writer.drain()
        except TimeoutError:
            raise WriteTimeout(self._write_timeout) from None

    async def request(self, record: R, timeout: float | None = None) -> R:
        """Send `record` and return its answer, the whole within `timeout` seconds
        (TimeoutError). Raises what `send` and `receive` raise."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock, asyncio.timeout(timeout):
            self._writer.write(self._codec.encode(record))
            self._owed += 1
            await self._drain()
            while True:
                if self._taken == len(self._frames):
                    await self._read_frames(None)
                    self._taken = 0
                frame = self._frames[self._taken]
                self._taken += 1
                self._owed -= 1
                if self._owed == 0:
                    return self._codec.decode(frame)

    # --- ending ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close after what was written has gone out."""
        self._writer.close()

    def abort(self) -> None:
        """Close now, dropping anything not yet sent."""
        self._writer.transport.abort()
