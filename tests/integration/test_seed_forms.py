"""The seed's standalone command lines, run as on a PC with only Python: the engine
`<cp_id> <kafka_broker>`, the monitor `<cp_id> <location> <central_ip:port>
<kafka_broker>` and the driver `<driver_id> <kafka_broker> [file]`, each its own
process, against the test stack's Kafka and MariaDB and a real central-auth and
central-stream (both run as processes here too).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from cp_engine.control import ask
from evcharging import messages as m
from evcharging.topics import CP_STATUS, TICKETS
from tests.integration.test_central_stream import Run, Worker, db, start_group_at_the_end
from tests.support.central_auth import AuthProcess, TestRun, central_auth
from tests.support.kafka import TopicTail
from tests.support.processes import ServiceProcess
from tests.support.stack import ROOT, Infra, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PRICE = Decimal("0.400")


@pytest.fixture
def seed_run(infra: Infra) -> Iterator[TestRun]:
    """This test's ids; its supplies, CPs and drivers are deleted afterwards (in that
    order: a supply refers to both)."""
    run = TestRun()
    yield run
    with db(infra) as cur:
        for table, column in (("suministros", "cp_id"), ("charging_points", "id"), ("conductores", "id")):
            cur.execute(
                f"DELETE FROM {table} WHERE LEFT({column}, CHAR_LENGTH(%s)) = %s",  # noqa: S608 - fixed names
                (run.prefix, run.prefix),
            )


@pytest.fixture
def auth(infra: Infra, seed_run: TestRun, tmp_path: Path) -> Iterator[AuthProcess]:
    with central_auth(infra, seed_run, tmp_path / "auth.log") as server:
        yield server


@pytest.fixture
def stream(infra: Infra, seed_run: TestRun, tmp_path: Path) -> Iterator[Run]:
    """central-stream serving this test's CPs, from the current end of its topics."""
    run = Run(infra, prefix=seed_run.prefix, app_id=f"it-seed-forms-{uuid.uuid4().hex[:6]}", tmp=tmp_path)

    def committed() -> bool:
        # A broker that has just started answers "not coordinator" to a commit for a while.
        start_group_at_the_end(infra.kafka_bootstrap, run.app_id)
        return True

    wait_until(committed, 60, "the consumer groups to be committed at the end of their topics")
    worker = Worker.start(run, "central-stream")
    try:
        wait_until(worker.partitions, 90, "central-stream to own its partitions")
        yield run
    finally:
        worker.stop()
        admin = AdminClient({"bootstrap.servers": infra.kafka_bootstrap})
        internal = [name for name in admin.list_topics(timeout=10).topics if name.startswith(run.app_id)]
        if internal:
            admin.delete_topics(internal)


def engine(cp_id: str, infra: Infra, folder: Path, health_port: int, **env: str) -> ServiceProcess:
    """`python -m cp_engine <cp_id> <kafka_broker>`; the health port from ENGINE_HEALTH_PORT."""
    return ServiceProcess(
        "cp-engine",
        "cp_engine",
        [cp_id, infra.kafka_bootstrap],
        folder / f"engine-{cp_id}.log",
        {
            "ENGINE_HEALTH_PORT": str(health_port),
            "ENGINE_CONTROL_SOCKET": str(folder / f"engine-{cp_id}.sock"),
            "HEALTH_FILE": str(folder / f"engine-{cp_id}-alive"),
            "HEALTH_PROBLEM_FILE": str(folder / f"engine-{cp_id}-problem"),
            **env,
        },
    )


def monitor(
    cp_id: str, run: TestRun, auth: AuthProcess, infra: Infra, folder: Path, health_port: int
) -> ServiceProcess:
    """`python -m cp_monitor <cp_id> <location> <central_ip:port> <kafka_broker>`; the engine
    on this host (the seed's form's default) at ENGINE_HEALTH_PORT, the price CP_PRICE_KWH."""
    return ServiceProcess(
        "cp-monitor",
        "cp_monitor",
        [cp_id, "Alicante, seed bench", f"127.0.0.1:{auth.port}", infra.kafka_bootstrap],
        folder / f"monitor-{cp_id}.log",
        {
            "ENGINE_HEALTH_PORT": str(health_port),
            "CP_PRICE_KWH": str(PRICE),
            "CP_ENROLMENT_KEY": run.enrolment_key,
            "HEALTH_FILE": str(folder / f"monitor-{cp_id}-alive"),
            "HEALTH_PROBLEM_FILE": str(folder / f"monitor-{cp_id}-problem"),
        },
    )


