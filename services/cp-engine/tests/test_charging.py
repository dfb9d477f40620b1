"""The charging point's rules: commands, plug/unplug, faults, ticks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from cp_engine import charging
from cp_engine.charging import Engine, Phase
from evcharging import messages as m

PRICE = Decimal("0.350")
HOUR = Decimal(1) / Decimal(3600)


def ready(cp_id: str = "CP001") -> Engine:
    return charging.assign_identity(Engine(), cp_id).engine


def start(session_id: str = "s1", driver_id: str = "DRV001") -> m.StartSupply:
    return m.StartSupply(cp_id="CP001", session_id=session_id, driver_id=driver_id, price_per_kwh=PRICE)


def supplying(ticks: int = 0, kw: str = "22") -> Engine:
    engine = charging.on_command(ready(), start(), now=0.0).engine
    engine = charging.plug_in(engine, now=1.0).engine
    for _ in range(ticks):
        engine = charging.tick(engine, Decimal(kw), HOUR * 60).engine
    return engine


def test_an_engine_has_no_id_until_its_monitor_gives_one() -> None:
    assert Engine().phase is Phase.UNASSIGNED
    engine = ready("CP-A001")
    assert (engine.cp_id, engine.phase) == ("CP-A001", Phase.READY)


def test_start_waits_for_the_vehicle_then_supplies() -> None:
    step = charging.on_command(ready(), start(), now=10.0)
    assert step.engine.phase is Phase.AUTHORISED
    assert "plug in" in step.note
    assert charging.plug_in(step.engine, now=11.0).engine.phase is Phase.SUPPLYING


def test_a_repeated_start_changes_nothing() -> None:
    engine = supplying(ticks=3)
    step = charging.on_command(engine, start(), now=99.0)
    assert step.engine == engine
    assert not step.messages


def test_a_start_for_another_session_while_busy_is_refused() -> None:
    step = charging.on_command(supplying(), start("s2", "DRV002"), now=5.0)
    assert step.refused
    assert step.engine.session is not None
    assert step.engine.session.session_id == "s1"


def test_each_tick_reports_energy_and_cost_with_a_rising_sequence() -> None:
    engine = supplying()
    sent: list[m.Telemetry] = []
    for _ in range(3):
        step = charging.tick(engine, Decimal("21.6"), HOUR * 60)  # one minute at 21.6 kW
        engine = step.engine
        sent += [message for message in step.messages if isinstance(message, m.Telemetry)]
    assert [t.seq for t in sent] == [0, 1, 2]
    assert [t.kwh for t in sent] == [Decimal("0.360"), Decimal("0.720"), Decimal("1.080")]
    assert sent[-1].eur == Decimal("0.38")  # 1.080 kWh x 0.350 = 0.378 -> 0.38


def test_no_telemetry_before_plugging_in() -> None:
    engine = charging.on_command(ready(), start(), now=0.0).engine
    assert charging.tick(engine, Decimal(22), HOUR).messages == []


def test_unplugging_reports_the_totals_of_the_last_telemetry() -> None:
    engine = supplying(ticks=4)
    assert engine.session is not None
    last_kwh, last_eur = engine.session.kwh, engine.session.eur
    step = charging.unplug(engine)
    (ended,) = step.messages
    assert isinstance(ended, m.SupplyEnded)
    assert (ended.kwh, ended.eur, ended.seq, ended.reason) == (last_kwh, last_eur, 4, m.EndReason.UNPLUGGED)
    assert step.engine.phase is Phase.READY
    assert step.engine.session is None


def test_a_fault_ends_the_supply_at_once_and_blocks_new_ones() -> None:
    step = charging.inject_fault(supplying(ticks=2))
    (ended,) = step.messages
    assert isinstance(ended, m.SupplyEnded)
    assert ended.reason is m.EndReason.FAULT
    assert step.engine.faulty
    assert charging.on_command(step.engine, start("s2"), now=3.0).refused
    cleared = charging.clear_fault(step.engine).engine
    assert charging.on_command(cleared, start("s2"), now=4.0).engine.phase is Phase.AUTHORISED


def test_end_supply_from_the_central_ends_only_that_session() -> None:
    engine = supplying(ticks=1)
    other = m.EndSupply(cp_id="CP001", session_id="other", reason=m.EndReason.FAULT)
    assert charging.on_command(engine, other, now=2.0).refused
    mine = m.EndSupply(cp_id="CP001", session_id="s1", reason=m.EndReason.OPERATOR_STOP)
    (ended,) = charging.on_command(engine, mine, now=2.0).messages
    assert isinstance(ended, m.SupplyEnded)
    assert ended.reason is m.EndReason.OPERATOR_STOP


def test_stop_ends_the_supply_and_holds_until_resumed() -> None:
    step = charging.on_command(supplying(ticks=1), m.StopCp(cp_id="CP001"), now=2.0)
    assert step.engine.phase is Phase.STOPPED
    assert [type(message) for message in step.messages] == [m.SupplyEnded]
    assert charging.on_command(step.engine, start("s2"), now=3.0).refused
    resumed = charging.on_command(step.engine, m.ResumeCp(cp_id="CP001"), now=4.0).engine
    assert resumed.phase is Phase.READY


def test_a_supply_asked_for_at_the_cp_goes_to_the_central() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    (request,) = charging.request_here(ready(), "DRV004", now).messages
    assert isinstance(request, m.SupplyRequest)
    assert (request.cp_id, request.driver_id, request.origin) == ("CP001", "DRV004", m.RequestOrigin.CP)
    assert request.expires_at > now
    assert charging.request_here(Engine(), "DRV004", now).refused


def test_a_denial_of_a_supply_asked_for_at_the_cp_is_shown_and_changes_nothing() -> None:
    denial = m.SupplyDenied(
        request_id="r1", cp_id="CP001", driver_id="DRV004", reason=m.DenialReason.UNKNOWN_DRIVER
    )
    step = charging.on_command(ready(), denial, now=1.0)
    assert (step.engine, step.messages, step.refused) == (ready(), [], False)
    assert step.note == "supply for DRV004 denied: unknown_driver"


def test_the_id_does_not_change_during_a_supply() -> None:
    step = charging.assign_identity(supplying(), "CP-A009")
    assert step.refused
    assert step.engine.cp_id == "CP001"
    idle = replace(ready(), cp_id="CP001")
    assert charging.assign_identity(idle, "CP-A009").engine.cp_id == "CP-A009"


def test_a_fresh_engine_says_it_started_when_it_gets_its_first_id_and_only_then() -> None:
    first = charging.assign_identity(Engine(), "CP001")
    (started,) = first.messages
    assert isinstance(started, m.EngineStarted)
    assert started.cp_id == "CP001"
    assert charging.assign_identity(first.engine, "CP001").messages == []
    assert charging.assign_identity(first.engine, "CP002").messages == [], "a new id is not a new life"
