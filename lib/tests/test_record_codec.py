"""One codec per family of records: declared once, strict on the way in, the family's own error."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import Field

from evcharging import engine_link, wire
from evcharging.framing import Frame, FrameDecoder
from evcharging.record_codec import FramedRecord, RecordCodec, RecordFault


class Note(FramedRecord):
    frame_type: ClassVar[int] = 0x01
    text: str = Field(max_length=10)


class Done(FramedRecord):
    frame_type: ClassVar[int] = 0x02


class NoteError(ValueError):
    def __init__(self, fault: RecordFault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail


CODEC: RecordCodec[Note | Done] = RecordCodec((Note, Done), error=NoteError)


def test_a_record_comes_back_from_its_frame() -> None:
    (frame,) = FrameDecoder().feed(CODEC.encode(Note(text="hello")))
    assert frame.type == 0x01
    assert CODEC.decode(frame) == Note(text="hello")
    assert CODEC.decode(Frame(0x02, b"{}")) == Done()


def test_the_family_is_known_by_frame_type() -> None:
    assert dict(CODEC.records) == {0x01: Note, 0x02: Done}


def test_two_records_cannot_share_a_frame_type() -> None:
    class Other(FramedRecord):
        frame_type: ClassVar[int] = 0x01

    with pytest.raises(ValueError, match="Other and Note both have frame type 0x01"):
        RecordCodec((Note, Other), error=NoteError)


def test_an_unknown_frame_type_raises_the_familys_error() -> None:
    with pytest.raises(NoteError) as raised:
        CODEC.decode(Frame(0x55, b"{}"))
    assert raised.value.fault is RecordFault.UNKNOWN_TYPE
    assert raised.value.detail == "no record has frame type 0x55"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "payload"),
        (b"[]", "payload"),
        (b'{"text": "far too long for it"}', "text"),
        (b'{"text": "ok", "extra": 1}', "extra"),
        (b"{}", "text"),
    ],
)
def test_a_bad_payload_names_the_record_and_field_not_the_value(payload: bytes, field: str) -> None:
    with pytest.raises(NoteError) as raised:
        CODEC.decode(Frame(0x01, payload))
    assert raised.value.fault is RecordFault.BAD_PAYLOAD
    assert raised.value.detail.startswith(f"Note: {field}: ")
    assert "far too long" not in raised.value.detail


def test_the_two_families_raise_their_own_errors() -> None:
    with pytest.raises(wire.WireError) as refused:
        wire.from_frame(Frame(engine_link.LinkFrame.CHECK, b"{}"))  # a link record is no wire record
    assert refused.value.reason is wire.Reason.UNKNOWN_TYPE
    with pytest.raises(engine_link.LinkError, match="Health: health: "):
        engine_link.from_frame(Frame(engine_link.LinkFrame.HEALTH, b'{"health": "MAYBE"}'))
    check = engine_link.Check()
    (frame,) = FrameDecoder().feed(engine_link.to_frame(check))
    assert engine_link.from_frame(frame) == check
