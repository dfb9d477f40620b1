"""Records on frames: one codec per family of records (evcharging.wire for central-auth,
evcharging.engine_link for the monitor ↔ engine link).

A family declares each record once, as a pydantic model with its frame type:

    class Ping(Record):
        frame_type = FrameType.PING

    CODEC = RecordCodec((Ping, Pong, ...), error=family_error)

and the codec turns a record into the bytes of its frame (`encode`), and a checked frame
(evcharging.framing) back into its record (`decode`). A frame whose type no record of
the family has, or whose payload is not that record, raises the family's own error,
made by `error(fault, detail)`: the stream is still in sync, so the connection may
answer it and go on with the next frame.

This module is pure, like evcharging.framing: no sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from evcharging.framing import Frame, encode_frame

DETAIL_LIMIT = 200
"""A fault's detail is cut to this many characters (it may travel in an answer)."""


class FramedRecord(BaseModel):
    """A record that travels alone in a frame; `frame_type` is the header code that carries it.
    Strict: unknown fields are refused, and a record never changes once made."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    frame_type: ClassVar[int]


R = TypeVar("R", bound=FramedRecord)


class RecordFault(StrEnum):
    """Why a well-framed frame is not a record of the family."""

    UNKNOWN_TYPE = "unknown_type"
    BAD_PAYLOAD = "bad_payload"


class RecordCodec(Generic[R]):
    """The records of one family, by frame type; `encode` and `decode` them.

    `error(fault, detail)` makes the exception `decode` raises for a frame that is not a
    record of the family; `detail` names the frame type, or the record and its first
    field at fault, and never echoes a field's value (secrets travel in records).
    """

    __slots__ = ("_error", "_records")

    def __init__(self, records: Iterable[type[R]], error: Callable[[RecordFault, str], Exception]) -> None:
        by_type: dict[int, type[R]] = {}
        for record in records:
            taken = by_type.setdefault(record.frame_type, record)
            if taken is not record:
                raise ValueError(
                    f"{record.__name__} and {taken.__name__} both have frame type 0x{record.frame_type:02x}"
                )
        self._records = by_type
        self._error = error

    @property
    def records(self) -> Mapping[int, type[R]]:
        """Every record of the family, by its frame type."""
        return MappingProxyType(self._records)

    def encode(self, record: R) -> bytes:
        """The bytes of a frame carrying `record`."""
        return encode_frame(record.frame_type, record.model_dump_json().encode())

    def decode(self, frame: Frame) -> R:
        """The record a frame carries; the family's error if its type is unknown or its payload invalid."""
        record_type = self._records.get(frame.type)
        if record_type is None:
            raise self._error(RecordFault.UNKNOWN_TYPE, f"no record has frame type 0x{frame.type:02x}")
        try:
            return record_type.model_validate_json(frame.payload)
        except ValidationError as error:
            raise self._error(RecordFault.BAD_PAYLOAD, _first_problem(record_type, error)) from None


def _first_problem(record_type: type[FramedRecord], error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    return f"{record_type.__name__}: {field}: {first['msg']}"[:DETAIL_LIMIT]
