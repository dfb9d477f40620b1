"""The TCP link between a CP's monitor and its engine, on the same framing as
central-auth's protocol (evcharging.framing: size cap, CRC32).

    monitor                          engine
      Attach  ───────────────────▶            one monitor at a time (its CP id, if it knows it)
              ◀─────────────────── Attached   (the CP identity the engine holds, if any)
              ◀─────────────────── Busy       (another monitor is attached, or the engine was
                                               started as another CP; then closes)
      AssignIdentity ────────────▶            after central-auth accepted the CP
              ◀─────────────────── Attached
              ◀─────────────────── Busy       (the engine was started as another CP; closes)
      Check  (every second) ─────▶
              ◀─────────────────── Health     (OK, or KO while a fault is injected)

The engine is the charging point, so it keeps the CP's identity (id and credential)
for as long as it runs: a monitor that replaces a dead one picks it up and
re-authenticates as the same CP instead of claiming a new id. An engine started with a
CP id (the seed's `python -m cp_engine <cp_id> <kafka_broker>`) takes no other: a monitor
of another CP is refused with Busy, which names the engine's CP, and looks elsewhere.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from pydantic import Field

from evcharging.messages import EngineHealth, Identifier, PricePerKwh
from evcharging.record_codec import FramedRecord, RecordCodec, RecordFault


class LinkFrame(IntEnum):
    ATTACH = 0x40
    ATTACHED = 0x41
    BUSY = 0x42
    ASSIGN_IDENTITY = 0x43
    CHECK = 0x44
    HEALTH = 0x45


class LinkRecord(FramedRecord):
    frame_type: ClassVar[LinkFrame]


class Attach(LinkRecord):
    """A monitor asks to watch this engine."""

    frame_type = LinkFrame.ATTACH
    cp_id: Identifier | None = None
    """The CP the monitor is, once it knows (its CP_ID, or the id central-auth accepted):
    an engine started as another CP refuses it at once, before it authenticates."""


class Attached(LinkRecord):
    """The engine accepted the monitor; it tells the CP identity it holds, if any."""

    frame_type = LinkFrame.ATTACHED
    cp_id: Identifier | None = None
    credential: str | None = Field(default=None, max_length=200)


class Busy(LinkRecord):
    """The engine already has a monitor, or is another CP: look for another engine."""

    frame_type = LinkFrame.BUSY
    cp_id: Identifier | None = None
    """When the engine refuses a monitor of another CP: the CP it was started as."""


class AssignIdentity(LinkRecord):
    """The monitor authenticated the CP: from now on the engine is this CP."""

    frame_type = LinkFrame.ASSIGN_IDENTITY
    cp_id: Identifier
    credential: str | None = Field(default=None, max_length=200)
    price_per_kwh: PricePerKwh


class Check(LinkRecord):
    frame_type = LinkFrame.CHECK


class Health(LinkRecord):
    frame_type = LinkFrame.HEALTH
    health: EngineHealth


class LinkError(ValueError):
    """A frame that is not a valid record of this link."""


def _link_error(_fault: RecordFault, detail: str) -> LinkError:
    return LinkError(detail)


CODEC: RecordCodec[LinkRecord] = RecordCodec(
    (Attach, Attached, Busy, AssignIdentity, Check, Health), error=_link_error
)
"""Every record of the link, by frame type; LinkError for a frame that is none of them."""

to_frame = CODEC.encode
from_frame = CODEC.decode
