"""What an OCPP charger's transaction messages say in the network's terms, as pure
functions: no WebSocket, no Kafka, no clock.

- A MeterValues sample is the supply's telemetry. Its energy is the charger's
  register (`Energy.Active.Import.Register`, the measurand OCPP assumes when none is
  named), so the supply's kWh are the register minus its value at StartTransaction.
- A report's `seq` is the milliseconds from the transaction's start to the sample, by
  the charger's clock, and it is dated by the sample: it grows with every sample, and
  the same sample sent again (a charger replays its queue after a reconnection) is the
  same record, so the central drops a repeat and an older sample as it does an engine's.
- StopTransaction's `meterStop` is the supply's final figure: the ticket bills exactly
  the meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ocpp.v16.enums import AuthorizationStatus, Measurand, Reason, UnitOfMeasure, ValueFormat

from evcharging import messages as m
from evcharging.exhaustive import every_member
from evcharging.pricing import WATT_HOUR, cost

ENERGY = Measurand.energy_active_import_register
POWER = Measurand.power_active_import
MILLISECOND = Decimal("0.001")
_TO_KWH = {UnitOfMeasure.wh: Decimal("0.001"), UnitOfMeasure.kwh: Decimal(1)}
_TO_KW = {UnitOfMeasure.w: Decimal("0.001"), UnitOfMeasure.kw: Decimal(1)}


@dataclass(frozen=True)
class Reading:
    """One MeterValue: when, the energy register (kWh) and the power (kW), if sent."""

    at: datetime
    register_kwh: Decimal | None
    power_kw: Decimal | None


def readings(meter_values: list[dict[str, Any]]) -> list[Reading]:
    """The readings of a MeterValues (or StopTransaction's transactionData) payload."""
    return [
        Reading(
            at=moment(value["timestamp"]),
            register_kwh=_measured(value["sampled_value"], ENERGY, _TO_KWH),
            power_kw=_measured(value["sampled_value"], POWER, _TO_KW),
        )
        for value in meter_values
    ]


def moment(timestamp: str) -> datetime:
    """An OCPP timestamp as an aware UTC datetime (one without a zone is taken as UTC)."""
    parsed = datetime.fromisoformat(timestamp)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _measured(
    samples: list[dict[str, Any]], measurand: str, units: dict[UnitOfMeasure, Decimal]
) -> Decimal | None:
    """The value of `measurand` in the wanted unit: the total, or the sum of its phases
    when only those are sent; None when it is not there (or signed, or in another unit)."""
    total: Decimal | None = None
    phases: list[Decimal] = []
    for sample in samples:
        signed = sample.get("format", ValueFormat.raw) != ValueFormat.raw
        if signed or sample.get("measurand", ENERGY) != measurand:
            continue
        default_unit = UnitOfMeasure.wh if measurand == ENERGY else UnitOfMeasure.w
        factor = units.get(UnitOfMeasure(sample.get("unit", default_unit)))
        try:
            value = Decimal(sample["value"])
        except InvalidOperation:
            continue
        if factor is None or not value.is_finite() or value < 0:
            continue
        if sample.get("phase") is None:
            total = value * factor
        else:
            phases.append(value * factor)
    return total if total is not None else (sum(phases, Decimal(0)) if phases else None)


def supplied_kwh(transaction: m.OcppTransaction, register_kwh: Decimal) -> Decimal:
    """The energy of the supply so far: the register's rise since the start, to the Wh."""
    start = Decimal(transaction.meter_start_wh) * Decimal("0.001")
    return max(register_kwh - start, Decimal(0)).quantize(WATT_HOUR)


def seq_of(transaction: m.OcppTransaction, at: datetime) -> int | None:
    """A reading's place in the supply (ms since its start); None before the start."""
    elapsed = at - transaction.started_at
    milliseconds = elapsed.days * 86_400_000 + elapsed.seconds * 1000 + elapsed.microseconds // 1000
    return milliseconds if milliseconds >= 0 else None


def power_between(earlier: Reading | None, later: Reading) -> Decimal:
    """The power of `later`: as sent, else the energy's rise since `earlier` over the time."""
    if later.power_kw is not None:
        return later.power_kw.quantize(MILLISECOND)
    if earlier is None or earlier.register_kwh is None or later.register_kwh is None:
        return Decimal(0)
    hours = Decimal((later.at - earlier.at).total_seconds()) / 3600
    if hours <= 0:
        return Decimal(0)
    return max((later.register_kwh - earlier.register_kwh) / hours, Decimal(0)).quantize(MILLISECOND)


def telemetry(transaction: m.OcppTransaction, reading: Reading, kw: Decimal) -> m.Telemetry | None:
    """The supply's report for one reading; None for one without energy or before the start."""
    seq = seq_of(transaction, reading.at)
    if seq is None or reading.register_kwh is None:
        return None
    kwh = supplied_kwh(transaction, reading.register_kwh)
    return m.Telemetry(
        message_id=f"{transaction.session_id}-ocpp-{seq}",
        sent_at=reading.at,
        cp_id=transaction.cp_id,
        session_id=transaction.session_id,
        seq=seq,
        kw=kw,
        kwh=kwh,
        eur=cost(kwh, transaction.price_per_kwh),
        duration_s=Decimal(seq) * MILLISECOND,
    )


def supply_ended(
    transaction: m.OcppTransaction, meter_stop_wh: int, at: datetime, reason: m.EndReason
) -> m.SupplyEnded:
    """The end of the supply at StopTransaction: the meter's final figure, billed as is."""
    kwh = supplied_kwh(transaction, Decimal(meter_stop_wh) * Decimal("0.001"))
    seq = seq_of(transaction, at) or 0
    return m.SupplyEnded(
        message_id=f"{transaction.session_id}-ocpp-end",
        sent_at=at,
        cp_id=transaction.cp_id,
        session_id=transaction.session_id,
        seq=seq,
        kwh=kwh,
        eur=cost(kwh, transaction.price_per_kwh),
        reason=reason,
        duration_s=Decimal(seq) * MILLISECOND,
    )


def end_reason(reason: str | None) -> m.EndReason:
    """Why a charger stopped, as the ticket says it: a power loss or a reset is the
    charger leaving (as an engine stopping), an emergency stop a fault, anything else
    (the car unplugged, the driver's card, the central's own stop) the normal end."""
    match reason:
        case Reason.emergency_stop:
            return m.EndReason.FAULT
        case Reason.power_loss | Reason.reboot | Reason.hard_reset | Reason.soft_reset:
            return m.EndReason.DISCONNECTED
        case _:
            return m.EndReason.UNPLUGGED


AUTHORIZATION = every_member(
    m.DenialReason,
    {
        m.DenialReason.UNKNOWN_DRIVER: AuthorizationStatus.invalid,
        m.DenialReason.UNKNOWN_CP: AuthorizationStatus.blocked,
        m.DenialReason.CP_BUSY: AuthorizationStatus.concurrent_tx,
        m.DenialReason.CP_STOPPED: AuthorizationStatus.blocked,
        m.DenialReason.CP_FAULTY: AuthorizationStatus.blocked,
        m.DenialReason.CP_DISCONNECTED: AuthorizationStatus.blocked,
        m.DenialReason.REQUEST_EXPIRED: AuthorizationStatus.expired,
    },
)
"""What a charger is told (idTagInfo.status) when the central denies a driver there:
an unknown driver is an invalid card; a busy CP a transaction already in progress."""
