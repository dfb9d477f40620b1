"""central-stream on the real broker and database: scripted CPs, monitors and
drivers produce the topics, a real worker (`python -m central_stream`) answers.

The harness here (worker processes, the test run's CPs and drivers, a reader of
everything central-stream publishes) is shared with test_central_stream_restart
and test_central_stream_scale. Every id is unique to the test run, and the
worker serves only CPs with the run's prefix: other people's tests on the same
Kafka and MariaDB neither disturb these nor are disturbed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from central_stream.agents import FAUST_SOURCES
from central_stream.settings import StreamSettings
from evcharging import topics as t
from evcharging.codec import ContractError, decode
from evcharging.db import connect, cursor
from evcharging.kafka import ContractProducer, consumer_config, end_positions
from evcharging.messages import (
    CpConnected,
    CpDisconnected,
    CpState,
    CpStatus,
    DeadLetter,
    DenialReason,
    EndReason,
    EndSupply,
    EngineHealth,
    Fault,
    Message,
    OperatorAction,
    OperatorCommand,
    Recovery,
    ResumeCp,
    StartSupply,
    StopCp,
    SupplyAuthorised,
    SupplyDenied,
    SupplyEnded,
    SupplyInterrupted,
    SupplyRequest,
    SupplyUpdate,
    Telemetry,
    Ticket,
)
from evcharging.partitioning import partition_for
from tests.support.stack import ROOT, Infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
M = TypeVar("M", bound=Message)
OUTPUTS = (t.DRIVER_RESPONSES, t.CP_COMMANDS, t.TICKETS, t.CP_STATUS, t.DEAD_LETTERS)
WAIT = 30.0


# --- the test run: ids, the consumer group, the database rows ---------------------------------


@dataclass
class Run:
    """One pytest session's slice of the shared broker and database."""

    infra: Infra
    prefix: str
    app_id: str
    tmp: Path
    counter: int = 0

    def new_id(self, kind: str = "") -> str:
        self.counter += 1
        return f"{self.prefix}{kind}{self.counter:04d}"

    def add_cp(self, price: str = "0.350", cp_id: str | None = None) -> str:
        cp_id = cp_id or self.new_id("C")
        with db(self.infra) as cur:
            cur.execute(
                "INSERT INTO charging_points (id, ubicacion, precio_kwh) VALUES (%s, %s, %s)",
                (cp_id, f"Test street {cp_id}", Decimal(price)),
            )
        return cp_id

    def add_driver(self) -> str:
        driver_id = self.new_id("D")
        with db(self.infra) as cur:
            cur.execute(
                "INSERT INTO conductores (id, nombre, apellidos, email) VALUES (%s, %s, %s, %s)",
                (driver_id, "Test", "Driver", f"{driver_id.lower()}@example.test"),
            )
        return driver_id

    def worker_env(self, **extra: str) -> dict[str, str]:
        database = self.infra.database
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "services/central-stream"), str(ROOT / "lib")]),
            "KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "DB_HOST": database.host,
            "DB_PORT": str(database.port),
            "DB_USER": database.user,
            "DB_PASSWORD": database.password,
            "DB_NAME": database.database,
            "STREAM_APP_ID": self.app_id,
            "STREAM_CP_PREFIX": self.prefix,
            "REGISTRY_REFRESH": "1",
            "STREAM_STALL_LIMIT": "15",
            "HEALTH_FILE": str(self.tmp / f"alive-{uuid.uuid4().hex[:6]}"),
            "STREAM_DATA_DIR": str(self.tmp / "data"),
            **extra,
        }


@contextmanager
def db(infra: Infra) -> Iterator[Any]:
    """A cursor on the test database, its connection closed afterwards."""
    connection = connect(infra.database, give_up_after=5.0)
    try:
        with cursor(connection) as cur:
            yield cur
    finally:
        connection.close()


