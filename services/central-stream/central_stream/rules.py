"""The rules of a charging point, as pure functions: (record, event) -> (record, effects).

Nothing here touches Kafka, MariaDB or the clock: the agent hands in the event,
what the registry knows, and "now"; it gets back the CP's new record and the
effects to carry out (messages to send, rows to save). So every rule of
SPEC.md steps 4–13 can be read, and tested, in this one file.

What a CP *is* (its state) is never stored: it is derived from the facts we
hold about it, following SPEC.md's state table:

    not connected                -> desconectado
    connected, engine KO         -> averiado
    connected, OK, a session     -> suministrando   (also while waiting for the plug)
    connected, OK, operator stop -> parado
    connected, OK                -> activado

Every output that may be sent twice (a redelivered input after a crash) has an
id derived from its input, so a repeat is the *same* message and a consumer can
drop it: session id from the request, ticket id = session id, message ids from
(session, kind, seq).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from evcharging import topics as t
from evcharging.exhaustive import every_member
from evcharging.messages import (
    CpConnected,
    CpDisconnected,
    CpState,
    CpStatus,
    DenialReason,
    EndReason,
    EndSupply,
    EngineHealth,
    EngineStarted,
    Fault,
    Message,
    OperatorAction,
    OperatorCommand,
    Recovery,
    RequestOrigin,
    ResumeCp,
    StartSupply,
    StopCp,
    SupplyAuthorised,
    SupplyDenied,
    SupplyEnded,
    SupplyInterrupted,
    SupplyRequest,
    SupplyUpdate,
    Telemetry,
    Ticket,
)
from evcharging.pricing import cost

RECENT_REQUESTS = 32
"""How many decided request ids a CP remembers, to answer a redelivered request once.
Older ones are safe to forget: by then the request has expired."""

_ID_NAMESPACE = uuid.UUID("5d0c4f3e-6b1a-4c1e-9a52-0e1f7c2b9a11")
_NAMESPACE_BYTES = _ID_NAMESPACE.bytes

Inbound = (
    SupplyRequest
    | Telemetry
    | SupplyEnded
    | EngineStarted
    | Fault
    | Recovery
    | CpConnected
    | CpDisconnected
    | OperatorCommand
)
"""Everything central-stream consumes: all of it keyed by CP."""


# --- pricing and ids ------------------------------------------------------------


def price(kwh: Decimal, price_per_kwh: Decimal) -> Decimal:
    """What `kwh` cost, by the one rule the CP and the central share (evcharging.pricing)."""
    return cost(kwh, price_per_kwh)


def derived_id(*parts: str) -> str:
    """A stable id for an output, so that re-processing an input re-creates the same output.

    It is uuid.uuid5(_ID_NAMESPACE, ...).hex, computed without the UUID object:
    two ids per telemetry report made that object a tenth of the rules' time."""
    name = _NAMESPACE_BYTES + "\x1f".join(parts).encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def session_id_for(cp_id: str, request_id: str) -> str:
    return derived_id("session", cp_id, request_id)


# --- what the rules are given ---------------------------------------------------


@dataclass(frozen=True)
class CpInfo:
    """A registered CP, as `charging_points` describes it."""

    cp_id: str
    location: str
    price_per_kwh: Decimal


class Registry(Protocol):
    """Who is registered: drivers and CPs (a cache of MariaDB, see registry.py)."""

    def cp(self, cp_id: str) -> CpInfo | None: ...

    def has_driver(self, driver_id: str) -> bool: ...


# --- what is remembered per CP (the value of the `cp_state` table) -------------


class Session(BaseModel):
    """One authorised supply, from authorisation to its ticket."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str
    request_id: str
    driver_id: str
    price_per_kwh: Decimal
    authorised_at: datetime
    started_at: datetime | None = None
    """When the first telemetry came: the vehicle was plugged in."""
    last_seq: int = -1
    kw: Decimal = Decimal(0)
    kwh: Decimal = Decimal(0)
    eur: Decimal = Decimal(0)
    time_factor: Decimal = Decimal(1)
    """How fast the CP's clock runs (1 unless a demo speeds it up), as it reports."""
    duration_s: Decimal | None = None
    """Charging time that `kwh` covers, in the CP's time, as it reports (None: an older engine)."""


