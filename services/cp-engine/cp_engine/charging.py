"""What a charging point does, as pure functions: no sockets, no Kafka, no clock.

Every function takes the engine as it is and returns it as it becomes, with the
messages it must send. Energy is counted in whole ticks: the final figures of a
supply are always those of its last telemetry, so the ticket bills exactly what
the CP reported. Each report also says how long the reported energy took to
charge, in the CP's time (`duration_s`, the ticks × their length), and how fast
the CP's clock runs (`time_factor`), so what is shown adds up: kWh = kW × h.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from evcharging import messages as m
from evcharging.pricing import WATT_HOUR, cost

MILLISECOND = Decimal("0.001")
SECONDS_PER_HOUR = Decimal(3600)

REQUEST_LIFETIME = timedelta(seconds=15)
"""A supply asked for at the CP is void if the central has not answered by then."""


class Phase(StrEnum):
    UNASSIGNED = "waiting for a monitor"
    READY = "ready"
    AUTHORISED = "authorised: plug in the vehicle"
    SUPPLYING = "supplying"
    STOPPED = "stopped by the operator"


@dataclass(frozen=True)
class Session:
    session_id: str
    driver_id: str
    price_per_kwh: Decimal
    authorised_at: float
    plugged_at: float | None = None
    sent: int = 0
    kw: Decimal = Decimal("0")
    kwh: Decimal = Decimal("0")
    eur: Decimal = Decimal("0")
    energy: Decimal = Decimal("0")
    """The exact energy so far; `kwh` is it rounded to the Wh (rounding each tick's sum
    instead would let the error grow with the number of ticks)."""
    seconds: Decimal = Decimal("0")
    """Charging time so far, in the CP's time: what `kwh` covers."""


@dataclass(frozen=True)
class Engine:
    cp_id: str | None = None
    phase: Phase = Phase.UNASSIGNED
    faulty: bool = False
    session: Session | None = None
    time_factor: Decimal = Decimal(1)
    """Seconds of charging per real second (CP_TIME_FACTOR): told to the central."""


@dataclass(frozen=True)
class Step:
    """The engine after an action, what it must send, and what a person should read."""

    engine: Engine
    messages: list[m.Message] = field(default_factory=list)
    note: str = ""
    refused: bool = False


def refuse(engine: Engine, why: str) -> Step:
    """The action does not apply to the engine as it is; nothing changes."""
    return Step(engine, note=why, refused=True)


def assign_identity(engine: Engine, cp_id: str) -> Step:
    """The monitor authenticated the CP as `cp_id`."""
    if engine.cp_id == cp_id:
        return Step(engine)
    if engine.session is not None:
        return refuse(engine, f"kept id {engine.cp_id}: a supply is in progress")
    phase = Phase.READY if engine.phase == Phase.UNASSIGNED else engine.phase
    # A first identity in this process's life: the central may still hold a supply of
    # a previous life (the engine or its container crashed), which this engine never
    # will report. Saying so lets the central bill it and free the CP.
    started: list[m.Message] = [m.EngineStarted(cp_id=cp_id)] if engine.cp_id is None else []
    return Step(replace(engine, cp_id=cp_id, phase=phase), started, f"this CP is now {cp_id}")


def on_command(engine: Engine, command: m.Message, now: float) -> Step:
    """Apply a command from the central. Repeated commands change nothing."""
    if isinstance(command, m.StartSupply):
        return _authorise(engine, command, now)
    if isinstance(command, m.EndSupply):
        if engine.session is None or engine.session.session_id != command.session_id:
            return refuse(engine, f"no supply {command.session_id} to end")
        return _finish(engine, command.reason)
    if isinstance(command, m.StopCp):
        stopped = _finish(engine, m.EndReason.OPERATOR_STOP) if engine.session else Step(engine)
        return Step(replace(stopped.engine, phase=Phase.STOPPED), stopped.messages, "stopped by the operator")
    if isinstance(command, m.ResumeCp):
        if engine.phase != Phase.STOPPED:
            return Step(engine)
        return Step(replace(engine, phase=Phase.READY), note="resumed by the operator")
    if isinstance(command, m.SupplyDenied):
        return Step(engine, note=f"supply for {command.driver_id} denied: {command.reason}")
    return refuse(engine, f"ignored {type(command).__name__}")


def _authorise(engine: Engine, command: m.StartSupply, now: float) -> Step:
    if engine.session is not None and engine.session.session_id == command.session_id:
        return Step(engine)
    if engine.phase != Phase.READY or engine.faulty:
        return refuse(engine, f"cannot start {command.session_id}: CP is {engine.phase}")
    session = Session(command.session_id, command.driver_id, command.price_per_kwh, authorised_at=now)
    return Step(
        replace(engine, phase=Phase.AUTHORISED, session=session),
        note=f"supply authorised for {command.driver_id}: plug in the vehicle",
    )