def start_group_at_the_end(bootstrap: str, group: str) -> None:
    """Commit the run's consumer groups (Faust's and the telemetry intake's) at the
    current end of every topic they read, so the worker starts with this run's
    messages and none of the history."""
    telemetry_group = StreamSettings(kafka_bootstrap=bootstrap, app_id=group).telemetry_group
    for reader, sources in ((group, FAUST_SOURCES), (telemetry_group, (t.TELEMETRY,))):
        consumer = Consumer(consumer_config(bootstrap, reader))
        try:
            consumer.commit(offsets=end_positions(consumer, sources), asynchronous=False)
        finally:
            consumer.close()


@pytest.fixture(scope="module")
def run(infra: Infra) -> Iterator[Run]:
    tag = uuid.uuid4().hex[:6]
    logs = Path(tempfile.gettempdir()) / "central-stream-it" / tag  # kept, to read after a failure
    logs.mkdir(parents=True)
    this = Run(infra, prefix=f"T{tag}", app_id=f"it-central-stream-{tag}", tmp=logs)
    start_group_at_the_end(infra.kafka_bootstrap, this.app_id)
    yield this
    admin = AdminClient({"bootstrap.servers": infra.kafka_bootstrap})
    internal = [name for name in admin.list_topics(timeout=10).topics if name.startswith(this.app_id)]
    if internal:
        admin.delete_topics(internal)


# --- worker processes -----------------------------------------------------------------------------


SUPERVISED = 'while "$1" -m central_stream; [ $? -eq 70 ]; do echo "ended by its watchdog: restarting"; done'


@dataclass
class Worker:
    """`python -m central_stream` as a child process, its log in a file, restarted
    when its watchdog ends it (exit 70) — as Docker's restart policy does."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, run: Run, name: str = "worker", **env: str) -> Worker:
        log = run.tmp / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", SUPERVISED, "central-stream", sys.executable],
                env=run.worker_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(process, log)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def partitions(self) -> set[int] | None:
        """The partitions it says it owns now (None before it said)."""
        found = re.findall(r"owning partitions \[([\d, ]*)\]", self.text())
        if not found:
            return None
        return {int(p) for p in found[-1].split(",") if p.strip()}

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no commit, no flush."""
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"worker exited:\n{self.text()[-3000:]}"


@pytest.fixture
def workers(run: Run) -> Iterator[Callable[..., Worker]]:
    """Start workers with `workers()`; every one is stopped at the end, even on failure."""
    started: list[Worker] = []

    def start(name: str = "worker", **env: str) -> Worker:
        worker = Worker.start(run, name, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def worker(run: Run) -> Iterator[Worker]:
    """One worker shared by the tests of a module."""
    shared = Worker.start(run, "shared")
    yield shared
    shared.stop()


# --- reading what central-stream publishes -------------------------------------------------------


@dataclass
class Seen:
    topic: str
    key: str | None
    message: Any


@dataclass
class Outputs:
    """Everything published on central-stream's output topics since the run began,
    for the run's CPs and drivers, read by a background consumer."""

    prefix: str
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        try:
            message = decode(topic, value)
        except ContractError:
            return
        about = getattr(message, "cp_id", None) or (message.key if isinstance(message, DeadLetter) else "")
        if about and about.startswith(self.prefix):
            with self.lock:
                self.seen.append(Seen(topic, key.decode() if key else None, message))

    def of(self, kind: type[M], **fields: Any) -> list[M]:
        with self.lock:
            found = [s.message for s in self.seen if isinstance(s.message, kind)]
        return [m for m in found if all(getattr(m, k) == v for k, v in fields.items())]

    def keyed(self, kind: type[Message], **fields: Any) -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.seen
                if isinstance(s.message, kind) and all(getattr(s.message, k) == v for k, v in fields.items())
            ]

    def wait_for(self, kind: type[M], what: str = "", timeout: float = WAIT, **fields: Any) -> M:
        found = wait_until(lambda: self.of(kind, **fields), timeout, what or f"{kind.__name__} {fields}")
        return found[0]

    def wait_count(self, kind: type[M], count: int, what: str, **fields: Any) -> list[M]:
        """Wait until exactly `count` messages match, and return them."""

        def matching() -> list[M]:
            found = self.of(kind, **fields)
            return found if len(found) == count else []

        return wait_until(matching, WAIT, what)

    def state_of(self, cp_id: str) -> CpState | None:
        statuses = self.of(CpStatus, cp_id=cp_id)
        return statuses[-1].state if statuses else None

    def wait_state(self, cp_id: str, state: CpState, timeout: float = WAIT) -> None:
        wait_until(lambda: self.state_of(cp_id) is state, timeout, f"{cp_id} {state} on estado_cp")