class CpRecord(BaseModel):
    """The facts central-stream holds about one CP. Its state follows from them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cp_id: str
    connected: bool = False
    connection_id: str | None = None
    connected_at: datetime | None = None
    """`sent_at` of the current connection's announcement."""
    engine_ok: bool = True
    health_at: datetime | None = None
    """`sent_at` of the newest health fact applied. Faults, recoveries and
    connections travel on different topics, so they can arrive out of order;
    an older fact never overrides a newer one."""
    stopped: bool = False
    session: Session | None = None
    recent_requests: tuple[str, ...] = ()

    @property
    def state(self) -> CpState:
        if not self.connected:
            return CpState.DISCONNECTED
        if not self.engine_ok:
            return CpState.FAULTY
        if self.session is not None:
            return CpState.SUPPLYING
        if self.stopped:
            return CpState.STOPPED
        return CpState.ACTIVE


def unknown_cp(cp_id: str) -> CpRecord:
    """A CP we have heard nothing about since start-up: its state is unknown, so desconectado."""
    return CpRecord(cp_id=cp_id)


# --- what the rules ask for -------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Publish `message` on `topic`, keyed as the topic says."""

    topic: t.Topic
    message: Message


@dataclass(frozen=True)
class SupplyRow:
    """One row of `suministros`: written when authorised, and again, final, when closed."""

    session_id: str
    driver_id: str
    cp_id: str
    started_at: datetime
    ended_at: datetime | None
    kwh: Decimal
    eur: Decimal
    price_per_kwh: Decimal
    status: str
    """'en_curso' while open, else the EndReason value."""
    time_factor: Decimal = Decimal(1)
    duration_s: Decimal | None = None
    """`started_at`/`ended_at` are real times; the energy took `duration_s` of the CP's time."""


@dataclass(frozen=True)
class SaveSupply:
    row: SupplyRow


@dataclass(frozen=True)
class SaveCpState:
    """Write `charging_points.estado`."""

    cp_id: str
    state: CpState
    since: datetime


Effect = Send | SaveSupply | SaveCpState


@dataclass(frozen=True)
class Outcome:
    """The result of applying one event to one CP."""

    record: CpRecord | None
    """The CP's new record, or None when it did not change (nothing to save)."""
    effects: tuple[Effect, ...] = ()
    note: str = ""
    """What happened, in words, for the log."""
    live_only: bool = False
    """True when the effects are only live figures (telemetry), which a newer
    update supersedes: no need to wait for the broker's acknowledgement before
    saving the record."""

    @property
    def messages(self) -> list[Message]:
        return [effect.message for effect in self.effects if isinstance(effect, Send)]


def unchanged(note: str) -> Outcome:
    return Outcome(None, (), note)


# --- the rules --------------------------------------------------------------------


def apply(record: CpRecord, event: Inbound, registry: Registry, now: datetime) -> Outcome:
    """Apply one event about `record`'s CP. `now` only judges whether a request expired."""
    match event:
        case SupplyRequest():
            return on_request(record, event, registry, now)
        case Telemetry():
            return on_telemetry(record, event, registry)
        case SupplyEnded():
            return on_supply_ended(record, event, registry)
        case EngineStarted():
            return on_engine_started(record, event, registry)
        case Fault():
            return on_fault(record, event, registry)
        case Recovery():
            return on_health(record, event.sent_at, ok=True, registry=registry, cause=event)
        case CpConnected():
            return on_connected(record, event, registry)
        case CpDisconnected():
            return on_disconnected(record, event, registry)
        case OperatorCommand():
            return on_operator(record, event, registry)
    raise TypeError(f"no rule for {type(event).__name__}")  # pragma: no cover


