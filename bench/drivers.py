"""Simulated drivers: ask for a charge over Kafka, as the `driver` command does,
and time what the central answers.

- authorisation latency: a request sent -> its answer (authorised or denied) received;
- telemetry latency: an engine sends a telemetry message -> the driver receives
  the SupplyUpdate the central relays for it (same process, same clock);
- tickets: kept by id, so a redelivered copy is not counted twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.fleet import Emitted, Fleet
from evcharging import messages as m
from evcharging import topics as t
from evcharging.kafka import ContractProducer

REQUEST_LIFETIME = timedelta(seconds=30)
"""As long as the `driver` command gives a request before it expires."""

Answer = m.SupplyAuthorised | m.SupplyDenied


def driver_id(prefix: str, number: int) -> str:
    """A simulated driver's id: the run's prefix, so records of other runs are skipped unread."""
    return f"{prefix}D{number:05d}"


@dataclass
class Measurements:
    authorisation: list[float] = field(default_factory=list)
    telemetry: list[float] = field(default_factory=list)
    denials: dict[str, int] = field(default_factory=dict)
    updates_received: int = 0
    recording: bool = False
    """Latencies are kept only while this is set: the steady part of a run."""


class Drivers:
    def __init__(
        self,
        producer: ContractProducer,
        prefix: str,
        emitted: Emitted,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._producer = producer
        self._prefix = prefix
        self._emitted = emitted
        self._clock = clock
        self._waiting: dict[str, tuple[asyncio.Future[Answer], float]] = {}
        self._ticket_waiters: dict[str, asyncio.Future[m.Ticket]] = {}
        self.tickets: dict[str, m.Ticket] = {}
        self.sessions: dict[str, str] = {}
        """Every session authorised to these drivers -> its CP."""
        self.measured = Measurements()

    def driver_id(self, number: int) -> str:
        return driver_id(self._prefix, number)

    def accounts(self, sessions: set[str], ended: dict[str, Decimal]) -> dict[str, Any]:
        """Every session's ticket against its engine's final report (`ended`):
        nothing lost, nothing changed."""
        tickets = [self.tickets[session] for session in sessions if session in self.tickets]
        reported = sum((ended.get(session, Decimal(0)) for session in sessions), Decimal(0))
        billed = sum((ticket.kwh for ticket in tickets), Decimal(0))
        return {
            "sessions": len(sessions),
            "tickets": len(tickets),
            "outstanding": len(sessions) - len(tickets),
            "kwh_reported": str(reported),
            "kwh_billed": str(billed),
            "mismatched": sum(1 for ticket in tickets if ticket.kwh != ended.get(ticket.ticket_id)),
        }

    async def request(self, cp_id: str, driver_id: str, timeout: float = 60.0) -> Answer:
        """Ask to charge at `cp_id` and wait for the central's answer."""
        request = m.SupplyRequest(
            cp_id=cp_id, driver_id=driver_id, expires_at=datetime.now(UTC) + REQUEST_LIFETIME
        )
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[request.request_id] = (answer, self._clock())
        self._producer.send(t.SUPPLY_REQUESTS, request)
        try:
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._waiting.pop(request.request_id, None)

    async def ticket(self, session_id: str, timeout: float = 60.0) -> m.Ticket:
        if session_id in self.tickets:
            return self.tickets[session_id]
        waiter = self._ticket_waiters.setdefault(session_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(waiter), timeout)

    def on_message(self, message: Any) -> None:
        if isinstance(message, m.SupplyAuthorised | m.SupplyDenied):
            self._answered(message)
        elif isinstance(message, m.SupplyUpdate):
            self._updated(message)
        elif isinstance(message, m.Ticket):
            self._billed(message)

    def _answered(self, answer: Answer) -> None:
        if isinstance(answer, m.SupplyAuthorised):
            self.sessions[answer.session_id] = answer.cp_id  # even when answered after we gave up
        waiting = self._waiting.pop(answer.request_id, None)
        if waiting is None:
            return
        future, sent = waiting
        if self.measured.recording:
            self.measured.authorisation.append(self._clock() - sent)
        if isinstance(answer, m.SupplyDenied):
            reason = answer.reason.value
            self.measured.denials[reason] = self.measured.denials.get(reason, 0) + 1
        if not future.done():
            future.set_result(answer)

    def _updated(self, update: m.SupplyUpdate) -> None:
        sent = self._emitted.relayed(update.session_id, update.seq)
        if sent is None:
            return
        self.measured.updates_received += 1
        if self.measured.recording:
            self.measured.telemetry.append(self._clock() - sent)

    def _billed(self, ticket: m.Ticket) -> None:
        self.tickets.setdefault(ticket.ticket_id, ticket)
        self._emitted.forget(ticket.ticket_id)
        waiter = self._ticket_waiters.pop(ticket.ticket_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(ticket)


def merged(one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Two `Drivers.accounts` as one: counts and kWh added up."""
    kwh = {name: str(Decimal(one[name]) + Decimal(other[name])) for name in one if name.startswith("kwh")}
    return {**{name: one[name] + other[name] for name in one}, **kwh}


FOR_THE_CPS = (m.CpStatus, m.StartSupply, m.EndSupply, m.StopCp, m.ResumeCp)
"""What the feed hands the simulated CPs; the rest is the drivers'."""


def route(batch: list[Any], fleet: Fleet, drivers: Drivers) -> None:
    """A batch the feed read, each message to the CPs or the drivers it is for."""
    for message in batch:
        if isinstance(message, FOR_THE_CPS):
            fleet.on_message(message)
        else:
            drivers.on_message(message)
