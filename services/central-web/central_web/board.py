"""What the status page shows, computed from the messages on Kafka: pure logic.

The board keeps one tile per CP (its latest `CpStatus`, or its database row when
the CP never appeared on `estado_cp`), the requests in progress (asked, then
authorised, then supplying, until the ticket, a denial, an interruption or the
request's expiry) and a short log of recent events. It knows nothing of Kafka,
threads or HTTP, so every rule here is unit-tested with plain messages.

Old messages replayed at start-up (the status topic is read from the beginning)
update the tiles but only messages from the last `window` enter the event log,
so a restart does not flood the log with history.

A tile is shown as *verified* only while central-auth's beacons vouch for it
(`witness.py`); otherwise it is the CP's last known state.
"""

from __future__ import annotations

import heapq
from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from central_web.witness import Witness
from evcharging import simtime
from evcharging.exhaustive import every_member, every_member_in_order
from evcharging.messages import (
    CentralAuthBeacon,
    CpState,
    CpStatus,
    DenialReason,
    EndReason,
    Message,
    OperatorAction,
    OperatorCommand,
    SupplyAuthorised,
    SupplyDenied,
    SupplyInterrupted,
    SupplyRequest,
    SupplyUpdate,
    Ticket,
    utc_now,
)

STATE_LABELS = every_member(
    CpState,
    {
        CpState.ACTIVE: "Available",
        CpState.SUPPLYING: "Supplying",
        CpState.STOPPED: "Out of Order",
        CpState.FAULTY: "Faulty",
        CpState.DISCONNECTED: "Disconnected",
    },
)
STATE_ORDER = every_member_in_order(
    CpState, (CpState.ACTIVE, CpState.SUPPLYING, CpState.STOPPED, CpState.FAULTY, CpState.DISCONNECTED)
)

DENIAL_TEXT = every_member(
    DenialReason,
    {
        DenialReason.UNKNOWN_DRIVER: "unknown driver",
        DenialReason.UNKNOWN_CP: "unknown charging point",
        DenialReason.CP_BUSY: "charging point busy",
        DenialReason.CP_STOPPED: "charging point out of order",
        DenialReason.CP_FAULTY: "charging point faulty",
        DenialReason.CP_DISCONNECTED: "charging point disconnected",
        DenialReason.REQUEST_EXPIRED: "request expired",
    },
)
END_TEXT: dict[EndReason, str] = {
    EndReason.UNPLUGGED: "vehicle unplugged",
    EndReason.FAULT: "fault",
    EndReason.OPERATOR_STOP: "stopped by the operator",
    EndReason.DISCONNECTED: "charging point disconnected",
}


@dataclass
class Tile:
    cp_id: str
    state: CpState
    location: str
    price_per_kwh: Decimal
    since: datetime
    source: str = "live"
    driver_id: str | None = None
    session_id: str | None = None
    kw: Decimal | None = None
    kwh: Decimal | None = None
    eur: Decimal | None = None
    published_at: datetime | None = None
    """`sent_at` of the status this tile shows; None for a tile read from the database."""
    time_factor: Decimal = Decimal(1)
    duration_s: Decimal | None = None
    """Charging time that `kwh` covers, in the CP's time (simulated when time_factor ≠ 1)."""

    def as_json(self) -> dict[str, Any]:
        supplying = self.state is CpState.SUPPLYING
        return {
            "cp_id": self.cp_id,
            "state": self.state.value,
            "label": STATE_LABELS[self.state],
            "location": self.location,
            "price_per_kwh": str(self.price_per_kwh),
            "since": self.since.isoformat(),
            "source": self.source,
            "driver_id": self.driver_id if supplying else None,
            "session_id": self.session_id if supplying else None,
            "kw": _str(self.kw) if supplying else None,
            "kwh": _str(self.kwh) if supplying else None,
            "eur": _str(self.eur) if supplying else None,
            "time_factor": str(self.time_factor) if supplying else "1",
            "duration_s": _str(self.duration_s) if supplying else None,
            **self._charging_time(supplying),
        }

    def _charging_time(self, supplying: bool) -> dict[str, str]:
        """The charging time as the tile shows it, in the CP's time, with a note when that
        runs fast, so the kWh shown = kW × the time shown."""
        if not supplying or self.duration_s is None:
            return {"charging_time": "", "time_note": ""}
        return {"charging_time": simtime.clock(self.duration_s), "time_note": simtime.note(self.time_factor)}


@dataclass
class InProgress:
    """A request from the moment it is asked until its supply ends."""

    request_id: str
    cp_id: str
    driver_id: str
    since: datetime
    expires_at: datetime
    status: str = "waiting"  # waiting -> authorised -> supplying
    session_id: str | None = None
    kw: Decimal | None = None
    kwh: Decimal | None = None
    eur: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "cp_id": self.cp_id,
            "driver_id": self.driver_id,
            "status": self.status,
            "since": self.since.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "session_id": self.session_id,
            "kw": _str(self.kw),
            "kwh": _str(self.kwh),
            "eur": _str(self.eur),
        }


