"""The requests and answers of the central-auth TCP protocol, defined once for the
server and for the CP monitor's client (docs/central-auth.md).

Each record is one frame type: the type code travels in the frame header and the
record, as JSON, in the payload. A connection carries one request at a time and
every request gets exactly one answer: its reply, or an `Error` with a reason
code. The server may also send an `Error` on its own just before it closes a
connection (a deadline passed, the stream lost its framing, the server is full).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from evcharging.framing import FramingFault
from evcharging.messages import EngineHealth, Identifier, PricePerKwh
from evcharging.record_codec import FramedRecord, RecordCodec, RecordFault

Secret = Annotated[str, Field(min_length=16, max_length=256, repr=False)]
"""An enrolment key or a CP credential: never printed by repr()."""

Location = Annotated[str, Field(min_length=1, max_length=120)]


class FrameType(IntEnum):
    PING = 0x01
    PONG = 0x02
    REGISTER = 0x10
    REGISTERED = 0x11
    AUTHENTICATE = 0x12
    AUTHENTICATED = 0x13
    CLAIM = 0x14
    CLAIMED = 0x15
    HEARTBEAT = 0x20
    HEARTBEAT_ACK = 0x21
    ERROR = 0x7F


class Reason(StrEnum):
    """Why a request was refused or a connection closed; carried by `Error`.

    `TRANSIENT` lists the reasons worth retrying after a pause: the same request
    may succeed later. The others need someone to change something first.
    """

    # the stream (the connection is closed after these)
    BAD_MAGIC = FramingFault.BAD_MAGIC.value
    UNSUPPORTED_VERSION = FramingFault.UNSUPPORTED_VERSION.value
    FRAME_TOO_LARGE = FramingFault.FRAME_TOO_LARGE.value
    BAD_CHECKSUM = FramingFault.BAD_CHECKSUM.value
    TIMEOUT = "timeout"
    HEARTBEAT_TIMEOUT = "heartbeat_timeout"
    SERVER_BUSY = "server_busy"
    # one request (the connection stays open)
    UNKNOWN_TYPE = RecordFault.UNKNOWN_TYPE.value
    BAD_PAYLOAD = RecordFault.BAD_PAYLOAD.value
    UNEXPECTED_REQUEST = "unexpected_request"
    BAD_ENROLMENT_KEY = "bad_enrolment_key"
    RESERVED_ID = "reserved_id"
    ALREADY_REGISTERED = "already_registered"
    UNKNOWN_CP = "unknown_cp"
    NOT_ENROLLED = "not_enrolled"
    BAD_CREDENTIAL = "bad_credential"
    ALREADY_CONNECTED = "already_connected"
    UNAVAILABLE = "unavailable"


TRANSIENT: frozenset[Reason] = frozenset(
    {
        Reason.TIMEOUT,
        Reason.HEARTBEAT_TIMEOUT,
        Reason.SERVER_BUSY,
        Reason.ALREADY_CONNECTED,
        Reason.UNAVAILABLE,
    }
)


class Record(FramedRecord):
    """A protocol record. `frame_type` is the header code that carries it."""

    frame_type: ClassVar[FrameType]


# --- any time ---------------------------------------------------------------------


class Ping(Record):
    """Is the server serving? Answered with Pong; needs no authentication."""

    frame_type = FrameType.PING


class Pong(Record):
    frame_type = FrameType.PONG


# --- before authentication --------------------------------------------------------


class Register(Record):
    """Enrol a CP under an explicit id, with the operator's enrolment key.
    Answered with Registered, which holds the CP's own credential: keep it."""

    frame_type = FrameType.REGISTER
    enrolment_key: Secret
    cp_id: Identifier
    location: Location
    price_per_kwh: PricePerKwh


class Registered(Record):
    frame_type = FrameType.REGISTERED
    cp_id: Identifier
    credential: Secret


class Authenticate(Record):
    """Open this connection's session as `cp_id`. Answered with Authenticated."""

    frame_type = FrameType.AUTHENTICATE
    cp_id: Identifier
    credential: Secret
    engine_health: EngineHealth


class Authenticated(Record):
    """The session is open: send a Heartbeat every `heartbeat_interval` seconds;
    after `heartbeat_timeout` seconds without one the server drops the CP."""

    frame_type = FrameType.AUTHENTICATED
    cp_id: Identifier
    connection_id: str = Field(min_length=1, max_length=64)
    heartbeat_interval: float = Field(gt=0)
    heartbeat_timeout: float = Field(gt=0)


class Claim(Record):
    """A CP without an id (a scaled replica) asks for one: the lowest auto-provisioned
    id not in use, or a new one. The claim also opens the session, so no other
    replica can take the id between the answer and the authentication."""

    frame_type = FrameType.CLAIM
    enrolment_key: Secret
    location: Location
    price_per_kwh: PricePerKwh
    engine_health: EngineHealth


class Claimed(Record):
    """The claimed id, its fresh credential (to re-authenticate after a reconnection)
    and the session's terms, as in Authenticated."""

    frame_type = FrameType.CLAIMED
    cp_id: Identifier
    credential: Secret
    connection_id: str = Field(min_length=1, max_length=64)
    heartbeat_interval: float = Field(gt=0)
    heartbeat_timeout: float = Field(gt=0)


# --- after authentication ---------------------------------------------------------


class Heartbeat(Record):
    """The monitor is alive, and this is its engine's health right now."""

    frame_type = FrameType.HEARTBEAT
    engine_health: EngineHealth


class HeartbeatAck(Record):
    """Received. When the session's terms changed (central-auth stretches them as
    more CPs connect), the new ones, which hold from now on."""

    frame_type = FrameType.HEARTBEAT_ACK
    heartbeat_interval: float | None = Field(default=None, gt=0)
    heartbeat_timeout: float | None = Field(default=None, gt=0)


# --- the refusal ------------------------------------------------------------------


class Error(Record):
    frame_type = FrameType.ERROR
    reason: Reason
    detail: str = Field(default="", max_length=200)


Request = Ping | Register | Authenticate | Claim | Heartbeat
Reply = Pong | Registered | Authenticated | Claimed | HeartbeatAck | Error


class WireError(ValueError):
    """A well-framed frame that is not a valid record. The stream is still in sync,
    so the connection can answer it and go on."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")


def _wire_error(fault: RecordFault, detail: str) -> WireError:
    return WireError(Reason(fault.value), detail)


CODEC: RecordCodec[Record] = RecordCodec(
    (
        Ping,
        Pong,
        Register,
        Registered,
        Authenticate,
        Authenticated,
        Claim,
        Claimed,
        Heartbeat,
        HeartbeatAck,
        Error,
    ),
    error=_wire_error,
)
"""Every record of the protocol, by frame type; WireError for a frame that is none of them."""

RECORDS = CODEC.records
to_frame = CODEC.encode
"""The bytes of a frame carrying a record."""
from_frame = CODEC.decode
"""The record a frame carries; WireError if its type is unknown or its payload invalid."""
