"""A charging point (engine + monitor) against the real central-auth and Kafka:
authentication, faults and recoveries, crashes of either part, and a supply."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from cp_engine.control import Reply, Snapshot, ask
from evcharging import messages as m
from evcharging.kafka import ContractProducer
from evcharging.topics import CP_COMMANDS, CP_CONNECTIONS, FAULTS, RECOVERIES, SUPPLY_ENDED, TELEMETRY
from tests.support.central_auth import AuthProcess, TestRun, central_auth
from tests.support.kafka import TopicTail
from tests.support.processes import ServiceProcess
from tests.support.stack import Infra, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


class ChargingPoint:
    """An engine and its monitor, run as the seed ran them, with an explicit CP id."""

    def __init__(self, infra: Infra, run: TestRun, auth: AuthProcess, folder: Path) -> None:
        self.cp_id = run.new_cp_id()
        self.control = folder / "engine.sock"
        self.health_port = free_port()
        self.engine = ServiceProcess(
            "cp-engine",
            "cp_engine",
            [infra.kafka_bootstrap, str(self.health_port)],
            folder / "engine.log",
            {
                "ENGINE_CONTROL_SOCKET": str(self.control),
                "CP_TIME_FACTOR": "60",
                "HEALTH_FILE": str(folder / "e"),
            },
        )
        self.monitor = self.start_monitor(run, auth, folder)

    def start_monitor(self, run: TestRun, auth: AuthProcess, folder: Path) -> ServiceProcess:
        return ServiceProcess(
            "cp-monitor",
            "cp_monitor",
            [f"127.0.0.1:{self.health_port}", f"127.0.0.1:{auth.port}", self.cp_id, "Test bench", "0.400"],
            folder / "monitor.log",
            {"CP_ENROLMENT_KEY": run.enrolment_key, "HEALTH_FILE": str(folder / "m")},
        )

    def act(self, action: str) -> Reply:
        return ask(self.control, {"action": action, "driver_id": None})

    def identity(self) -> Snapshot:
        """The engine's status, once its monitor has told it which CP it is."""

        def assigned() -> Snapshot | None:
            status = ask(self.control, {"action": "status"}).status
            return status if status is not None and status.cp_id else None

        return wait_until(assigned, 20, "the engine to learn its CP id")

    def stop(self) -> None:
        self.monitor.kill()
        self.engine.kill()


@pytest.fixture
def auth(infra: Infra, run: TestRun, tmp_path: Path) -> Iterator[AuthProcess]:
    with central_auth(infra, run, tmp_path / "auth.log") as server:
        yield server


@pytest.fixture
def events(infra: Infra) -> Iterator[TopicTail]:
    tail = TopicTail(infra.kafka_bootstrap, [CP_CONNECTIONS, FAULTS, RECOVERIES, TELEMETRY, SUPPLY_ENDED])
    yield tail
    tail.close()


@pytest.fixture
def cp(
    infra: Infra, run: TestRun, auth: AuthProcess, tmp_path: Path, events: TopicTail
) -> Iterator[ChargingPoint]:
    point = ChargingPoint(infra, run, auth, tmp_path)
    try:
        events.wait_for(point.cp_id, CP_CONNECTIONS, 1, timeout=30)
        yield point
    finally:
        point.stop()


def test_engine_and_monitor_authenticate_as_one_cp(cp: ChargingPoint, events: TopicTail) -> None:
    (connected,) = events.of(cp.cp_id, CP_CONNECTIONS)
    assert isinstance(connected, m.CpConnected)
    assert connected.engine_health is m.EngineHealth.OK
    status = cp.identity()
    assert status.cp_id == cp.cp_id
    assert status.phase == "ready"


def test_a_fault_is_reported_within_two_seconds_and_its_recovery_too(
    cp: ChargingPoint, events: TopicTail
) -> None:
    assert cp.act("fault").ok
    (fault,) = events.wait_for(cp.cp_id, FAULTS, 1, timeout=2)
    assert isinstance(fault, m.Fault)
    assert cp.act("clear").ok
    (recovery,) = events.wait_for(cp.cp_id, RECOVERIES, 1, timeout=2)
    assert isinstance(recovery, m.Recovery)


def test_a_dead_engine_is_a_fault(cp: ChargingPoint, events: TopicTail) -> None:
    cp.engine.kill()
    (fault,) = events.wait_for(cp.cp_id, FAULTS, 1, timeout=4)
    assert isinstance(fault, m.Fault)
    assert cp.monitor.running


def test_a_dead_monitor_disconnects_the_cp(cp: ChargingPoint, events: TopicTail) -> None:
    cp.monitor.kill()
    events.wait_for(cp.cp_id, CP_CONNECTIONS, 2, timeout=5)
    assert isinstance(events.of(cp.cp_id, CP_CONNECTIONS)[-1], m.CpDisconnected)


def test_a_supply_reports_every_second_and_ends_with_the_last_totals(
    infra: Infra, cp: ChargingPoint, events: TopicTail
) -> None:
    assert cp.identity().phase == "ready"
    central = ContractProducer(infra.kafka_bootstrap, "test-central")
    central.send(
        CP_COMMANDS,
        m.StartSupply(cp_id=cp.cp_id, session_id="S1", driver_id="DRV001", price_per_kwh=Decimal("0.400")),
    )
    assert central.flush() == 0
    wait_until(lambda: cp.act("plug").ok, 15, "the engine to accept the plug (after the start command)")

    events.wait_for(cp.cp_id, TELEMETRY, 5, timeout=15)
    assert cp.act("unplug").ok

    def end_reports() -> list[object]:
        return [e for e in events.of(cp.cp_id, SUPPLY_ENDED) if isinstance(e, m.SupplyEnded)]

    (ended,) = wait_until(end_reports, 10, "the end of the supply")
    # Before it, when the engine took its id: it started afresh, holding no supply.
    assert [type(e) for e in events.of(cp.cp_id, SUPPLY_ENDED)] == [m.EngineStarted, m.SupplyEnded]

    telemetry = [t for t in events.of(cp.cp_id, TELEMETRY) if isinstance(t, m.Telemetry)]
    assert {t.session_id for t in telemetry} == {"S1"}
    assert [t.seq for t in telemetry] == list(range(len(telemetry)))
    spacing = [(b.sent_at - a.sent_at).total_seconds() for a, b in itertools.pairwise(telemetry)]
    assert all(0.5 <= gap <= 1.5 for gap in spacing), spacing
    last = telemetry[-1]
    assert isinstance(ended, m.SupplyEnded)
    assert (ended.kwh, ended.eur, ended.seq) == (last.kwh, last.eur, last.seq + 1)
    assert ended.kwh > 0
    assert ended.eur == (ended.kwh * Decimal("0.400")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    # CP_TIME_FACTOR=60 here: each report says so, and how long its kWh took in the CP's time
    assert {t.time_factor for t in telemetry} == {ended.time_factor} == {Decimal(60)}
    assert [t.duration_s for t in telemetry] == [Decimal(60) * (t.seq + 1) for t in telemetry]
    assert ended.duration_s == last.duration_s
