"""ocpp-gateway against the real central-auth, Kafka and MariaDB, with a simulated OCPP
1.6J charger (the `ocpp` library's charge-point side over a real TLS WebSocket): a charger
provisioned by `python -m central_auth.chargers` is admitted, becomes a CP, faults and
recovers, and disconnects; a wrong password is refused at the handshake."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, RegistrationStatus
from websockets import InvalidStatus

from evcharging.messages import CpConnected, CpDisconnected, EngineHealth, Fault, Recovery
from tests.integration.test_central_auth_sessions import run, server
from tests.support.central_auth import AuthProcess, CpEvents, TestRun
from tests.support.ocpp_charger import charger_at
from tests.support.pki import make_pki
from tests.support.processes import ServiceProcess
from tests.support.stack import ROOT, Infra, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

__all__ = ["run", "server"]  # fixtures, imported for pytest


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


class GatewayProcess(ServiceProcess):
    """`python -m ocpp_gateway`, as the image runs it, on this host."""

    def __init__(self, auth_port: int, pki: Path, log_path: Path) -> None:
        self.port = free_port()
        environment = {
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
    server: AuthProcess, pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = GatewayProcess(server.port, pki, tmp_path_factory.mktemp("ocpp-gateway") / "ocpp-gateway.log")
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
