"""Simulated charging points: the real engine rules and the real monitor client.

Each simulated CP is what `cp-engine` + `cp-monitor` are, minus the containers:

- its *engine* is `cp_engine.charging`, the pure rules the real engine runs,
  fed with the central's commands and ticking telemetry while it supplies;
- its *monitor* is `evcharging.auth_client.AuthClient`, the client the real
  monitor runs: it registers the CP, authenticates it over TCP and heart-beats
  every second with the engine's health, at once when that health changes.

The monitor checks its engine once a second, as the real one does; each CP has
its own phase within the second, so a fault is seen 0–1 s after it happens.
A whole fleet shares one Kafka producer and (through `bench.feed`) one consumer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cp_engine import charging
from evcharging import messages as m
from evcharging import topics as t
from evcharging.auth_client import AuthClient, CpProfile, LinkState
from evcharging.kafka import ContractProducer

log = logging.getLogger(__name__)

PRICE = Decimal("0.350")
RATED_KW = Decimal("22")
PACING = 0.05
"""The telemetry of all supplying engines goes out in slices this often (s), evenly."""


@dataclass
class SimulatedCp:
    cp_id: str
    monitor: AuthClient
    engine: charging.Engine
    check_phase: float
    """When, within each second, its monitor checks the engine."""
    monitor_sees: m.EngineHealth = m.EngineHealth.OK
    task: asyncio.Task[None] | None = None


class Emitted:
    """When each telemetry report was sent, kept only while it may still be relayed.

    central-stream relays a CP's reports in order and skips older ones it had no
    time for (conflation), so once report `seq` of a session is relayed, none
    before it will be: they are dropped then, and a session's last ones when its
    ticket comes. Kept all, the unrelayed reports of 10,000 CPs would grow by
    thousands a second — memory, and garbage-collector pauses in the loop that
    times the rest."""

    def __init__(self) -> None:
        self._sessions: dict[str, dict[int, float]] = {}

    def sent(self, session: str, seq: int, at: float) -> None:
        self._sessions.setdefault(session, {})[seq] = at

    def relayed(self, session: str, seq: int) -> float | None:
        """When report `seq` was sent, the first time it is relayed (None after, or if unknown)."""
        reports = self._sessions.get(session)
        if reports is None:
            return None
        sent = reports.pop(seq, None)
        for older in [number for number in reports if number < seq]:
            del reports[older]
        return sent

    def forget(self, session: str) -> None:
        """The session is billed: nothing of it will be relayed any more."""
        self._sessions.pop(session, None)

    def __len__(self) -> int:
        return sum(map(len, self._sessions.values()))


@dataclass
class Accounts:
    """What the engines sent, to be compared with what the central made of it."""

    emitted: Emitted = field(default_factory=Emitted)
    """When the engines sent each telemetry report not yet relayed."""
    ended: dict[str, Decimal] = field(default_factory=dict)
    """session -> the kWh of its final report (SupplyEnded)."""
    telemetry_sent: int = 0
    heartbeats: int = 0
    disconnections: int = 0


class Fleet:
    def __init__(
        self,
        auth_address: str,
        enrolment_key: str,
        prefix: str,
        producer: ContractProducer,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._auth_address = auth_address
        self._enrolment_key = enrolment_key
        self._prefix = prefix
        self._producer = producer
        self._clock = clock
        self.cps: dict[str, SimulatedCp] = {}
        self._supplying: dict[str, None] = {}
        self.central_says: dict[str, m.CpState] = {}
        self.accounts = Accounts()
        self.telemetry_rate = 1.0
        """Telemetry messages per second per supplying engine (1 in the product)."""

    # --- monitors -------------------------------------------------------------------

    def cp_id(self, number: int) -> str:
        return f"{self._prefix}C{number:05d}"

    async def grow_to(self, size: int, wave: int = 250, on_wave: Callable[[int], None] | None = None) -> None:
        """Start monitors until `size` CPs are authenticated, `wave` at a time, as
        a network's stations come online; the rest keep heart-beating meanwhile."""
        while len(self.cps) < size:
            new = [
                self._start_cp(self.cp_id(n)) for n in range(len(self.cps), min(size, len(self.cps) + wave))
            ]
            try:
                await asyncio.wait_for(asyncio.gather(*(cp.monitor.wait_authenticated() for cp in new)), 120)
            except TimeoutError:
                log.warning(
                    "%d monitors not authenticated after 120 s; going on", len(self.cps) - self.connected()
                )
            if on_wave is not None:
                on_wave(len(self.cps))

    def _start_cp(self, cp_id: str) -> SimulatedCp:
        cp = SimulatedCp(
            cp_id=cp_id,
            monitor=AuthClient(
                self._auth_address,
                enrolment_key=self._enrolment_key,
                profile=CpProfile(location="Load generator", price_per_kwh=PRICE),
                cp_id=cp_id,
                on_state=self._count_disconnection,
            ),
            engine=charging.assign_identity(charging.Engine(), cp_id).engine,
            check_phase=random.random(),
        )
        cp.task = asyncio.create_task(cp.monitor.run(lambda: self._health_of(cp)), name=f"monitor {cp_id}")
        self.cps[cp_id] = cp
        return cp

    def _health_of(self, cp: SimulatedCp) -> m.EngineHealth:
        self.accounts.heartbeats += 1  # the client asks once per heartbeat
        return cp.monitor_sees

    def _count_disconnection(self, state: LinkState, _cp_id: str | None) -> None:
        if state is LinkState.BACKING_OFF:
            self.accounts.disconnections += 1

    def connected(self) -> int:
        return sum(1 for cp in self.cps.values() if cp.monitor.state is LinkState.AUTHENTICATED)

    async def stop(self) -> None:
        tasks = [cp.task for cp in self.cps.values() if cp.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- faults ---------------------------------------------------------------------

    def break_engine(self, cp_id: str) -> float:
        """The engine goes KO now; its monitor sees it at its next check. Returns when."""
        cp = self.cps[cp_id]
        self._apply(cp, charging.inject_fault(cp.engine))
        self._monitor_checks_later(cp)
        return self._clock()

    def repair_engine(self, cp_id: str) -> float:
        cp = self.cps[cp_id]
        self._apply(cp, charging.clear_fault(cp.engine))
        self._monitor_checks_later(cp)
        return self._clock()

    def _monitor_checks_later(self, cp: SimulatedCp) -> None:
        delay = (cp.check_phase - time.time()) % 1.0
        asyncio.get_running_loop().call_later(delay, self._monitor_checks, cp)

    def _monitor_checks(self, cp: SimulatedCp) -> None:
        seen = m.EngineHealth.KO if cp.engine.faulty else m.EngineHealth.OK
        if seen is not cp.monitor_sees:
            cp.monitor_sees = seen
            cp.monitor.nudge()

    # --- engines --------------------------------------------------------------------

    def on_message(self, message: Any) -> None:
        """A command for one of the fleet's engines, or a CP state the central published."""
        if isinstance(message, m.CpStatus):
            self.central_says[message.cp_id] = message.state
            return
        cp = self.cps.get(message.cp_id)
        if cp is None:
            return
        step = charging.on_command(cp.engine, message, self._clock())
        if isinstance(message, m.StartSupply) and not step.refused:
            # the driver plugs in at once: the load is the supply, not the walk to the car
            step = charging.plug_in(step.engine, self._clock())
        self._apply(cp, step)

    def unplug(self, cp_id: str) -> None:
        cp = self.cps[cp_id]
        self._apply(cp, charging.unplug(cp.engine))

    def unplug_all(self) -> None:
        for cp_id in list(self._supplying):
            self.unplug(cp_id)

    def supplying(self) -> int:
        return len(self._supplying)

    def _apply(self, cp: SimulatedCp, step: charging.Step) -> None:
        cp.engine = step.engine
        if cp.engine.phase is charging.Phase.SUPPLYING:
            self._supplying[cp.cp_id] = None
        else:
            self._supplying.pop(cp.cp_id, None)
        for message in step.messages:
            self._send(message)

    def _send(self, message: m.Message) -> None:
        if isinstance(message, m.Telemetry):
            self.accounts.emitted.sent(message.session_id, message.seq, self._clock())
            self.accounts.telemetry_sent += 1
            self._producer.send(t.TELEMETRY, message)
        elif isinstance(message, m.SupplyEnded):
            self.accounts.ended[message.session_id] = message.kwh
            self._producer.send(t.SUPPLY_ENDED, message)
        else:
            raise TypeError(f"an engine does not send {type(message).__name__}")

    async def run_engines(self) -> None:
        """Every supplying engine reports `telemetry_rate` times a second, the
        fleet's reports spread evenly over each second, as independent CPs would be."""
        last, owed, turn = self._clock(), 0.0, 0
        while True:
            await asyncio.sleep(PACING)
            now = self._clock()
            supplying = list(self._supplying)
            owed += len(supplying) * self.telemetry_rate * (now - last)
            last = now
            hours = Decimal(1) / Decimal(3600) / Decimal(str(self.telemetry_rate))
            due = min(int(owed), len(supplying))  # a late loop drops ticks, it does not burst
            for _ in range(due):
                cp = self.cps[supplying[turn % len(supplying)]]
                turn += 1
                self._apply(cp, charging.tick(cp.engine, RATED_KW, hours))
            owed = min(owed - due, float(len(supplying)))
