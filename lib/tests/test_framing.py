"""The frame codec: what it accepts, what it refuses, and how early."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from evcharging.framing import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    Frame,
    FrameDecoder,
    FramingError,
    FramingFault,
    encode_frame,
)


def test_a_frame_round_trips() -> None:
    assert FrameDecoder().feed(encode_frame(0x12, b'{"a": 1}')) == [Frame(0x12, b'{"a": 1}')]


def test_an_empty_payload_is_a_frame() -> None:
    assert FrameDecoder().feed(encode_frame(0x01, b"")) == [Frame(0x01, b"")]


def test_frames_fed_one_byte_at_a_time_come_out_whole() -> None:
    decoder = FrameDecoder()
    stream = encode_frame(1, b"first") + encode_frame(2, b"second")
    frames = [frame for byte in stream for frame in decoder.feed(bytes([byte]))]
    assert frames == [Frame(1, b"first"), Frame(2, b"second")]
    assert decoder.pending == 0


def test_several_frames_in_one_chunk_all_come_out() -> None:
    chunk = b"".join(encode_frame(n, bytes([n]) * n) for n in range(1, 6))
    assert [frame.type for frame in FrameDecoder().feed(chunk)] == [1, 2, 3, 4, 5]


def test_a_frame_cut_in_half_waits_for_its_other_half() -> None:
    decoder = FrameDecoder()
    whole = encode_frame(7, b"x" * 100)
    assert decoder.feed(whole[:50]) == []
    assert decoder.pending == 50
    assert decoder.feed(whole[50:]) == [Frame(7, b"x" * 100)]


def test_the_largest_payload_is_accepted() -> None:
    assert FrameDecoder().feed(encode_frame(1, b"a" * MAX_PAYLOAD))[0].payload == b"a" * MAX_PAYLOAD


def test_encoding_an_oversized_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(1, b"a" * (MAX_PAYLOAD + 1))


def _fault(data: bytes) -> FramingFault:
    with pytest.raises(FramingError) as raised:
        FrameDecoder().feed(data)
    return raised.value.fault


def test_a_wrong_magic_is_refused_from_the_first_byte() -> None:
    assert _fault(b"G") is FramingFault.BAD_MAGIC  # e.g. "GET / HTTP/1.1"


def test_another_protocol_version_is_refused() -> None:
    frame = bytearray(encode_frame(1, b"{}"))
    frame[2] = 2
    assert _fault(bytes(frame[:3])) is FramingFault.UNSUPPORTED_VERSION


def test_an_oversized_length_is_refused_before_any_payload_arrives() -> None:
    header = struct.pack(">2sBBI", b"EV", 1, 1, MAX_PAYLOAD + 1)
    assert _fault(header) is FramingFault.FRAME_TOO_LARGE


def test_a_flipped_payload_bit_fails_the_checksum() -> None:
    frame = bytearray(encode_frame(1, b'{"cp_id": "CP001"}'))
    frame[-3] ^= 0x01
    assert _fault(bytes(frame)) is FramingFault.BAD_CHECKSUM


def test_the_checksum_covers_the_type_too() -> None:
    frame = bytearray(encode_frame(0x10, b"{}"))
    frame[3] = 0x12
    assert _fault(bytes(frame)) is FramingFault.BAD_CHECKSUM


def test_the_checksum_is_crc32_of_header_and_payload() -> None:
    frame = encode_frame(0x20, b"payload")
    (crc,) = struct.unpack(">I", frame[8:12])
    assert crc == zlib.crc32(frame[:8] + frame[HEADER_SIZE:])


def test_a_broken_decoder_stays_broken() -> None:
    decoder = FrameDecoder()
    with pytest.raises(FramingError):
        decoder.feed(b"XX")
    with pytest.raises(FramingError):
        decoder.feed(encode_frame(1, b""))
    assert decoder.pending == 0


def test_random_bytes_only_ever_raise_framing_errors_and_never_buffer_more_than_a_frame() -> None:
    generator = random.Random(1234)
    for _ in range(2000):
        decoder = FrameDecoder()
        data = (b"EV\x01" if generator.random() < 0.5 else b"") + generator.randbytes(
            generator.randint(0, 64)
        )
        try:
            decoder.feed(data)
        except FramingError:
            continue
        assert decoder.pending <= len(data)