def on_request(record: CpRecord, request: SupplyRequest, registry: Registry, now: datetime) -> Outcome:
    """SPEC step 4: authorise a supply when the driver is registered, the CP is
    activado and the request has not expired; otherwise deny it, saying why.

    A CP's requests are processed one at a time (they share its partition), and
    the first one authorised makes the CP suministrando: of two simultaneous
    requests, the second is denied `cp_busy`. A request made at the CP is answered
    to the CP too: an authorisation by its StartSupply, a denial by a copy of it on
    the CP's commands (an OCPP charger tells the driver at it; an engine shows it).
    """
    if request.request_id in record.recent_requests:
        return unchanged(f"request {request.request_id} already answered; redelivery ignored")
    info = registry.cp(record.cp_id)
    reason = _denial_reason(record, request, info, registry, now)
    if reason is not None or info is None:
        denial = SupplyDenied(
            message_id=derived_id("denied", record.cp_id, request.request_id),
            request_id=request.request_id,
            cp_id=record.cp_id,
            driver_id=request.driver_id,
            reason=reason or DenialReason.UNKNOWN_CP,
        )
        answer: tuple[Effect, ...] = (Send(t.DRIVER_RESPONSES, denial),)
        if request.origin is RequestOrigin.CP:
            told = denial.model_copy(
                update={"message_id": derived_id("denied-cp", record.cp_id, request.request_id)}
            )
            answer = (*answer, Send(t.CP_COMMANDS, told))
        if info is None:
            # Nothing is remembered about an unregistered CP: anyone could invent ids.
            return Outcome(None, answer, f"denied {request.request_id}: {denial.reason}")
        remembered = record.model_copy(update={"recent_requests": _remember(record, request.request_id)})
        return Outcome(remembered, answer, f"denied {request.request_id}: {denial.reason}")

    session = Session(
        session_id=session_id_for(record.cp_id, request.request_id),
        request_id=request.request_id,
        driver_id=request.driver_id,
        price_per_kwh=info.price_per_kwh,
        authorised_at=request.sent_at,
    )
    new = record.model_copy(
        update={"session": session, "recent_requests": _remember(record, request.request_id)}
    )
    effects: list[Effect] = [
        SaveSupply(_row(record.cp_id, session, ended_at=None, status="en_curso")),
        Send(
            t.DRIVER_RESPONSES,
            SupplyAuthorised(
                message_id=derived_id("authorised", session.session_id),
                request_id=request.request_id,
                session_id=session.session_id,
                cp_id=record.cp_id,
                driver_id=session.driver_id,
                price_per_kwh=session.price_per_kwh,
            ),
        ),
        Send(
            t.CP_COMMANDS,
            StartSupply(
                message_id=derived_id("start", session.session_id),
                cp_id=record.cp_id,
                session_id=session.session_id,
                driver_id=session.driver_id,
                price_per_kwh=session.price_per_kwh,
            ),
        ),
        *state_effects(record, new, info, request.sent_at, cause=request),
    ]
    return Outcome(new, tuple(effects), f"authorised {request.request_id} as session {session.session_id}")


_DENIAL_BY_STATE = every_member(
    CpState,
    {
        CpState.ACTIVE: None,
        CpState.SUPPLYING: DenialReason.CP_BUSY,
        CpState.STOPPED: DenialReason.CP_STOPPED,
        CpState.FAULTY: DenialReason.CP_FAULTY,
        CpState.DISCONNECTED: DenialReason.CP_DISCONNECTED,
    },
)
"""Why a request to a registered CP in each state is denied (None: it is not)."""


def _denial_reason(
    record: CpRecord, request: SupplyRequest, info: CpInfo | None, registry: Registry, now: datetime
) -> DenialReason | None:
    if utc(now) > utc(request.expires_at):
        return DenialReason.REQUEST_EXPIRED
    if info is None:
        return DenialReason.UNKNOWN_CP
    if not registry.has_driver(request.driver_id):
        return DenialReason.UNKNOWN_DRIVER
    return _DENIAL_BY_STATE[record.state]


