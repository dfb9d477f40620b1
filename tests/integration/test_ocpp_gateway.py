"""ocpp-gateway against the real central-auth, Kafka and MariaDB, with a simulated OCPP
1.6J charger (the `ocpp` library's charge-point side over a real TLS WebSocket): a charger
provisioned by `python -m central_auth.chargers` is admitted, becomes a CP, faults and
recovers, and disconnects; a wrong password is refused at the handshake; its transaction
is a supply on Kafka (the test plays central-stream's part: tests/e2e/test_ocpp.py runs
the real one), and a SIGKILL of the gateway in the middle of it loses nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    RegistrationStatus,
)
from websockets import InvalidStatus

from evcharging.kafka import ContractProducer
from evcharging.messages import (
    CpConnected,
    CpDisconnected,
    DenialReason,
    EndReason,
    EngineHealth,
    Fault,
    Message,
    Recovery,
    RequestOrigin,
    StartSupply,
    StopCp,
    SupplyDenied,
    SupplyEnded,
    SupplyRequest,
    Telemetry,
)
from evcharging.topics import CP_COMMANDS, SUPPLY_ENDED, SUPPLY_REQUESTS, TELEMETRY
from tests.integration.test_central_auth_sessions import run, server
from tests.support.central_auth import AuthProcess, CpEvents, TestRun
from tests.support.kafka import TopicTail
from tests.support.ocpp_charger import charger_at
from tests.support.pki import make_pki
from tests.support.processes import ServiceProcess
from tests.support.stack import ROOT, Infra, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

__all__ = ["run", "server"]  # fixtures, imported for pytest

PRICE = Decimal("0.350")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


class GatewayProcess(ServiceProcess):
    """`python -m ocpp_gateway`, as the image runs it, on this host."""

    def __init__(
        self, infra: Infra, auth_port: int, pki: Path, log_path: Path, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        environment = {
            "KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "OCPP_PORT": str(self.port),
            "OCPP_TLS_CERT": str(pki / "central.crt"),
            "OCPP_TLS_KEY": str(pki / "central.key"),
            "CENTRAL_AUTH": f"127.0.0.1:{auth_port}",
            "HEALTH_FILE": str(log_path.with_suffix(".alive")),
        }
        super().__init__("ocpp-gateway", "ocpp_gateway", [], log_path, environment)
        wait_until(self._listening, 30, f"ocpp-gateway to listen on {self.port} (log: {log_path})")

    @property
    def url(self) -> str:
        return f"wss://localhost:{self.port}"

    def _listening(self) -> bool:
        if not self.running:
            raise AssertionError(f"ocpp-gateway exited with {self.process.returncode}:\n{self.log()}")
        return "admitted on wss://" in self.log()


@pytest.fixture(scope="module")
def gateway(
    infra: Infra, server: AuthProcess, pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    log = tmp_path_factory.mktemp("ocpp-gateway") / "ocpp-gateway.log"
    process = GatewayProcess(infra, server.port, pki, log)
    try:
        yield process
    finally:
        process.stop()


def provision(infra: Infra, cp_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m central_auth.chargers add` — what `make ocpp-charger` runs at the central."""
    database = infra.database
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "central_auth.chargers",
            "add",
            cp_id,
            "--location",
            "Muelle 3",
            "--price",
            "0.35",
            *extra,
        ],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "services/central-auth"), str(ROOT / "lib")]),
            "DB_HOST": database.host,
            "DB_PORT": str(database.port),
            "DB_USER": database.user,
            "DB_PASSWORD": database.password,
            "DB_NAME": database.database,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def password_of(provisioned: subprocess.CompletedProcess[str]) -> str:
    assert provisioned.returncode == 0, provisioned.stderr
    line = next(line for line in provisioned.stdout.splitlines() if "password (HTTP Basic" in line)
    return line.rsplit(" ", 1)[1]