@pytest.fixture(scope="module")
def outputs(run: Run) -> Iterator[Outputs]:
    found = Outputs(run.prefix)
    consumer = Consumer(consumer_config(run.infra.kafka_bootstrap, f"{run.app_id}-reader"))
    consumer.assign(end_positions(consumer, OUTPUTS))
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for record in consumer.consume(500, timeout=0.2):
                if record.error() is None:
                    found.add(str(record.topic()), record.key(), record.value())

    reader = threading.Thread(target=read, name="outputs", daemon=True)
    reader.start()
    yield found
    stop.set()
    reader.join(timeout=10)
    consumer.close()


# --- scripted CPs (engine + monitor, through central-auth) and drivers ------------------------


class Script:
    """Sends what CPs, monitors, central-auth, drivers and the operator would send."""

    def __init__(self, run: Run) -> None:
        self.producer = ContractProducer(run.infra.kafka_bootstrap, f"{run.app_id}-script")

    def send(self, topic: t.Topic, message: Message) -> Message:
        self.producer.send(topic, message)
        assert self.producer.flush(10) == 0
        return message

    def connect(self, cp_id: str, health: EngineHealth = EngineHealth.OK, conn: str = "c1") -> None:
        self.send(t.CP_CONNECTIONS, CpConnected(cp_id=cp_id, connection_id=conn, engine_health=health))

    def disconnect(self, cp_id: str, conn: str = "c1") -> None:
        self.send(t.CP_CONNECTIONS, CpDisconnected(cp_id=cp_id, connection_id=conn))

    def request(self, cp_id: str, driver_id: str, expires_in: float = 30) -> SupplyRequest:
        expires = datetime.now(UTC) + timedelta(seconds=expires_in)
        message = SupplyRequest(cp_id=cp_id, driver_id=driver_id, expires_at=expires)
        self.send(t.SUPPLY_REQUESTS, message)
        return message

    def telemetry(self, cp_id: str, session_id: str, seq: int, kwh: Decimal, kw: str = "7.2") -> None:
        message = Telemetry(
            cp_id=cp_id, session_id=session_id, seq=seq, kw=Decimal(kw), kwh=kwh, eur=Decimal(0)
        )
        self.producer.send(t.TELEMETRY, message)

    def unplug(self, cp_id: str, session_id: str, seq: int, kwh: Decimal) -> SupplyEnded:
        message = SupplyEnded(cp_id=cp_id, session_id=session_id, seq=seq, kwh=kwh, eur=Decimal(0))
        self.send(t.SUPPLY_ENDED, message)
        return message

    def operator(self, cp_id: str, action: OperatorAction, batch: str | None = None) -> None:
        self.send(
            t.OPERATOR_COMMANDS, OperatorCommand(cp_id=cp_id, action=action, operator="it", batch_id=batch)
        )


@pytest.fixture(scope="module")
def script(run: Run) -> Script:
    return Script(run)


def ready_cp(run: Run, script: Script, outputs: Outputs, price: str = "0.350") -> str:
    """A registered CP whose monitor has connected, activado."""
    cp_id = run.add_cp(price)
    script.connect(cp_id)
    outputs.wait_state(cp_id, CpState.ACTIVE)
    return cp_id


