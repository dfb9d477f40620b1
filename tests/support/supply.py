"""One supply through the real rules, in memory: the engine's (cp_engine.charging, with
its energy model) and the central's (central_stream.rules). No Kafka, no clock: the
messages get the `sent_at` a real run would give them, one telemetry period apart.

Unit tests of what the driver and the page show use it to check that what a person
reads adds up — energy = average power × the charging time shown — for a CP that runs
in real time and for a demo CP whose clock runs fast.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from central_stream import rules
from central_stream.rules import CpInfo, CpRecord
from cp_engine import charging
from cp_engine.charging import Engine
from cp_engine.simulation import Charger
from evcharging import messages as m
from tests.support.registry import StaticRegistry

CP = "CP-SIM"
DRIVER = "DRV001"
PRICE = Decimal("0.350")
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
REGISTRY = StaticRegistry.of([CpInfo(CP, "Alicante, Av. de la Estación 12", PRICE)], [DRIVER])


@dataclass
class Supply:
    """Everything the supply produced, in order."""

    time_factor: Decimal
    telemetry: list[m.Telemetry] = field(default_factory=list)
    updates: list[m.SupplyUpdate] = field(default_factory=list)
    statuses: list[m.CpStatus] = field(default_factory=list)
    rows: list[rules.SupplyRow] = field(default_factory=list)
    ticket: m.Ticket | None = None

    def average_kw(self, ticks: int | None = None) -> Decimal:
        """The mean power the CP reported over its first `ticks` telemetry records."""
        reports = self.telemetry[:ticks]
        return sum((t.kw for t in reports), Decimal(0)) / len(reports)


class Central:
    """central-stream's rules for one CP, keeping what they send."""

    def __init__(self, supply: Supply) -> None:
        self.record = CpRecord(cp_id=CP)
        self.supply = supply

    def apply(self, event: rules.Inbound) -> list[m.Message]:
        outcome = rules.apply(self.record, event, REGISTRY, event.sent_at)
        self.record = outcome.record or self.record
        for effect in outcome.effects:
            if isinstance(effect, rules.SaveSupply):
                self.supply.rows.append(effect.row)
        for message in outcome.messages:
            if isinstance(message, m.SupplyUpdate):
                self.supply.updates.append(message)
            elif isinstance(message, m.CpStatus):
                self.supply.statuses.append(message)
            elif isinstance(message, m.Ticket):
                self.supply.ticket = message
        return outcome.messages


def simulate(
    time_factor: Decimal, ticks: int, period: float = 1.0, rated_kw: Decimal = Decimal(22), seed: int = 7
) -> Supply:
    """A driver's request, the plug, `ticks` telemetry periods of charging, and the unplug."""
    supply = Supply(time_factor)
    central = Central(supply)
    charger = Charger(rated_kw, time_factor)
    rng = random.Random(seed)
    engine = charging.assign_identity(Engine(time_factor=time_factor), CP).engine

    central.apply(m.CpConnected(cp_id=CP, connection_id="c1", engine_health=m.EngineHealth.OK, sent_at=T0))
    request = m.SupplyRequest(cp_id=CP, driver_id=DRIVER, sent_at=T0, expires_at=T0 + timedelta(seconds=10))
    (start,) = [c for c in central.apply(request) if isinstance(c, m.StartSupply)]
    engine = charging.on_command(engine, start, now=0.0).engine
    engine = charging.plug_in(engine, now=2.0).engine
    plugged = T0 + timedelta(seconds=2)
    for tick in range(1, ticks + 1):
        step = charging.tick(engine, charger.power(rng), charger.hours(period))
        engine = step.engine
        for message in step.messages:
            assert isinstance(message, m.Telemetry)
            report = message.model_copy(update={"sent_at": plugged + timedelta(seconds=tick * period)})
            supply.telemetry.append(report)
            central.apply(report)
    (ended,) = charging.unplug(engine).messages
    assert isinstance(ended, m.SupplyEnded)
    central.apply(ended.model_copy(update={"sent_at": plugged + timedelta(seconds=ticks * period + 0.4)}))
    return supply
