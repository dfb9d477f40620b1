"""The simulated charger's physics and the automatic driver's habits."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from cp_engine import charging, settings
from cp_engine.charging import Engine
from cp_engine.simulation import AutoPilot, Charger
from evcharging import messages as m


def test_power_stays_near_the_rating() -> None:
    charger = Charger(rated_kw=Decimal(22))
    rng = random.Random(7)
    draws = [charger.power(rng) for _ in range(500)]
    assert all(Decimal("20.24") <= kw <= Decimal(22) for kw in draws)
    assert len(set(draws)) > 50


def test_time_factor_compresses_charging_time() -> None:
    assert Charger(Decimal(22)).hours(3600) == Decimal(1)
    assert Charger(Decimal(22), time_factor=Decimal(60)).hours(1) == Decimal(60) / Decimal(3600)


def test_energy_grows_with_time() -> None:
    charger = Charger(Decimal(11), time_factor=Decimal(60))
    engine = charging.plug_in(authorised(at=0.0), 0.0).engine
    energies = []
    for _ in range(5):
        engine = charging.tick(engine, charger.power(random.Random(1)), charger.hours(1)).engine
        assert engine.session is not None
        energies.append(engine.session.kwh)
    assert energies == sorted(energies)
    assert energies[-1] > energies[0] > 0


def authorised(at: float) -> Engine:
    engine = charging.assign_identity(Engine(), "CP001").engine
    command = m.StartSupply(cp_id="CP001", session_id="s", driver_id="D1", price_per_kwh=Decimal("0.3"))
    return charging.on_command(engine, command, at).engine


def test_autopilot_plugs_in_after_the_delay_and_unplugs_after_the_duration() -> None:
    pilot = AutoPilot(plug_delay=2, duration=10)
    engine = authorised(at=100.0)
    assert pilot.action(engine, 101.0) is None
    assert pilot.action(engine, 102.0) == "plug"
    engine = charging.plug_in(engine, 102.0).engine
    assert pilot.action(engine, 111.9) is None
    assert pilot.action(engine, 112.0) == "unplug"


def test_autopilot_unplugs_when_the_energy_is_reached() -> None:
    pilot = AutoPilot(plug_delay=0, duration=1e9, energy=Decimal("0.5"))
    engine = charging.plug_in(authorised(at=0.0), 0.0).engine
    engine = charging.tick(engine, Decimal(30), Decimal(1) / 60).engine
    assert pilot.action(engine, 5.0) == "unplug"


def test_autopilot_leaves_a_faulty_cp_alone() -> None:
    engine = charging.inject_fault(authorised(at=0.0)).engine
    assert AutoPilot().action(engine, 100.0) is None


def test_reports_say_how_fast_the_clock_runs_and_how_long_the_energy_took() -> None:
    """kWh = average kW × duration_s, to the Wh: energy is summed exactly and rounded once."""
    charger = Charger(Decimal(22), time_factor=Decimal(60))
    rng = random.Random(3)
    engine = replace(charging.plug_in(authorised(at=0.0), 0.0).engine, time_factor=charger.time_factor)
    powers, reports = [], []
    for _ in range(20):
        kw = charger.power(rng)
        powers.append(kw)
        step = charging.tick(engine, kw, charger.hours(1))
        engine = step.engine
        reports += step.messages
    last = reports[-1]
    assert isinstance(last, m.Telemetry)
    assert (last.time_factor, last.duration_s) == (Decimal(60), Decimal("1200.000"))
    assert last.kwh == (sum(powers, Decimal(0)) / 60).quantize(Decimal("0.001"))
    (ended,) = charging.unplug(engine).messages
    assert isinstance(ended, m.SupplyEnded)
    assert (ended.kwh, ended.time_factor, ended.duration_s) == (last.kwh, Decimal(60), Decimal("1200.000"))


def test_a_real_time_cp_reports_real_seconds() -> None:
    charger = Charger(Decimal(22))
    engine = charging.plug_in(authorised(at=0.0), 0.0).engine
    for _ in range(3):
        engine = charging.tick(engine, Decimal(18), charger.hours(0.5)).engine
    (ended,) = charging.unplug(engine).messages
    assert isinstance(ended, m.SupplyEnded)
    assert (ended.time_factor, ended.duration_s, ended.kwh) == (
        Decimal(1),
        Decimal("1.500"),
        Decimal("0.008"),
    )


@pytest.mark.parametrize("value", ["0", "-1", "1.2345", "fast", "100000"])
def test_a_time_factor_the_contract_cannot_carry_is_refused_at_start(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CP_TIME_FACTOR", value)
    with pytest.raises(SystemExit):
        settings.parse([])


def test_the_time_factor_is_one_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CP_TIME_FACTOR", raising=False)
    assert settings.parse([]).charger.time_factor == 1
    monkeypatch.setenv("CP_TIME_FACTOR", "60")
    assert settings.parse([]).charger.time_factor == 60