def on_telemetry(record: CpRecord, telemetry: Telemetry, registry: Registry) -> Outcome:
    """SPEC step 8: the supply's figures, every second. Only a newer `seq` of the
    CP's current session counts; a repeated, late or foreign one changes nothing.

    The € are computed here from the kWh and the price agreed at authorisation:
    the central bills, the engine's own figure is only shown by the engine.
    """
    session = record.session
    if session is None or session.session_id != telemetry.session_id:
        return unchanged(f"telemetry for session {telemetry.session_id}, which is not open here; ignored")
    if telemetry.seq <= session.last_seq:
        return unchanged(f"telemetry seq {telemetry.seq} <= {session.last_seq}; ignored")
    kwh = max(session.kwh, telemetry.kwh)  # a bill never goes down
    updated = session.model_copy(
        update={
            "last_seq": telemetry.seq,
            "kw": telemetry.kw,
            "kwh": kwh,
            "eur": price(kwh, session.price_per_kwh),
            "started_at": session.started_at or telemetry.sent_at,
            "time_factor": telemetry.time_factor,
            "duration_s": telemetry.duration_s if kwh == telemetry.kwh else session.duration_s,
        }
    )
    new = record.model_copy(update={"session": updated})
    update = SupplyUpdate(
        message_id=derived_id("update", session.session_id, str(telemetry.seq)),
        session_id=session.session_id,
        cp_id=record.cp_id,
        driver_id=session.driver_id,
        seq=telemetry.seq,
        kw=updated.kw,
        kwh=updated.kwh,
        eur=updated.eur,
        time_factor=updated.time_factor,
        duration_s=updated.duration_s,
    )
    effects = (
        Send(t.DRIVER_RESPONSES, update),
        *state_effects(record, new, registry.cp(record.cp_id), telemetry.sent_at, cause=telemetry),
    )
    return Outcome(new, effects, f"session {session.session_id} at {kwh} kWh", live_only=True)


def on_supply_ended(record: CpRecord, ended: SupplyEnded, registry: Registry) -> Outcome:
    """SPEC step 9: the vehicle was unplugged. Close the session, bill it, free the CP.
    A repeated end (the session is already closed) changes nothing."""
    session = record.session
    if session is None or session.session_id != ended.session_id:
        return unchanged(f"end of session {ended.session_id}, which is not open here; ignored")
    final = session.model_copy(update={"kwh": max(session.kwh, ended.kwh), "time_factor": ended.time_factor})
    if ended.kwh >= session.kwh and ended.duration_s is not None:
        final = final.model_copy(update={"duration_s": ended.duration_s})
    return close_session(record, record, final, ended.reason, ended.sent_at, registry, cause=ended)


def on_engine_started(record: CpRecord, started: EngineStarted, registry: Registry) -> Outcome:
    """The engine started afresh: a supply authorised before that is lost with its
    previous life (its container crashed, say, with no monitor left to report a
    fault). Bill it as a fault, up to its last report, and free the CP. A supply
    asked for since is the new engine's own, and goes on. (A session is dated by its
    request: one asked for in the milliseconds between the monitor's authentication
    and the engine taking its id would count as lost, and be billed at 0 kWh.)"""
    session = record.session
    if session is None or utc(session.authorised_at) >= utc(started.sent_at):
        return unchanged("engine started; no earlier supply open here")
    return close_session(record, record, session, EndReason.FAULT, started.sent_at, registry, cause=started)


def on_fault(record: CpRecord, fault: Fault, registry: Registry) -> Outcome:
    """SPEC step 10: the engine is KO. A supply in progress ends at once: the CP is
    told to stop, the driver is told why and billed for what was supplied."""
    if record.health_at is not None and utc(fault.sent_at) < record.health_at:
        return unchanged("fault older than the CP's latest health news; ignored")
    faulty = record.model_copy(update={"engine_ok": False, "health_at": utc(fault.sent_at)})
    if record.session is None:
        return _with_state(record, faulty, registry, fault.sent_at, fault, "engine KO")
    return close_session(
        record, faulty, record.session, EndReason.FAULT, fault.sent_at, registry, cause=fault
    )


