"""The driver's use cases: list, charge, run a file, show tickets.

Each one wires the Kafka side (`bus`), the pure logic (`tracker`, `batch`) and the
output, and returns an exit status; none of them knows how things are drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from driver import texts
from driver.batch import BatchLine
from driver.bus import DriverBus, Inbox, Received
from driver.outcome import Outcome, Result, Summary
from driver.output import Output
from driver.tracker import Change, ChargeTracker, Phase
from evcharging.messages import SupplyRequest, Ticket, utc_now

SPACING_SECONDS = 4.0
"""SPEC step 12: after each service of a file run ends, wait this long before the next."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DENIED, EXIT_NO_ANSWER = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Timing:
    """How long the driver waits for each thing.

    `answer` is also the request's lifetime (`expires_at`): the central answers an
    older request as expired, so a driver that gave up never gets authorised late.
    """

    answer: float = 10.0
    grace: float = 2.0
    ticket_after_interruption: float = 30.0


def list_cps(bus: DriverBus, out: Output) -> int:
    statuses = sorted(bus.statuses().values(), key=lambda s: s.cp_id)
    out.statuses(statuses)
    return EXIT_OK


def show_tickets(bus: DriverBus, out: Output) -> int:
    """Every ticket of this driver still on the topic, oldest first; marks them all as seen."""
    inbox = bus.inbox(history=True)
    try:
        mine = _own_tickets(bus.driver_id, inbox.backlog())
        out.tickets([item.message for item in mine])  # type: ignore[misc]
        if mine:
            inbox.seen(mine[-1])
    finally:
        inbox.close()
    return EXIT_OK


def show_missed_tickets(bus: DriverBus, inbox: Inbox, out: Output) -> int:
    """Show the tickets that arrived while the driver was not running; return how many."""
    mine = [item for item in _own_tickets(bus.driver_id, inbox.backlog()) if not inbox.was_shown(_id(item))]
    for item in mine:
        out.ticket_while_away(item.message)  # type: ignore[arg-type]
        inbox.seen(item)
    return len(mine)


def charge(bus: DriverBus, inbox: Inbox, out: Output, cp_id: str, timing: Timing) -> Outcome:
    """Request a supply at `cp_id` and follow it until its ticket, a denial or a timeout."""
    request = SupplyRequest(
        cp_id=cp_id, driver_id=bus.driver_id, expires_at=utc_now() + timedelta(seconds=timing.answer)
    )
    tracker = ChargeTracker(request.request_id, cp_id, bus.driver_id)
    out.requesting(request)
    bus.send(request)
    answer_deadline = time.monotonic() + timing.answer + timing.grace
    ticket_deadline: float | None = None
    while not tracker.done:
        now = time.monotonic()
        if tracker.phase is Phase.WAITING_ANSWER and now > answer_deadline:
            waited = timing.answer + timing.grace
            return _finish(out, Outcome(cp_id, Result.NO_ANSWER, texts.central_silent(cp_id, waited)))
        if ticket_deadline is not None and now > ticket_deadline:
            message = (
                f"The supply at {cp_id} was interrupted; its ticket has not arrived yet and "
                "will be shown the next time you run driver."
            )
            return _finish(out, Outcome(cp_id, Result.TICKET_PENDING, message, ended_by=tracker.interruption))
        for item in inbox.poll(0.5):
            change = tracker.feed(item.message)
            if change is None:
                _maybe_missed_ticket(bus.driver_id, tracker, inbox, out, item)
            elif change is Change.AUTHORISED:
                out.authorised(tracker)
            elif change is Change.UPDATE:
                out.update(tracker)
            elif change is Change.INTERRUPTED:
                out.interrupted(tracker)
                ticket_deadline = time.monotonic() + timing.ticket_after_interruption
            elif change is Change.TICKET:
                inbox.seen(item)
        out.tick(tracker)
    if tracker.denial is not None:
        message = texts.denial(tracker.denial, cp_id, bus.driver_id)
        return _finish(out, Outcome(cp_id, Result.DENIED, message, denial=tracker.denial))
    ticket = tracker.ticket
    assert ticket is not None
    message = f"{texts.kwh(ticket.kwh)}, {texts.euros(ticket.total_eur)} ({texts.ending(ticket.ended_by)})"
    return _finish(out, Outcome(cp_id, Result.CHARGED, message, ticket=ticket, ended_by=ticket.ended_by))


def run_file(
    bus: DriverBus,
    inbox: Inbox,
    out: Output,
    lines: list[BatchLine],
    timing: Timing,
    pause: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_now,
) -> Summary:
    """One request a line; after each service ends, whatever its outcome, wait 4 s (SPEC step 12)."""
    outcomes: list[Outcome] = []
    for index, line in enumerate(lines):
        if index:
            out.next_in(SPACING_SECONDS, index + 1, len(lines), line.cp_id)
            _pause_until(outcomes[-1].learned_at + timedelta(seconds=SPACING_SECONDS), pause, clock)
        outcomes.append(charge(bus, inbox, out, line.cp_id, timing))
    summary = Summary(tuple(outcomes))
    out.summary(summary)
    return summary


def _pause_until(moment: datetime, pause: Callable[[float], None], clock: Callable[[], datetime]) -> None:
    """Wait until `clock` reads `moment`. The 4 s are promised on the clock the requests
    carry (their sent_at), and a sleep may end a little early on it: so check, not trust."""
    while (left := (moment - clock()).total_seconds()) > 0:
        pause(left)


def exit_status(outcome: Outcome) -> int:
    if outcome.result is Result.DENIED:
        return EXIT_DENIED
    if outcome.result is Result.NO_ANSWER:
        return EXIT_NO_ANSWER
    return EXIT_OK


def read_file(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _finish(out: Output, outcome: Outcome) -> Outcome:
    out.finished(outcome)
    return outcome


def _id(item: Received) -> str:
    return str(getattr(item.message, "ticket_id", ""))


def _own_tickets(driver_id: str, items: list[Received]) -> list[Received]:
    """This driver's tickets, each once (a ticket redelivered by the central is shown once)."""
    seen: set[str] = set()
    mine: list[Received] = []
    for item in items:
        message = item.message
        if isinstance(message, Ticket) and message.driver_id == driver_id and message.ticket_id not in seen:
            seen.add(message.ticket_id)
            mine.append(item)
    return mine


def _maybe_missed_ticket(
    driver_id: str, tracker: ChargeTracker, inbox: Inbox, out: Output, item: Received
) -> None:
    """A ticket of this driver for another session (one that ended while it was away)."""
    message = item.message
    if (
        isinstance(message, Ticket)
        and message.driver_id == driver_id
        and message.ticket_id != tracker.session_id
        and not inbox.was_shown(message.ticket_id)
    ):
        out.ticket_while_away(message)
        inbox.seen(item)
