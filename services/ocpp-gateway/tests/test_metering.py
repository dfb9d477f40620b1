"""What a charger's meter readings and stop mean to the network (ocpp_gateway.metering)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.v16.enums import AuthorizationStatus

from evcharging import messages as m
from ocpp_gateway import metering

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TRANSACTION = m.OcppTransaction(
    cp_id="OCPP01",
    transaction_id=7,
    session_id="s1",
    driver_id="D1",
    price_per_kwh=Decimal("0.400"),
    meter_start_wh=120_000,
    started_at=START,
)


def sampled(
    *samples: dict[str, str], at: datetime = START + timedelta(seconds=30)
) -> list[dict[str, object]]:
    return [{"timestamp": at.isoformat(), "sampled_value": list(samples)}]


def test_a_reading_is_telemetry_of_the_register_rise_since_the_start() -> None:
    (reading,) = metering.readings(
        sampled({"value": "121500"}, {"value": "7400", "measurand": "Power.Active.Import"})
    )
    report = metering.telemetry(TRANSACTION, reading, metering.power_between(None, reading))
    assert report is not None
    assert (report.kwh, report.kw, report.eur, report.seq) == (
        Decimal("1.500"),
        Decimal("7.400"),
        Decimal("0.60"),
        30_000,
    )
    assert report.duration_s == Decimal("30.000")


def test_the_same_reading_sent_again_is_the_same_report() -> None:
    (reading,) = metering.readings(sampled({"value": "121500"}))
    first = metering.telemetry(TRANSACTION, reading, Decimal(0))
    again = metering.telemetry(TRANSACTION, reading, Decimal(0))
    assert first is not None
    assert again is not None
    assert (first.message_id, first.seq) == (again.message_id, again.seq)


def test_kilowatt_hours_and_kilowatts_are_read_in_their_units_and_phases_add_up() -> None:
    samples = (
        {"value": "121.5", "unit": "kWh"},
        {"value": "2", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
        {"value": "2.5", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L2"},
    )
    (reading,) = metering.readings(sampled(*samples))
    assert (reading.register_kwh, reading.power_kw) == (Decimal("121.5"), Decimal("4.5"))


def test_other_measurands_signed_values_and_nonsense_are_left_out() -> None:
    samples = (
        {"value": "99", "measurand": "SoC", "unit": "Percent"},
        {"value": "abc"},
        {"value": "1", "format": "SignedData"},
    )
    (reading,) = metering.readings(sampled(*samples))
    assert (reading.register_kwh, reading.power_kw) == (None, None)
    assert metering.telemetry(TRANSACTION, reading, Decimal(0)) is None


def test_without_a_power_figure_the_power_is_the_energy_over_the_time() -> None:
    earlier = metering.Reading(START, Decimal("120"), None)
    later = metering.Reading(START + timedelta(minutes=30), Decimal("125"), None)
    assert metering.power_between(earlier, later) == Decimal("10.000")
    assert metering.power_between(None, later) == Decimal(0)


def test_a_reading_before_the_start_is_not_a_report() -> None:
    (reading,) = metering.readings(sampled({"value": "121000"}, at=START - timedelta(seconds=1)))
    assert metering.telemetry(TRANSACTION, reading, Decimal(0)) is None


def test_a_timestamp_without_a_zone_is_utc() -> None:
    assert metering.moment("2026-11-30T12:00:00") == START
    assert metering.moment("2026-11-30T13:00:00+01:00") == START


def test_the_end_bills_exactly_the_meter() -> None:
    ended = metering.supply_ended(TRANSACTION, 133_457, START + timedelta(hours=1), m.EndReason.UNPLUGGED)
    assert (ended.kwh, ended.eur, ended.session_id) == (Decimal("13.457"), Decimal("5.38"), "s1")


@pytest.mark.parametrize(
    ("reason", "ending"),
    [
        (None, m.EndReason.UNPLUGGED),
        ("EVDisconnected", m.EndReason.UNPLUGGED),
        ("Local", m.EndReason.UNPLUGGED),
        ("Remote", m.EndReason.UNPLUGGED),
        ("EmergencyStop", m.EndReason.FAULT),
        ("PowerLoss", m.EndReason.DISCONNECTED),
        ("Reboot", m.EndReason.DISCONNECTED),
    ],
)
def test_why_a_charger_stopped_is_the_tickets_ending(reason: str | None, ending: m.EndReason) -> None:
    assert metering.end_reason(reason) is ending


def test_every_denial_has_an_authorization_status() -> None:
    assert metering.AUTHORIZATION[m.DenialReason.UNKNOWN_DRIVER] is AuthorizationStatus.invalid
    assert metering.AUTHORIZATION[m.DenialReason.CP_BUSY] is AuthorizationStatus.concurrent_tx
    assert set(metering.AUTHORIZATION) == set(m.DenialReason)