@dataclass(order=True, frozen=True)
class Event:
    at: datetime
    text: str = field(compare=False)
    level: str = field(compare=False, default="info")  # info | ok | warn | error | muted
    cp_id: str | None = field(compare=False, default=None)
    key: str = field(compare=False, default="")

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "text": self.text, "level": self.level, "cp_id": self.cp_id}


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


_STATE_EVENT = every_member(
    CpState,
    {
        CpState.ACTIVE: ("is available", "ok"),
        CpState.SUPPLYING: ("started supplying {driver}", "ok"),
        CpState.STOPPED: ("is out of order (stopped by the operator)", "warn"),
        CpState.FAULTY: ("is faulty", "error"),
        CpState.DISCONNECTED: ("is disconnected", "muted"),
    },
)


class Board:
    """The page's data; every `apply_*` returns True when something visible changed."""

    def __init__(
        self, window: timedelta = timedelta(minutes=15), max_events: int = 80, witness: Witness | None = None
    ) -> None:
        self.window = window
        self.max_events = max_events
        self.witness = witness or Witness()
        self.tiles: dict[str, Tile] = {}
        self.requests: dict[str, InProgress] = {}
        self._deadlines: list[tuple[datetime, str]] = []
        """(expires_at, request id) of every request added as waiting, soonest first: expiry
        looks only at those due (scanning every request per batch was most of the page's time
        with thousands of CPs supplying)."""
        self._request_of_session: dict[str, str] = {}
        """Session id -> request id: every live update finds its row without a scan
        (with thousands of CPs supplying, a scan per update made the page quadratic)."""
        self.events: list[Event] = []
        self._event_keys: set[str] = set()
        self._answered: dict[str, None] = {}
        """Request ids already answered: topics are read side by side, so an answer may be
        read before its request, which must then not reappear as waiting."""

    # --- inputs -----------------------------------------------------------------

    def apply(self, message: Message, now: datetime) -> bool:
        """Take one message of any topic the page follows."""
        if isinstance(message, CpStatus):
            return self._status(message, now)
        if isinstance(message, CentralAuthBeacon):
            return self.witness.hear(message, now)
        if isinstance(message, SupplyRequest):
            return self._request(message, now)
        if isinstance(message, SupplyAuthorised | SupplyDenied):
            return self._answer(message, now)
        if isinstance(message, SupplyUpdate):
            return self._update(message)
        if isinstance(message, SupplyInterrupted | Ticket):
            return self._end(message, now)
        if isinstance(message, OperatorCommand):
            verb = "stop" if message.action is OperatorAction.STOP else "resume"
            text = f"Operator {message.operator} asked {message.cp_id} to {verb}"
            return self._log(message.sent_at, text, "info", message.cp_id, message.message_id, now)
        return False

    def load_database(self, rows: list[dict[str, Any]], now: datetime) -> bool:
        """CPs registered in MariaDB that never appeared on the status topic."""
        changed = False
        for row in rows:
            cp_id = str(row["id"])
            tile = self.tiles.get(cp_id)
            if tile is not None and tile.source == "live":
                continue
            state = CpState(row["estado"])
            fresh = Tile(cp_id, state, str(row["ubicacion"]), Decimal(row["precio_kwh"]), now, "database")
            if tile is None or (tile.state, tile.location, tile.price_per_kwh) != (
                fresh.state,
                fresh.location,
                fresh.price_per_kwh,
            ):
                if tile is not None:
                    fresh.since = tile.since if tile.state is state else now
                self.tiles[cp_id] = fresh
                changed = True
        return changed

    def recheck(self, now: datetime) -> bool:
        """True when central-auth's silence began or ended since the last check: time alone
        changes that, so it is asked every moment, not only when a message comes."""
        return self.witness.recheck(now)

    def expire(self, now: datetime) -> bool:
        """Drop requests the central never answered before they expired."""
        stale = []
        while self._deadlines and self._deadlines[0][0] < now:
            request = self.requests.get(heapq.heappop(self._deadlines)[1])
            if request is not None and request.status == "waiting":
                stale.append(request)
        for request in stale:
            self._drop(request.request_id)
            text = f"{request.driver_id}'s request at {request.cp_id} expired without an answer"
            self._log(request.expires_at, text, "warn", request.cp_id, f"expired-{request.request_id}", now)
        return bool(stale)

    # --- output -------------------------------------------------------------------

    def knows(self, cp_id: str) -> bool:
        return cp_id in self.tiles

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or utc_now()
        tiles = sorted(self.tiles.values(), key=lambda t: t.cp_id)
        counts = {state.value: 0 for state in STATE_ORDER}
        for tile in tiles:
            counts[tile.state.value] += 1
        requests = sorted(self.requests.values(), key=lambda r: r.since)
        return {
            "summary": {"total": len(tiles), **counts},
            "central_auth": self.witness.as_json(now),
            "cps": [
                {**t.as_json(), "verified": self.witness.vouches_for(t.state, t.published_at, now)}
                for t in tiles
            ],
            "requests": [r.as_json() for r in requests],
            "events": [e.as_json() for e in reversed(self.events)],
        }

    # --- rules ------------------------------------------------------------------------

    def _status(self, status: CpStatus, now: datetime) -> bool:
        tile = self.tiles.get(status.cp_id)
        changed_state = tile is None or tile.state is not status.state
        since = status.sent_at if changed_state or tile is None else tile.since
        self.tiles[status.cp_id] = Tile(
            status.cp_id,
            status.state,
            status.location,
            status.price_per_kwh,
            since,
            "live",
            status.driver_id,
            status.session_id,
            status.kw,
            status.kwh,
            status.eur,
            status.sent_at,
            time_factor=status.time_factor,
            duration_s=status.duration_s,
        )
        if status.state is not CpState.SUPPLYING:
            self._forget_sessions_at(status.cp_id)
        if changed_state and tile is not None:
            phrase, level = _STATE_EVENT[status.state]
            text = f"{status.cp_id} " + phrase.format(driver=status.driver_id or "a vehicle")
            self._log(status.sent_at, text, level, status.cp_id, status.message_id, now)
        return True

    def _request(self, request: SupplyRequest, now: datetime) -> bool:
        if (
            request.request_id in self.requests
            or request.request_id in self._answered
            or request.expires_at < now - self.window
        ):
            return False
        self.requests[request.request_id] = InProgress(
            request.request_id, request.cp_id, request.driver_id, request.sent_at, request.expires_at
        )
        heapq.heappush(self._deadlines, (request.expires_at, request.request_id))
        text = f"{request.driver_id} asked to charge at {request.cp_id}"
        self._log(request.sent_at, text, "info", request.cp_id, request.message_id, now)
        return True

    def _answer(self, answer: SupplyAuthorised | SupplyDenied, now: datetime) -> bool:
        request = self.requests.get(answer.request_id)
        self._answered[answer.request_id] = None
        if len(self._answered) > 10_000:
            del self._answered[next(iter(self._answered))]
        if isinstance(answer, SupplyDenied):
            self._drop(answer.request_id)
            text = f"{answer.driver_id} denied at {answer.cp_id}: {DENIAL_TEXT[answer.reason]}"
            logged = self._log(answer.sent_at, text, "warn", answer.cp_id, answer.message_id, now)
            return logged or request is not None
        if request is None:
            request = InProgress(
                answer.request_id, answer.cp_id, answer.driver_id, answer.sent_at, answer.sent_at
            )
            self.requests[answer.request_id] = request
        if request.status == "waiting":
            request.status = "authorised"
        request.session_id = answer.session_id
        self._request_of_session[answer.session_id] = answer.request_id
        text = f"{answer.driver_id} authorised at {answer.cp_id}"
        self._log(answer.sent_at, text, "ok", answer.cp_id, answer.message_id, now)
        return True

    def _update(self, update: SupplyUpdate) -> bool:
        request = self._by_session(update.session_id)
        if request is None:
            return False
        request.status = "supplying"
        request.kw, request.kwh, request.eur = update.kw, update.kwh, update.eur
        return True

    def _end(self, end: SupplyInterrupted | Ticket, now: datetime) -> bool:
        session = end.session_id if isinstance(end, SupplyInterrupted) else end.ticket_id
        request = self._by_session(session)
        if request is not None and isinstance(end, Ticket):
            self._drop(request.request_id)
        if isinstance(end, SupplyInterrupted):
            text = f"Supply of {end.driver_id} at {end.cp_id} interrupted: {END_TEXT[end.reason]}"
            level = "warn"
        else:
            text = (
                f"Ticket for {end.driver_id} at {end.cp_id}: {end.kwh:.3f} kWh, {end.total_eur:.2f} € "
                f"({END_TEXT[end.ended_by]})"
            )
            level = "ok"
        logged = self._log(end.sent_at, text, level, end.cp_id, end.message_id, now)
        return logged or request is not None

    def _by_session(self, session_id: str) -> InProgress | None:
        request_id = self._request_of_session.get(session_id)
        return None if request_id is None else self.requests.get(request_id)

    def _drop(self, request_id: str) -> None:
        request = self.requests.pop(request_id, None)
        if request is not None and request.session_id is not None:
            self._request_of_session.pop(request.session_id, None)

    def _forget_sessions_at(self, cp_id: str) -> None:
        """A CP that is no longer supplying has no session in progress (a lost ticket must not
        leave a row forever); requests still waiting for an answer stay."""
        for request in list(self.requests.values()):
            if request.cp_id == cp_id and request.status == "supplying":
                self._drop(request.request_id)

    def _log(self, at: datetime, text: str, level: str, cp_id: str | None, key: str, now: datetime) -> bool:
        if at < now - self.window or key in self._event_keys:
            return False
        insort(self.events, Event(at, text, level, cp_id, key))
        self._event_keys.add(key)
        while len(self.events) > self.max_events:
            self._event_keys.discard(self.events.pop(0).key)
        return True