def authorise(script: Script, outputs: Outputs, cp_id: str, driver_id: str) -> str:
    request = script.request(cp_id, driver_id)
    return outputs.wait_for(SupplyAuthorised, request_id=request.request_id).session_id


def db_state(run: Run, cp_id: str) -> str:
    with db(run.infra) as cur:
        cur.execute("SELECT estado FROM charging_points WHERE id = %s", (cp_id,))
        return str(cur.fetchone()["estado"])


def db_state_is(run: Run, cp_id: str, state: str) -> bool:
    return db_state(run, cp_id) == state


def supply_rows(run: Run, session_id: str) -> list[dict[str, Any]]:
    with db(run.infra) as cur:
        cur.execute("SELECT * FROM suministros WHERE id = %s", (session_id,))
        return list(cur.fetchall())


def kwh_series(count: int, step: str = "0.137") -> list[Decimal]:
    return [Decimal(step) * (n + 1) for n in range(count)]


# --- the flows -----------------------------------------------------------------------------------


def test_a_registered_cp_is_disconnected_until_its_monitor_connects(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cp_id = run.add_cp("0.290")
    outputs.wait_state(cp_id, CpState.DISCONNECTED)  # published when the registry learns of it
    assert db_state(run, cp_id) == "desconectado"
    status = outputs.of(CpStatus, cp_id=cp_id)[-1]
    assert (status.location, status.price_per_kwh) == (f"Test street {cp_id}", Decimal("0.290"))
    script.connect(cp_id)
    outputs.wait_state(cp_id, CpState.ACTIVE)
    wait_until(lambda: db_state(run, cp_id) == "activado", WAIT, "activado in the database")


def test_happy_path_request_telemetry_unplug_ticket_with_exact_kwh_and_euros(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cp_id = ready_cp(run, script, outputs, price="0.410")
    driver, bystander = run.add_driver(), run.add_driver()
    request = script.request(cp_id, driver)
    authorised = outputs.wait_for(SupplyAuthorised, request_id=request.request_id)
    session = authorised.session_id
    assert (authorised.driver_id, authorised.price_per_kwh) == (driver, Decimal("0.410"))
    start = outputs.wait_for(StartSupply, session_id=session)
    assert (start.cp_id, start.driver_id) == (cp_id, driver)
    outputs.wait_state(cp_id, CpState.SUPPLYING)

    readings = kwh_series(8)  # 0.137 kWh a second
    for seq, kwh in enumerate(readings):
        script.telemetry(cp_id, session, seq, kwh)
    last = outputs.wait_for(SupplyUpdate, session_id=session, seq=len(readings) - 1)
    assert (last.kwh, last.eur) == (Decimal("1.096"), Decimal("0.45"))  # 0.44936
    updates = outputs.keyed(SupplyUpdate, session_id=session)
    assert {u.key for u in updates} == {driver}, "live figures go to the CP's driver only"
    assert not outputs.keyed(SupplyUpdate, driver_id=bystander)
    live = [s for s in outputs.of(CpStatus, cp_id=cp_id) if s.kwh == Decimal("1.096")]
    assert live
    assert (live[-1].driver_id, live[-1].state) == (driver, CpState.SUPPLYING)

    script.unplug(cp_id, session, len(readings), Decimal("1.100"))
    ticket = outputs.wait_for(Ticket, ticket_id=session)
    assert (ticket.cp_id, ticket.driver_id, ticket.ended_by) == (cp_id, driver, EndReason.UNPLUGGED)
    assert (ticket.kwh, ticket.price_per_kwh, ticket.total_eur) == (
        Decimal("1.100"),
        Decimal("0.410"),
        Decimal("0.45"),  # 0.451
    )
    assert ticket.started_at <= ticket.ended_at
    assert outputs.keyed(Ticket, ticket_id=session)[0].key == driver
    outputs.wait_state(cp_id, CpState.ACTIVE)
    (row,) = supply_rows(run, session)
    assert (row["conductor_id"], row["cp_id"], row["estado"]) == (driver, cp_id, "unplugged")
    assert (row["consumo_kwh"], row["importe_total"], row["precio_kwh"]) == (
        Decimal("1.100"),
        Decimal("0.45"),
        Decimal("0.410"),
    )
    assert row["fecha_fin"] is not None
    wait_until(lambda: db_state(run, cp_id) == "activado", WAIT, "activado in the database")


def test_every_denial_reason(run: Run, worker: Worker, script: Script, outputs: Outputs) -> None:
    driver, other = run.add_driver(), run.add_driver()
    busy = ready_cp(run, script, outputs)
    authorise(script, outputs, busy, other)
    stopped = ready_cp(run, script, outputs)
    script.operator(stopped, OperatorAction.STOP)
    outputs.wait_state(stopped, CpState.STOPPED)
    faulty = ready_cp(run, script, outputs)
    script.send(t.FAULTS, Fault(cp_id=faulty, detail="engine KO"))
    outputs.wait_state(faulty, CpState.FAULTY)
    gone = ready_cp(run, script, outputs)
    script.disconnect(gone)
    outputs.wait_state(gone, CpState.DISCONNECTED)
    fine = ready_cp(run, script, outputs)

    cases = {
        DenialReason.UNKNOWN_DRIVER: script.request(fine, f"{run.prefix}nobody"),
        DenialReason.UNKNOWN_CP: script.request(f"{run.prefix}NOCP", driver),
        DenialReason.CP_BUSY: script.request(busy, driver),
        DenialReason.CP_STOPPED: script.request(stopped, driver),
        DenialReason.CP_FAULTY: script.request(faulty, driver),
        DenialReason.CP_DISCONNECTED: script.request(gone, driver),
        DenialReason.REQUEST_EXPIRED: script.request(fine, driver, expires_in=-1),
    }
    for reason, request in cases.items():
        denial = outputs.wait_for(SupplyDenied, f"denial {reason}", request_id=request.request_id)
        assert denial.reason is reason
        assert denial.driver_id == request.driver_id
    assert not outputs.of(SupplyAuthorised, cp_id=fine)


def answers_to(outputs: Outputs, requests: list[SupplyRequest]) -> list[Message]:
    """Both answers to these requests, once both came."""
    ids = {r.request_id for r in requests}
    found: list[Message] = [m for m in outputs.of(SupplyAuthorised) if m.request_id in ids]
    found += [m for m in outputs.of(SupplyDenied) if m.request_id in ids]
    return found if len(found) == len(ids) else []


def test_of_two_simultaneous_requests_exactly_one_wins_every_time(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cps = [ready_cp(run, script, outputs) for _ in range(6)]
    drivers = [run.add_driver() for _ in range(2)]
    rounds = 5
    for _ in range(rounds):
        pairs = []
        for cp_id in cps:  # both requests are on the broker before either is processed
            requests = [
                SupplyRequest(cp_id=cp_id, driver_id=d, expires_at=datetime.now(UTC) + timedelta(seconds=30))
                for d in drivers
            ]
            for request in requests:
                script.producer.send(t.SUPPLY_REQUESTS, request)
            pairs.append((cp_id, requests))
        assert script.producer.flush(10) == 0
        for cp_id, requests in pairs:
            answered = wait_until(partial(answers_to, outputs, requests), WAIT, f"two answers at {cp_id}")
            won = [m for m in answered if isinstance(m, SupplyAuthorised)]
            lost = [m for m in answered if isinstance(m, SupplyDenied)]
            assert len(won) == 1, f"{cp_id}: {answered}"
            assert [m.reason for m in lost] == [DenialReason.CP_BUSY]
            script.unplug(cp_id, won[0].session_id, 0, Decimal(0))
        for cp_id, _ in pairs:
            outputs.wait_state(cp_id, CpState.ACTIVE)
    assert len([m for m in outputs.of(SupplyAuthorised) if m.cp_id in cps]) == rounds * len(cps)


def test_a_fault_during_supply_ends_it_at_once_with_a_ticket_and_recovery_reactivates(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cp_id = ready_cp(run, script, outputs, price="0.450")
    driver = run.add_driver()
    session = authorise(script, outputs, cp_id, driver)
    for seq, kwh in enumerate(kwh_series(5, "0.250")):
        script.telemetry(cp_id, session, seq, kwh)
    outputs.wait_for(SupplyUpdate, session_id=session, seq=4)
    script.send(t.FAULTS, Fault(cp_id=cp_id, detail="engine KO"))

    end = outputs.wait_for(EndSupply, session_id=session)
    assert end.reason is EndReason.FAULT
    interrupted = outputs.wait_for(SupplyInterrupted, session_id=session)
    assert (interrupted.driver_id, interrupted.reason) == (driver, EndReason.FAULT)
    ticket = outputs.wait_for(Ticket, ticket_id=session)
    assert (ticket.kwh, ticket.total_eur, ticket.ended_by) == (
        Decimal("1.250"),
        Decimal("0.56"),
        EndReason.FAULT,
    )
    outputs.wait_state(cp_id, CpState.FAULTY)
    assert supply_rows(run, session)[0]["estado"] == "fault"

    script.unplug(cp_id, session, 5, Decimal("1.260"))  # the engine's own end report, afterwards
    script.send(t.RECOVERIES, Recovery(cp_id=cp_id))
    outputs.wait_state(cp_id, CpState.ACTIVE)
    assert len(outputs.of(Ticket, ticket_id=session)) == 1
    assert supply_rows(run, session)[0]["consumo_kwh"] == Decimal("1.250")


def test_stop_all_then_resume_all(run: Run, worker: Worker, script: Script, outputs: Outputs) -> None:
    cps = [ready_cp(run, script, outputs) for _ in range(3)]
    driver = run.add_driver()
    session = authorise(script, outputs, cps[0], driver)
    script.telemetry(cps[0], session, 0, Decimal("0.500"))
    outputs.wait_for(SupplyUpdate, session_id=session, seq=0)

    batch = uuid.uuid4().hex
    for cp_id in cps:  # central-web sends "all" as one command per CP
        script.operator(cp_id, OperatorAction.STOP, batch)
    for cp_id in cps:
        outputs.wait_state(cp_id, CpState.STOPPED)
        outputs.wait_for(StopCp, cp_id=cp_id)
        wait_until(partial(db_state_is, run, cp_id, "parado"), WAIT, "parado in the database")
    ticket = outputs.wait_for(Ticket, ticket_id=session)
    assert (ticket.ended_by, ticket.kwh, ticket.total_eur) == (
        EndReason.OPERATOR_STOP,
        Decimal("0.500"),
        Decimal("0.18"),
    )
    assert outputs.wait_for(EndSupply, session_id=session).reason is EndReason.OPERATOR_STOP
    denial = outputs.wait_for(SupplyDenied, request_id=script.request(cps[1], driver).request_id)
    assert denial.reason is DenialReason.CP_STOPPED

    batch = uuid.uuid4().hex
    for cp_id in cps:
        script.operator(cp_id, OperatorAction.RESUME, batch)
    for cp_id in cps:
        outputs.wait_state(cp_id, CpState.ACTIVE)
        outputs.wait_for(ResumeCp, cp_id=cp_id)
    authorise(script, outputs, cps[1], driver)


def test_repeats_and_reordering_change_no_total_and_make_no_second_ticket(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cp_id = ready_cp(run, script, outputs, price="0.333")
    driver = run.add_driver()
    request = script.request(cp_id, driver)
    session = outputs.wait_for(SupplyAuthorised, request_id=request.request_id).session_id
    script.send(t.SUPPLY_REQUESTS, request)  # the same request, redelivered
    readings = kwh_series(6, "0.500")
    for seq in [0, 1, 1, 3, 2, 4, 5, 5, 0]:  # repeated and out of order
        script.telemetry(cp_id, session, seq, readings[seq])
    outputs.wait_for(SupplyUpdate, session_id=session, seq=5)
    end = script.unplug(cp_id, session, 6, readings[-1])
    outputs.wait_for(Ticket, ticket_id=session)
    script.send(t.SUPPLY_ENDED, end)  # the end, redelivered
    again = script.unplug(cp_id, session, 6, readings[-1])  # and reported twice
    # Something processed after the repeats shows they were processed too.
    script.operator(cp_id, OperatorAction.STOP)
    outputs.wait_state(cp_id, CpState.STOPPED)

    (ticket,) = outputs.of(Ticket, ticket_id=session)
    assert (ticket.kwh, ticket.total_eur) == (Decimal("3.000"), Decimal("1.00"))  # 0.999
    assert len(outputs.of(SupplyAuthorised, request_id=request.request_id)) == 1
    assert not outputs.of(SupplyDenied, request_id=request.request_id)
    relayed = [u.seq for u in outputs.of(SupplyUpdate, session_id=session)]
    # under load only the newest figures are relayed, but never one twice, nor an older after a newer
    assert relayed == sorted(set(relayed)), relayed
    assert relayed[-1] == 5
    (row,) = supply_rows(run, session)
    assert (row["consumo_kwh"], row["importe_total"]) == (Decimal("3.000"), Decimal("1.00"))
    assert again.message_id != end.message_id


def test_a_malformed_message_is_dead_lettered_with_the_reason_and_the_cp_goes_on(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cp_id = ready_cp(run, script, outputs)
    producer = script.producer._producer  # raw bytes: no contract producer would send these
    producer.produce(t.TELEMETRY.name, b'{"type": "telemetry", "kwh": "a lot"', key=cp_id.encode())
    producer.produce(t.FAULTS.name, b'{"type": "fault", "cp_id": "someone-else"}', key=cp_id.encode())
    producer.flush(10)
    letters = outputs.wait_count(DeadLetter, 2, "two dead letters", key=cp_id)
    by_topic = {letter.source_topic: letter for letter in letters}
    assert "not JSON" in by_topic["telemetria_cp"].reason
    assert "cp_id" in by_topic["averias"].reason
    assert by_topic["averias"].payload == '{"type": "fault", "cp_id": "someone-else"}'
    assert {letter.service for letter in letters} == {"central-stream"}
    driver = run.add_driver()
    authorise(script, outputs, cp_id, driver)


def test_a_cp_whose_monitor_goes_away_keeps_its_supply_and_its_ticket(
    run: Run, worker: Worker, script: Script, outputs: Outputs
) -> None:
    cp_id = ready_cp(run, script, outputs)
    driver = run.add_driver()
    session = authorise(script, outputs, cp_id, driver)
    script.disconnect(cp_id)
    outputs.wait_state(cp_id, CpState.DISCONNECTED)
    script.telemetry(cp_id, session, 0, Decimal("2.000"))
    script.unplug(cp_id, session, 1, Decimal("2.000"))
    ticket = outputs.wait_for(Ticket, ticket_id=session)
    assert (ticket.kwh, ticket.total_eur) == (Decimal("2.000"), Decimal("0.70"))
    script.connect(cp_id, conn="c2")
    outputs.wait_state(cp_id, CpState.ACTIVE)


def test_partitions_of_the_run_cover_the_cps(run: Run) -> None:
    """The run's CP ids spread over every partition, so the flows above exercise all of them
    (80 ids: the chance that a random run prefix leaves a partition out is below 1 in 100,000)."""
    assert len({partition_for(f"{run.prefix}C{n:04d}", t.PARTITIONS) for n in range(1, 81)}) == t.PARTITIONS