def plug_in(engine: Engine, now: float) -> Step:
    if engine.phase != Phase.AUTHORISED or engine.session is None:
        return refuse(engine, "nothing to plug in: no supply is authorised")
    if engine.faulty:
        return refuse(engine, "cannot supply: the CP is faulty")
    session = replace(engine.session, plugged_at=now)
    return Step(replace(engine, phase=Phase.SUPPLYING, session=session), note="vehicle plugged in")


def unplug(engine: Engine) -> Step:
    if engine.session is None:
        return refuse(engine, "nothing is plugged in")
    return _finish(engine, m.EndReason.UNPLUGGED)


def shut_down(engine: Engine) -> Step:
    """The engine is being stopped (SIGTERM, e.g. `docker compose stop`): a CP that
    leaves the network must not leave a supply open. A supply in progress (or one
    authorised and not plugged in yet) ends now, reported like any end with the
    figures of its last telemetry, as `disconnected`; the central closes the session
    and the driver gets the ticket for what was supplied."""
    if engine.session is None:
        return Step(engine, note="stopping")
    ended = _finish(engine, m.EndReason.DISCONNECTED)
    return Step(ended.engine, ended.messages, f"stopping: {ended.note}")


def tick(engine: Engine, kw: Decimal, hours: Decimal) -> Step:
    """One telemetry period of `hours` at `kw`: add the energy and report it."""
    session = engine.session
    if engine.phase != Phase.SUPPLYING or session is None or engine.cp_id is None:
        return Step(engine)
    energy = session.energy + kw * hours
    kwh = energy.quantize(WATT_HOUR)
    session = replace(
        session,
        kw=kw,
        kwh=kwh,
        eur=cost(kwh, session.price_per_kwh),
        sent=session.sent + 1,
        energy=energy,
        seconds=session.seconds + hours * SECONDS_PER_HOUR,
    )
    telemetry = m.Telemetry(
        cp_id=engine.cp_id,
        session_id=session.session_id,
        seq=session.sent - 1,
        kw=kw,
        kwh=session.kwh,
        eur=session.eur,
        time_factor=engine.time_factor,
        duration_s=charging_seconds(session),
    )
    return Step(replace(engine, session=session), [telemetry])


def charging_seconds(session: Session) -> Decimal:
    """The session's charging time as reported: to the millisecond."""
    return session.seconds.quantize(MILLISECOND)


def inject_fault(engine: Engine) -> Step:
    """A fault stops the supply at once: a faulty charger must not deliver energy."""
    faulty = replace(engine, faulty=True)
    if engine.session is None:
        return Step(faulty, note="fault injected (KO)")
    ended = _finish(faulty, m.EndReason.FAULT)
    return Step(ended.engine, ended.messages, "fault injected (KO): supply ended")


def clear_fault(engine: Engine) -> Step:
    if not engine.faulty:
        return Step(engine)
    return Step(replace(engine, faulty=False), note="fault cleared (OK)")


def request_here(engine: Engine, driver_id: str, now: datetime) -> Step:
    """A person at the CP asks to charge for `driver_id`; the central decides."""
    if engine.cp_id is None:
        return refuse(engine, "this CP has no id yet: its monitor has not authenticated it")
    if engine.phase != Phase.READY:
        return refuse(engine, f"cannot request a supply: CP is {engine.phase}")
    request = m.SupplyRequest(
        cp_id=engine.cp_id,
        driver_id=driver_id,
        origin=m.RequestOrigin.CP,
        expires_at=now.astimezone(UTC) + REQUEST_LIFETIME,
    )
    return Step(engine, [request], f"supply requested for {driver_id}; waiting for the central")


def _finish(engine: Engine, reason: m.EndReason) -> Step:
    session = engine.session
    assert session is not None
    assert engine.cp_id is not None
    ended = m.SupplyEnded(
        cp_id=engine.cp_id,
        session_id=session.session_id,
        seq=session.sent,
        kwh=session.kwh,
        eur=session.eur,
        reason=reason,
        time_factor=engine.time_factor,
        duration_s=charging_seconds(session),
    )
    phase = Phase.STOPPED if engine.phase == Phase.STOPPED else Phase.READY
    note = f"supply {session.session_id} ended ({reason}): {session.kwh} kWh, {session.eur} €"
    return Step(replace(engine, phase=phase, session=None), [ended], note)