def run_driver(
    driver_id: str, infra: Infra, requests: Path, folder: Path
) -> subprocess.CompletedProcess[str]:
    """`python -m driver <driver_id> <kafka_broker> <file>`, to its end."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "services/driver"), str(ROOT / "lib")]),
        "COLUMNS": "250",
        "DRIVER_ID": "",
        "DRIVER_TIMEOUT": "30",  # a worker that has just joined its group may take a while
        "HEALTH_PROBLEM_FILE": str(folder / "driver-problem"),
    }
    return subprocess.run(
        [sys.executable, "-m", "driver", driver_id, infra.kafka_bootstrap, str(requests)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=ROOT,
        check=False,
    )


def test_a_cp_and_a_driver_started_in_the_seeds_forms_charge_and_get_a_ticket(
    infra: Infra, seed_run: TestRun, auth: AuthProcess, stream: Run, tmp_path: Path
) -> None:
    cp_id, driver_id, health_port = seed_run.new_cp_id(), stream.add_driver(), free_port()
    tail = TopicTail(infra.kafka_bootstrap, [CP_STATUS, TICKETS])
    automatic = {"AUTO_MODE": "true", "AUTO_PLUG_DELAY": "0.5", "AUTO_DURATION": "3", "CP_TIME_FACTOR": "60"}
    the_engine = engine(cp_id, infra, tmp_path, health_port, **automatic)
    the_monitor = monitor(cp_id, seed_run, auth, infra, tmp_path, health_port)
    try:

        def state() -> m.CpState | None:
            statuses = [s for s in tail.of(cp_id, CP_STATUS) if isinstance(s, m.CpStatus)]
            return statuses[-1].state if statuses else None

        wait_until(lambda: state() is m.CpState.ACTIVE, 60, f"{cp_id} activado on estado_cp")
        requests = tmp_path / "requests.txt"
        requests.write_text(f"{cp_id}\n")

        charged = run_driver(driver_id, infra, requests, tmp_path)

        assert charged.returncode == 0, charged.stdout + charged.stderr
        assert "Supply finished" in charged.stdout
        (ticket,) = tail.wait_for(driver_id, TICKETS, 1, timeout=10)
        assert isinstance(ticket, m.Ticket)
        assert (ticket.cp_id, ticket.price_per_kwh, ticket.ended_by) == (cp_id, PRICE, m.EndReason.UNPLUGGED)
        assert ticket.kwh > 0
        assert ticket.ticket_id in charged.stdout
        status = ask(tmp_path / f"engine-{cp_id}.sock", {"action": "status"}).status
        assert status is not None
        assert (status.cp_id, status.kafka_problem) == (cp_id, None)
        assert f"started as CP {cp_id}" in the_engine.log()
        assert f"Kafka broker {infra.kafka_bootstrap}: not used" in the_monitor.log()
    finally:
        the_monitor.stop()
        the_engine.stop()
        tail.close()


def test_an_engine_started_as_one_cp_refuses_a_monitor_of_another(
    infra: Infra, seed_run: TestRun, auth: AuthProcess, tmp_path: Path
) -> None:
    engine_cp, monitor_cp, health_port = seed_run.new_cp_id(), seed_run.new_cp_id(), free_port()
    the_engine = engine(engine_cp, infra, tmp_path, health_port)
    the_monitor = monitor(monitor_cp, seed_run, auth, infra, tmp_path, health_port)
    try:
        refusal = f"it is a monitor of CP {monitor_cp}, and this engine was started as CP {engine_cp}"
        wait_until(lambda: refusal in the_engine.log(), 30, "the engine to refuse the monitor")
        said = f"the engine at 127.0.0.1:{health_port} was started as CP {engine_cp} and refuses this monitor"
        wait_until(lambda: said in the_monitor.log(), 30, "the monitor to say why")
        status = ask(tmp_path / f"engine-{engine_cp}.sock", {"action": "status"}).status
        assert status is not None
        assert status.cp_id is None, "the engine took no id"
        assert the_engine.running
        assert the_monitor.running
    finally:
        the_monitor.stop()
        the_engine.stop()
