"""What one request ended as: the unit a file run counts and summarises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from evcharging.messages import DenialReason, EndReason, Ticket, utc_now


class Result(StrEnum):
    CHARGED = "charged"
    """The supply ended and its ticket arrived (it may have been cut short: see `ended_by`)."""
    DENIED = "denied"
    NO_ANSWER = "no_answer"
    """The central did not answer before the request expired."""
    TICKET_PENDING = "ticket_pending"
    """The supply was interrupted and the ticket has not arrived yet; it is shown on a later run."""


@dataclass(frozen=True)
class Outcome:
    cp_id: str
    result: Result
    message: str
    ticket: Ticket | None = None
    denial: DenialReason | None = None
    ended_by: EndReason | None = None
    learned_at: datetime = field(default_factory=utc_now)
    """When the driver learned how the service ended (an outcome is made at that moment):
    the next request of a file waits 4 s from here."""

    @property
    def ok(self) -> bool:
        return self.result is Result.CHARGED

    @property
    def kwh(self) -> Decimal:
        return self.ticket.kwh if self.ticket else Decimal(0)

    @property
    def eur(self) -> Decimal:
        return self.ticket.total_eur if self.ticket else Decimal(0)


@dataclass(frozen=True)
class Summary:
    """The totals printed at the end of a file run."""

    outcomes: tuple[Outcome, ...]

    @property
    def charged(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.charged

    @property
    def kwh(self) -> Decimal:
        return sum((o.kwh for o in self.outcomes), Decimal(0))

    @property
    def eur(self) -> Decimal:
        return sum((o.eur for o in self.outcomes), Decimal(0))