def test_a_provisioned_charger_is_a_cp_that_faults_recovers_and_disconnects(
    infra: Infra, run: TestRun, gateway: GatewayProcess, pki: Path, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    password = password_of(provision(infra, cp_id))
    assert len(password) == 20

    async def charge_point_life() -> None:
        async with charger_at(gateway.url, cp_id, password, pki / "ca.crt") as charger:
            assert (await charger.boot()).status == RegistrationStatus.accepted
            await charger.status(ChargePointStatus.available)
            await charger.heartbeat()
            await charger.status(ChargePointStatus.faulted, error_code=ChargePointErrorCode.ground_failure)
            # Waited for off the loop: the charger must go on answering the gateway's pings.
            await asyncio.to_thread(events.wait_for, cp_id, 2)
            await charger.status(ChargePointStatus.available)
            await asyncio.to_thread(events.wait_for, cp_id, 3)

    asyncio.run(charge_point_life())
    connected, fault, recovery, disconnected = events.wait_for(cp_id, 4)
    assert isinstance(connected, CpConnected)
    assert connected.engine_health is EngineHealth.OK
    assert isinstance(fault, Fault)
    assert isinstance(recovery, Recovery)
    assert isinstance(disconnected, CpDisconnected)
    assert disconnected.connection_id == connected.connection_id


def test_a_wrong_password_or_an_unknown_charger_is_refused_at_the_handshake(
    infra: Infra, run: TestRun, gateway: GatewayProcess, pki: Path, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    password = password_of(provision(infra, cp_id))

    async def connect(charger_id: str, secret: str) -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with charger_at(gateway.url, charger_id, secret, pki / "ca.crt"):
                pass
        return refused.value.response.status_code

    assert asyncio.run(connect(cp_id, password[::-1])) == 401
    assert asyncio.run(connect(run.new_cp_id(), password)) == 401
    assert events.of(cp_id) == [], "a refused charger was announced as connected"


def test_provisioning_the_same_charger_twice_changes_nothing(infra: Infra, run: TestRun) -> None:
    cp_id = run.new_cp_id()
    password_of(provision(infra, cp_id))
    again = provision(infra, cp_id)
    assert again.returncode == 1
    assert "credential already" in again.stderr
    bad = provision(infra, "not an id!")
    assert bad.returncode == 2
    assert "is not a CP id" in bad.stderr


def test_a_charger_that_goes_silent_is_desconectado_within_the_monitors_3_s(
    infra: Infra, run: TestRun, gateway: GatewayProcess, pki: Path, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    password = password_of(provision(infra, cp_id))

    async def boot_then_go_silent() -> float:
        async with charger_at(gateway.url, cp_id, password, pki / "ca.crt") as charger:
            await charger.boot()
            await asyncio.to_thread(events.wait_for, cp_id, 1)
            charger.connection.transport.pause_reading()  # no pong from now on, as a cut cable
            silent_at = asyncio.get_running_loop().time()
            disconnected = await asyncio.to_thread(events.wait_for, cp_id, 2, 10.0)
            assert isinstance(disconnected[1], CpDisconnected)
            charger.connection.transport.abort()  # the cut cable's end of it
            return asyncio.get_running_loop().time() - silent_at

    assert asyncio.run(boot_then_go_silent()) < 3.0 + 1.0  # pings: interval 1 s, timeout 2 s


@pytest.fixture
def central(infra: Infra) -> Iterator[tuple[ContractProducer, TopicTail]]:
    """central-stream's side of the topics: what it would send, and what it would read."""
    tail = TopicTail(infra.kafka_bootstrap, [SUPPLY_REQUESTS, TELEMETRY, SUPPLY_ENDED])
    try:
        yield ContractProducer(infra.kafka_bootstrap, "test-central"), tail
    finally:
        tail.close()


def command(producer: ContractProducer, message: Message) -> None:
    producer.send(CP_COMMANDS, message)
    assert producer.flush(10) == 0


def test_a_transaction_is_a_supply_and_a_sigkill_of_the_gateway_in_its_middle_loses_nothing(
    infra: Infra,
    run: TestRun,
    server: AuthProcess,
    pki: Path,
    central: tuple[ContractProducer, TopicTail],
    tmp_path: Path,
) -> None:
    producer, tail = central
    cp_id = run.new_cp_id()
    password = password_of(provision(infra, cp_id))
    started_at = datetime.now(UTC)
    first = GatewayProcess(infra, server.port, pki, tmp_path / "first.log")

    async def until_killed() -> int:
        async with charger_at(first.url, cp_id, password, pki / "ca.crt") as charger:
            await charger.boot()
            authorising = asyncio.create_task(charger.authorize("D1"))
            (request,) = await asyncio.to_thread(tail.wait_for, cp_id, SUPPLY_REQUESTS, 1, 20)
            assert isinstance(request, SupplyRequest)
            assert (request.driver_id, request.origin) == ("D1", RequestOrigin.CP)
            start = StartSupply(cp_id=cp_id, session_id=f"{cp_id}-S1", driver_id="D1", price_per_kwh=PRICE)
            await asyncio.to_thread(command, producer, start)
            assert (await authorising).id_tag_info["status"] == AuthorizationStatus.accepted
            transaction_id = (await charger.start_transaction("D1", 100_000, at=started_at)).transaction_id
            await charger.meter(transaction_id, 101_000, at=started_at + timedelta(seconds=10))
            first.kill()  # SIGKILL, with the charger still connected
            return int(transaction_id)

    async def after_restart(url: str, transaction_id: int) -> None:
        async with charger_at(url, cp_id, password, pki / "ca.crt") as charger:
            await charger.boot()
            # The charger's queue, sent again to the new gateway: the first meter value
            # (its answer may have been lost), the next one, and the stop, twice.
            await charger.meter(transaction_id, 101_000, at=started_at + timedelta(seconds=10))
            await charger.meter(transaction_id, 102_500, at=started_at + timedelta(seconds=20))
            stopped_at = started_at + timedelta(seconds=30)
            await charger.stop_transaction(transaction_id, 103_250, at=stopped_at, reason="EVDisconnected")
            await charger.stop_transaction(transaction_id, 103_250, at=stopped_at, reason="EVDisconnected")

    try:
        transaction_id = asyncio.run(until_killed())
    finally:
        first.kill()
    restarted = GatewayProcess(infra, server.port, pki, tmp_path / "restarted.log", port=first.port)
    try:
        asyncio.run(after_restart(restarted.url, transaction_id))
    finally:
        restarted.stop()
    ends = tail.wait_for(cp_id, SUPPLY_ENDED, 2, 20)
    assert all(isinstance(end, SupplyEnded) for end in ends)
    assert ends[0] == ends[1], "a repeated stop must be the very same record"
    end = ends[0]
    assert isinstance(end, SupplyEnded)
    assert (end.session_id, end.kwh, end.reason) == (f"{cp_id}-S1", Decimal("3.250"), EndReason.UNPLUGGED)
    reports = [t for t in tail.of(cp_id, TELEMETRY) if isinstance(t, Telemetry)]
    assert {(t.seq, t.kwh) for t in reports} == {(10_000, Decimal("1.000")), (20_000, Decimal("2.500"))}


def test_a_denial_reaches_the_card_a_drivers_request_is_a_remote_start_and_an_operator_stop_holds(
    infra: Infra,
    run: TestRun,
    gateway: GatewayProcess,
    pki: Path,
    central: tuple[ContractProducer, TopicTail],
) -> None:
    producer, tail = central
    cp_id = run.new_cp_id()
    password = password_of(provision(infra, cp_id))

    async def remote_start_then_stop() -> list[tuple[str, dict[str, object]]]:
        async with charger_at(gateway.url, cp_id, password, pki / "ca.crt") as charger:
            await charger.boot()
            authorising = asyncio.create_task(charger.authorize("NOBODY"))
            (request,) = await asyncio.to_thread(tail.wait_for, cp_id, SUPPLY_REQUESTS, 1, 20)
            assert isinstance(request, SupplyRequest)
            denial = SupplyDenied(
                request_id=request.request_id,
                cp_id=cp_id,
                driver_id="NOBODY",
                reason=DenialReason.UNKNOWN_DRIVER,
            )
            await asyncio.to_thread(command, producer, denial)
            assert (await authorising).id_tag_info["status"] == AuthorizationStatus.invalid
            start = StartSupply(cp_id=cp_id, session_id=f"{cp_id}-S2", driver_id="D2", price_per_kwh=PRICE)
            await asyncio.to_thread(command, producer, start)
            told = [await charger.next_call()]
            transaction_id = (await charger.start_transaction("D2", 0)).transaction_id
            await asyncio.to_thread(command, producer, StopCp(cp_id=cp_id))
            told += [await charger.next_call(), await charger.next_call()]
            assert told[1] == (Action.remote_stop_transaction, {"transaction_id": transaction_id})
            return told

    told = asyncio.run(remote_start_then_stop())
    assert told[0] == (Action.remote_start_transaction, {"id_tag": "D2", "connector_id": 1})
    assert told[2] == (Action.change_availability, {"connector_id": 0, "type": AvailabilityType.inoperative})
    assert len(tail.of(cp_id, SUPPLY_REQUESTS)) == 1, "a remote start is the driver's request, not a new one"