def on_health(record: CpRecord, at: datetime, *, ok: bool, registry: Registry, cause: Message) -> Outcome:
    """The engine answers again (or not): a recovery returns the CP to activado."""
    if record.health_at is not None and utc(at) < record.health_at:
        return unchanged("health news older than the CP's latest; ignored")
    new = record.model_copy(update={"engine_ok": ok, "health_at": utc(at)})
    return _with_state(record, new, registry, at, cause, "engine OK" if ok else "engine KO")


def on_connected(record: CpRecord, connected: CpConnected, registry: Registry) -> Outcome:
    """SPEC step 3: the monitor authenticated the CP; its engine's health comes along."""
    at = utc(connected.sent_at)
    update: dict[str, object] = {"connected": True, "connection_id": connected.connection_id}
    if connected.connection_id != record.connection_id:
        update["connected_at"] = at
    if record.health_at is None or at >= record.health_at:
        update |= {"engine_ok": connected.engine_health is EngineHealth.OK, "health_at": at}
    new = record.model_copy(update=update)
    return _with_state(record, new, registry, connected.sent_at, connected, "connected")


def on_disconnected(record: CpRecord, disconnected: CpDisconnected, registry: Registry) -> Outcome:
    """The monitor is gone: desconectado, and no new supply is authorised there.

    A supply in progress goes on (the engine still reports on Kafka) and is
    billed when it ends: a monitor's failure must not cost the driver the charge.
    News about another connection that was sent before the current connection
    began is stale and ignored; any later news applies, whatever connection it
    names (central-auth announces every CP disconnected when it restarts).
    """
    current, since = record.connection_id, record.connected_at
    if disconnected.connection_id != current and since and utc(disconnected.sent_at) < since:
        return unchanged(
            f"connection {disconnected.connection_id} closed before the current one began; ignored"
        )
    new = record.model_copy(update={"connected": False, "connection_id": None, "connected_at": None})
    return _with_state(record, new, registry, disconnected.sent_at, disconnected, "disconnected")


def on_operator(record: CpRecord, command: OperatorCommand, registry: Registry) -> Outcome:
    """SPEC step 13: stop ends any supply (ticket issued) and leaves the CP parado;
    resume returns it to activado. The engine is told either way."""
    info = registry.cp(record.cp_id)
    if info is None:
        return unchanged(f"operator command for unregistered CP {record.cp_id}; ignored")
    if command.action is OperatorAction.STOP:
        tell_cp: Message = StopCp(message_id=derived_id("stop", command.message_id), cp_id=record.cp_id)
        new = record.model_copy(update={"stopped": True})
        if record.session is not None:
            closed = close_session(
                record, new, record.session, EndReason.OPERATOR_STOP, command.sent_at, registry, cause=command
            )
            return Outcome(closed.record, (*closed.effects, Send(t.CP_COMMANDS, tell_cp)), closed.note)
    else:
        tell_cp = ResumeCp(message_id=derived_id("resume", command.message_id), cp_id=record.cp_id)
        new = record.model_copy(update={"stopped": False})
    outcome = _with_state(record, new, registry, command.sent_at, command, command.action.value)
    return Outcome(outcome.record, (*outcome.effects, Send(t.CP_COMMANDS, tell_cp)), outcome.note)


def close_session(
    before: CpRecord,
    record: CpRecord,
    session: Session,
    reason: EndReason,
    ended_at: datetime,
    registry: Registry,
    *,
    cause: Message,
) -> Outcome:
    """End `session` for `reason`: save it, bill it, free the CP.

    `before` is the CP as it was before the event, `record` with the event's own
    facts applied (a fault, a stop), so the state change is judged from `before`.
    When the central ends it (fault, operator), the CP is told to stop and the
    driver is told why before the ticket comes.
    """
    session = session.model_copy(update={"eur": price(session.kwh, session.price_per_kwh)})
    new = record.model_copy(update={"session": None})
    ticket = ticket_for(record.cp_id, session, reason, ended_at)
    effects: list[Effect] = [SaveSupply(_row(record.cp_id, session, ended_at=ended_at, status=reason.value))]
    if reason is not EndReason.UNPLUGGED:
        if not isinstance(cause, SupplyEnded | EngineStarted):  # the engine knows: no need to tell it
            effects.append(
                Send(
                    t.CP_COMMANDS,
                    EndSupply(
                        message_id=derived_id("end", session.session_id),
                        cp_id=record.cp_id,
                        session_id=session.session_id,
                        reason=reason,
                    ),
                )
            )
        effects.append(
            Send(
                t.DRIVER_RESPONSES,
                SupplyInterrupted(
                    message_id=derived_id("interrupted", session.session_id),
                    session_id=session.session_id,
                    cp_id=record.cp_id,
                    driver_id=session.driver_id,
                    reason=reason,
                ),
            )
        )
    effects.append(Send(t.TICKETS, ticket))
    effects.extend(state_effects(before, new, registry.cp(record.cp_id), ended_at, cause=cause))
    note = f"closed session {session.session_id} ({reason}): {session.kwh} kWh, {ticket.total_eur} €"
    return Outcome(new, tuple(effects), note)


