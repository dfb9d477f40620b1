"""The byte layout of the central-auth TCP protocol: frames, and an incremental decoder.

Every frame is a 12-byte header followed by a payload (docs/central-auth.md):

    offset  size  field
    0       2     magic      b"EV"
    2       1     version    PROTOCOL_VERSION
    3       1     type       which record the payload is (see evcharging.wire)
    4       4     length     payload size in bytes, big-endian, at most MAX_PAYLOAD
    8       4     crc32      CRC-32 of header bytes 0..7 followed by the payload, big-endian

The decoder rejects a frame as early as its header shows it is bad: a wrong magic
or version, or an announced length over the cap, is refused before a single payload
byte is buffered, so a peer can never make us hold more than one frame's worth.

This module is pure: bytes in, frames or a FramingError out. Sockets live elsewhere.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import StrEnum

MAGIC = b"EV"
PROTOCOL_VERSION = 1
MAX_PAYLOAD = 16 * 1024
"""No request or answer comes near this; a bigger announced length is an attack or a bug."""

_PREFIX = struct.Struct(">2sBBI")  # magic, version, type, length: the part the CRC covers first
_CRC = struct.Struct(">I")
HEADER_SIZE = _PREFIX.size + _CRC.size


class FramingFault(StrEnum):
    """Why a byte stream is not a sequence of frames. After any of these the stream
    has lost its framing, so the connection must be closed."""

    BAD_MAGIC = "bad_magic"
    UNSUPPORTED_VERSION = "unsupported_version"
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_CHECKSUM = "bad_checksum"


class FramingError(ValueError):
    def __init__(self, fault: FramingFault, detail: str) -> None:
        self.fault = fault
        self.detail = detail
        super().__init__(f"{fault.value}: {detail}")


@dataclass(frozen=True)
class Frame:
    """One checked frame: its type code and its (still undecoded) payload."""

    type: int
    payload: bytes


def encode_frame(frame_type: int, payload: bytes) -> bytes:
    """The bytes of one frame. Raises ValueError for a payload over MAX_PAYLOAD,
    since the peer would refuse it anyway."""
    if not 0 <= frame_type <= 0xFF:
        raise ValueError(f"frame type {frame_type} does not fit in one byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    prefix = _PREFIX.pack(MAGIC, PROTOCOL_VERSION, frame_type, len(payload))
    return prefix + _CRC.pack(zlib.crc32(payload, zlib.crc32(prefix))) + payload


class FrameDecoder:
    """Turns a byte stream, fed in chunks of any size, into frames.

    `feed` returns the frames completed by the new bytes and keeps the rest for the
    next call. The buffer never holds more than one frame plus the chunk being fed.
    Once it has raised FramingError the decoder stays broken: the stream is lost.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._broken: FramingError | None = None

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        frames: list[Frame] = []
        try:
            while (frame := self._next_frame()) is not None:
                frames.append(frame)
        except FramingError as error:
            self._broken = error
            self._buffer.clear()
            raise
        return frames

    def _next_frame(self) -> Frame | None:
        _check_prefix(self._buffer)
        if len(self._buffer) < HEADER_SIZE:
            return None
        _magic, _version, frame_type, length = _PREFIX.unpack_from(self._buffer)
        end = HEADER_SIZE + length
        if len(self._buffer) < end:
            return None
        (expected,) = _CRC.unpack_from(self._buffer, _PREFIX.size)
        payload = bytes(self._buffer[HEADER_SIZE:end])
        actual = zlib.crc32(payload, zlib.crc32(self._buffer[: _PREFIX.size]))
        if actual != expected:
            raise FramingError(FramingFault.BAD_CHECKSUM, f"crc32 {actual:08x}, header says {expected:08x}")
        del self._buffer[:end]
        return Frame(frame_type, payload)


def _check_prefix(buffer: bytearray) -> None:
    """Refuse a header as soon as the bytes received so far prove it wrong."""
    received_magic = bytes(buffer[: len(MAGIC)])
    if received_magic != MAGIC[: len(received_magic)]:
        raise FramingError(FramingFault.BAD_MAGIC, f"stream starts with {received_magic!r}, not {MAGIC!r}")
    if len(buffer) > 2 and buffer[2] != PROTOCOL_VERSION:
        raise FramingError(
            FramingFault.UNSUPPORTED_VERSION,
            f"protocol version {buffer[2]}, this end speaks {PROTOCOL_VERSION}",
        )
    if len(buffer) >= _PREFIX.size:
        length = int.from_bytes(buffer[4:8], "big")
        if length > MAX_PAYLOAD:
            raise FramingError(
                FramingFault.FRAME_TOO_LARGE, f"payload of {length} bytes announced, limit {MAX_PAYLOAD}"
            )
