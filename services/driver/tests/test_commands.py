"""The use cases with a fake bus: spacing of a file run, missed tickets, timeouts."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from driver import commands
from driver.batch import BatchLine
from driver.bus import Received
from driver.commands import Timing
from driver.outcome import Result
from driver.output import JsonOutput
from evcharging.messages import (
    DenialReason,
    EndReason,
    Message,
    SupplyAuthorised,
    SupplyDenied,
    SupplyRequest,
    Ticket,
    utc_now,
)


class FakeBus:
    """Answers each request at once, as the scripted `answers` say."""

    driver_id = "DRV001"

    def __init__(self, inbox: FakeInbox, answers: dict[str, str]) -> None:
        self.inbox = inbox
        self.answers = answers
        self.sent: list[SupplyRequest] = []
        self.clock = utc_now
        self.sent_times: list[datetime] = []

    def send(self, request: SupplyRequest) -> None:
        self.sent.append(request)
        self.sent_times.append(self.clock())
        answer = self.answers[request.cp_id]
        if answer == "deny":
            self.inbox.push(
                SupplyDenied(
                    request_id=request.request_id,
                    cp_id=request.cp_id,
                    driver_id="DRV001",
                    reason=DenialReason.CP_BUSY,
                )
            )
        elif answer == "charge":
            session = f"s-{request.request_id}"
            self.inbox.push(
                SupplyAuthorised(
                    request_id=request.request_id,
                    session_id=session,
                    cp_id=request.cp_id,
                    driver_id="DRV001",
                    price_per_kwh=Decimal("0.3"),
                )
            )
            self.inbox.push(ticket(session, request.cp_id))


class FakeInbox:
    def __init__(self) -> None:
        self.queue: list[Received] = []
        self.committed: list[int] = []
        self.shown: set[str] = set()
        self.offset = 0

    def push(self, message: Message) -> None:
        self.queue.append(Received("t", 0, self.offset, message))
        self.offset += 1

    def poll(self, timeout: float) -> list[Received]:
        items, self.queue = self.queue, []
        return items

    def backlog(self) -> list[Received]:
        return self.poll(0)

    def seen(self, item: Received) -> None:
        self.committed.append(item.offset)
        self.shown.add(str(getattr(item.message, "ticket_id", "")))

    def was_shown(self, ticket_id: str) -> bool:
        return ticket_id in self.shown


def ticket(session: str, cp_id: str, driver: str = "DRV001") -> Ticket:
    now = utc_now()
    return Ticket(
        ticket_id=session,
        cp_id=cp_id,
        driver_id=driver,
        started_at=now - timedelta(minutes=5),
        ended_at=now,
        kwh=Decimal(2),
        price_per_kwh=Decimal("0.3"),
        total_eur=Decimal("0.60"),
        ended_by=EndReason.UNPLUGGED,
    )


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class PausedClock:
    """The wall clock plus every pause taken; `early` makes each pause end that much short,
    as a real sleep may on the wall clock."""

    def __init__(self, early: float = 0.0) -> None:
        self.early = early
        self.pauses: list[float] = []
        self._offset = 0.0

    def now(self) -> datetime:
        return utc_now() + timedelta(seconds=self._offset)

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self._offset += max(seconds - self.early, seconds / 2)


def test_a_file_run_pauses_4_s_between_services_and_sums_up() -> None:
    inbox = FakeInbox()
    bus = FakeBus(inbox, {"CP1": "charge", "CP2": "deny", "CP3": "charge"})
    clock = PausedClock()
    bus.clock = clock.now
    out = io.StringIO()
    lines = [BatchLine(1, "CP1"), BatchLine(2, "CP2"), BatchLine(3, "CP3")]

    summary = commands.run_file(
        cast(Any, bus), cast(Any, inbox), JsonOutput(out), lines, Timing(), pause=clock.pause, clock=clock.now
    )

    assert len(clock.pauses) == 2, clock.pauses
    assert 3.5 < clock.pauses[0] <= 4.0, clock.pauses
    for before, sent in zip(summary.outcomes, bus.sent_times[1:], strict=False):
        assert sent - before.learned_at >= timedelta(seconds=4)
    assert [o.result for o in summary.outcomes] == [Result.CHARGED, Result.DENIED, Result.CHARGED]
    assert summary.kwh == Decimal(4)
    assert summary.eur == Decimal("1.20")
    last = events(out)[-1]
    assert last["event"] == "summary"
    assert last["charged"] == 2
    assert all("learned_at" in e for e in events(out) if e["event"] == "finished")


def test_a_pause_that_ends_early_is_made_up_before_the_next_request() -> None:
    inbox = FakeInbox()
    bus = FakeBus(inbox, {"CP1": "charge", "CP2": "charge"})
    clock = PausedClock(early=0.001)
    bus.clock = clock.now

    lines = [BatchLine(1, "CP1"), BatchLine(2, "CP2")]
    summary = commands.run_file(
        cast(Any, bus),
        cast(Any, inbox),
        JsonOutput(io.StringIO()),
        lines,
        Timing(),
        pause=clock.pause,
        clock=clock.now,
    )

    assert len(clock.pauses) >= 2, "the short pause is followed by another"
    waited = bus.sent_times[1] - summary.outcomes[0].learned_at
    assert waited >= timedelta(seconds=4), waited


def test_a_silent_central_times_out() -> None:
    inbox = FakeInbox()
    bus = FakeBus(inbox, {"CP1": "silent"})
    outcome = commands.charge(bus, inbox, JsonOutput(io.StringIO()), "CP1", Timing(answer=0.2, grace=0.1))  # type: ignore[arg-type]
    assert outcome.result is Result.NO_ANSWER
    assert commands.exit_status(outcome) == commands.EXIT_NO_ANSWER
    assert bus.sent[0].expires_at - bus.sent[0].sent_at <= timedelta(seconds=0.3)


def test_missed_tickets_are_shown_once_and_only_mine() -> None:
    inbox = FakeInbox()
    inbox.push(ticket("old", "CP9"))
    inbox.push(ticket("theirs", "CP9", driver="DRV002"))
    inbox.push(ticket("old", "CP9"))
    out = io.StringIO()
    count = commands.show_missed_tickets(FakeBus(inbox, {}), inbox, JsonOutput(out))  # type: ignore[arg-type]
    assert count == 1
    assert [e["ticket"]["ticket_id"] for e in events(out)] == ["old"]
    assert inbox.committed == [0]
