"""Charging time as people are shown it, when a CP may run its clock fast.

A demo CP can count each real second as `CP_TIME_FACTOR` seconds of charging, so that
a charge of a few real seconds supplies a believable amount of energy. Its messages
then say so (`time_factor`) and carry the charging time in the CP's own time
(`duration_s`). Everything that shows a duration next to an energy (the ticket, the
driver's screen, the status page, the engine's screen) shows that simulated duration
with a note, so energy = power × time holds for what a person reads.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from evcharging.messages import Ticket

SECONDS_PER_HOUR = Decimal(3600)


def factor_text(time_factor: Decimal) -> str:
    """`60`, `1.5`: the factor as a person writes it."""
    return f"{time_factor.normalize():f}"


def note(time_factor: Decimal) -> str:
    """'simulated time ×60' for a fast CP; '' in real time."""
    return "" if time_factor == 1 else f"simulated time ×{factor_text(time_factor)}"


def ticket_seconds(ticket: Ticket) -> Decimal:
    """How long the ticket's energy took to charge, in the CP's time. Tickets of an older
    central have no `duration_s`: then it is the real duration times the factor."""
    if ticket.duration_s is not None:
        return ticket.duration_s
    real = Decimal(str((ticket.ended_at - ticket.started_at).total_seconds()))
    return max(Decimal(0), real * ticket.time_factor)


def clock(seconds: Decimal | float) -> str:
    """`1:02:03` or `02:03`, to the nearest second."""
    whole = max(0, int(Decimal(str(seconds)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def average_kw(kwh: Decimal, seconds: Decimal) -> Decimal | None:
    """The average power of `kwh` charged in `seconds` (None when no time has passed)."""
    if seconds <= 0:
        return None
    return kwh * SECONDS_PER_HOUR / seconds
