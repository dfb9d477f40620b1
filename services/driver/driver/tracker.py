"""The life of one charge request as the driver sees it: pure logic, no I/O.

The driver's partition of `respuestas_conductor` and `tickets` also carries other
drivers' messages (several drivers hash to one partition) and may carry late,
repeated or out-of-order copies. The tracker keeps only what belongs to this
request: answers with its request id, then updates, interruptions and the
ticket of the session it was given, with telemetry older than the last shown
ignored. Feeding it a message returns what changed, so the screen is redrawn
only when something did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from evcharging.messages import (
    DenialReason,
    EndReason,
    Message,
    SupplyAuthorised,
    SupplyDenied,
    SupplyInterrupted,
    SupplyUpdate,
    Ticket,
)


class Phase(StrEnum):
    WAITING_ANSWER = "waiting_answer"
    AUTHORISED = "authorised"
    SUPPLYING = "supplying"
    INTERRUPTED = "interrupted"
    DENIED = "denied"
    FINISHED = "finished"


class Change(StrEnum):
    AUTHORISED = "authorised"
    DENIED = "denied"
    UPDATE = "update"
    INTERRUPTED = "interrupted"
    TICKET = "ticket"


@dataclass
class ChargeTracker:
    """Follows one request from the answer to the ticket."""

    request_id: str
    cp_id: str
    driver_id: str
    phase: Phase = Phase.WAITING_ANSWER
    session_id: str | None = None
    price_per_kwh: Decimal | None = None
    denial: DenialReason | None = None
    interruption: EndReason | None = None
    last_seq: int = -1
    kw: Decimal = Decimal(0)
    kwh: Decimal = Decimal(0)
    eur: Decimal = Decimal(0)
    time_factor: Decimal = Decimal(1)
    """How fast the CP's clock runs (1 unless it is a sped-up demo CP)."""
    duration_s: Decimal | None = None
    """Charging time that `kwh` covers, in the CP's time (None from an older central)."""
    supplying_since: datetime | None = None
    ticket: Ticket | None = None

    @property
    def done(self) -> bool:
        """Nothing more will come for this request: it was denied or its ticket arrived."""
        return self.phase in (Phase.DENIED, Phase.FINISHED)

    def feed(self, message: Message) -> Change | None:
        """Apply one message; return what changed for this request, or None."""
        if getattr(message, "driver_id", None) != self.driver_id:
            return None
        if isinstance(message, SupplyAuthorised | SupplyDenied):
            return self._answer(message)
        if isinstance(message, Ticket):
            return self._ticket(message)
        if self.session_id is None or getattr(message, "session_id", None) != self.session_id:
            return None
        if isinstance(message, SupplyUpdate):
            return self._update(message)
        if isinstance(message, SupplyInterrupted) and self.phase in (Phase.AUTHORISED, Phase.SUPPLYING):
            self.phase = Phase.INTERRUPTED
            self.interruption = message.reason
            return Change.INTERRUPTED
        return None

    def _answer(self, message: SupplyAuthorised | SupplyDenied) -> Change | None:
        if message.request_id != self.request_id or self.phase is not Phase.WAITING_ANSWER:
            return None
        if isinstance(message, SupplyDenied):
            self.phase = Phase.DENIED
            self.denial = message.reason
            return Change.DENIED
        self.phase = Phase.AUTHORISED
        self.session_id = message.session_id
        self.price_per_kwh = message.price_per_kwh
        return Change.AUTHORISED

    def _update(self, message: SupplyUpdate) -> Change | None:
        if message.seq <= self.last_seq or self.phase not in (Phase.AUTHORISED, Phase.SUPPLYING):
            return None
        if self.supplying_since is None:
            self.supplying_since = message.sent_at
        self.phase = Phase.SUPPLYING
        self.last_seq = message.seq
        self.kw, self.kwh, self.eur = message.kw, message.kwh, message.eur
        self.time_factor, self.duration_s = message.time_factor, message.duration_s
        return Change.UPDATE

    def _ticket(self, ticket: Ticket) -> Change | None:
        if self.session_id is not None and ticket.ticket_id == self.session_id:
            if self.ticket is not None:
                return None
            self.ticket = ticket
            self.phase = Phase.FINISHED
            return Change.TICKET
        return None