def ticket_for(cp_id: str, session: Session, reason: EndReason, ended_at: datetime) -> Ticket:
    """The final bill. Its id is the session id, and so is its message id's source:
    however many times a session is closed, its ticket is one and the same."""
    return Ticket(
        message_id=derived_id("ticket", session.session_id),
        ticket_id=session.session_id,
        cp_id=cp_id,
        driver_id=session.driver_id,
        started_at=session.started_at or session.authorised_at,
        ended_at=ended_at,
        kwh=session.kwh,
        price_per_kwh=session.price_per_kwh,
        total_eur=price(session.kwh, session.price_per_kwh),
        ended_by=reason,
        time_factor=session.time_factor,
        duration_s=session.duration_s,
    )


# --- what the world is told when a CP changes -------------------------------------


def status_of(record: CpRecord, info: CpInfo, cause_id: str) -> CpStatus:
    """The CP's status for `estado_cp`, with its live supply while it has one."""
    session = record.session
    return CpStatus(
        message_id=derived_id("status", record.cp_id, cause_id),
        cp_id=record.cp_id,
        state=record.state,
        location=info.location,
        price_per_kwh=info.price_per_kwh,
        driver_id=session.driver_id if session else None,
        session_id=session.session_id if session else None,
        kw=session.kw if session else None,
        kwh=session.kwh if session else None,
        eur=session.eur if session else None,
        time_factor=session.time_factor if session else Decimal(1),
        duration_s=session.duration_s if session else None,
    )


def state_effects(
    old: CpRecord, new: CpRecord, info: CpInfo | None, at: datetime, *, cause: Message
) -> list[Effect]:
    """A changed state is saved in `charging_points` and published; changed live
    figures are published only. An unregistered CP has no status to show."""
    if info is None:
        return []
    effects: list[Effect] = []
    if new.state != old.state:
        effects.append(SaveCpState(new.cp_id, new.state, at))
    if new.state != old.state or new.session != old.session:
        effects.append(Send(t.CP_STATUS, status_of(new, info, cause.message_id)))
    return effects


def _with_state(
    old: CpRecord, new: CpRecord, registry: Registry, at: datetime, cause: Message, what: str
) -> Outcome:
    if new == old:
        return unchanged(f"{what}: no change")
    effects = tuple(state_effects(old, new, registry.cp(new.cp_id), at, cause=cause))
    return Outcome(new, effects, f"{what}: {old.state} -> {new.state}")


def _remember(record: CpRecord, request_id: str) -> tuple[str, ...]:
    return (*record.recent_requests, request_id)[-RECENT_REQUESTS:]


def _row(cp_id: str, session: Session, *, ended_at: datetime | None, status: str) -> SupplyRow:
    return SupplyRow(
        session_id=session.session_id,
        driver_id=session.driver_id,
        cp_id=cp_id,
        started_at=session.started_at or session.authorised_at,
        ended_at=ended_at,
        kwh=session.kwh,
        eur=price(session.kwh, session.price_per_kwh),
        price_per_kwh=session.price_per_kwh,
        status=status,
        time_factor=session.time_factor,
        duration_s=session.duration_s,
    )
