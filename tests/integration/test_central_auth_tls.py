"""central-auth's TLS port, with real sockets, the real server and real monitors.

The certificates are scripts/pki.sh's, made into a temporary folder: the project's,
and a foreign CA's for a monitor that trusts the wrong one. A monitor over TLS
authenticates and heart-beats; each way of getting the set-up wrong gives the monitor
one sentence (log and health problem file) and no authentication, costs central-auth
one log line, and leaves a good client served meanwhile.

The monitors watch a stand-in engine (a few lines answering the engine link), so
these tests depend on central-auth and the monitor only.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from evcharging import engine_link as link
from evcharging import health
from evcharging.framing import FrameDecoder
from evcharging.messages import CpConnected, EngineHealth, Fault, Recovery
from evcharging.wire import Authenticated, Heartbeat, HeartbeatAck
from tests.support.central_auth import (
    AuthProcess,
    CpEvents,
    TestRun,
    TlsWireClient,
    central_auth,
    tls_environment,
)
from tests.support.pki import make_pki
from tests.support.processes import ServiceProcess
from tests.support.stack import Infra, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Pki:
    project: Path
    foreign: Path

    @property
    def ca(self) -> Path:
        return self.project / "ca.crt"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    return Pki(make_pki(root / "project"), make_pki(root / "foreign"))


@dataclass(frozen=True)
class Central:
    server: AuthProcess
    tls_port: int

    @property
    def port(self) -> int:
        return self.server.port


StartCentral = Callable[..., Central]


@pytest.fixture
def start_central(infra: Infra, run: TestRun, pki: Pki, tmp_path: Path) -> Iterator[StartCentral]:
    """central-auth with its TLS listener (extra variables as keywords)."""
    with contextlib.ExitStack() as servers:

        def start(**env: str) -> Central:
            tls_port = free_port()
            environment = {**tls_environment(pki.project, tls_port), **env}
            log_path = tmp_path / "central-auth.log"
            return Central(servers.enter_context(central_auth(infra, run, log_path, **environment)), tls_port)

        yield start


@pytest.fixture
def central(start_central: StartCentral) -> Central:
    return start_central()


# --- a stand-in engine and a real monitor ------------------------------------------------


class StandInEngine(socketserver.ThreadingTCPServer):
    """Answers a monitor as an engine does (Attach, Check, AssignIdentity), with the
    health the test sets."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EngineLink)
        self.health = EngineHealth.OK
        self.cp_id: str | None = None
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _EngineLink(socketserver.BaseRequestHandler):
    server: StandInEngine

    def handle(self) -> None:
        decoder = FrameDecoder()
        while data := self.request.recv(4096):
            for frame in decoder.feed(data):
                record = link.from_frame(frame)
                if isinstance(record, link.Check):
                    reply: link.LinkRecord = link.Health(health=self.server.health)
                else:
                    if isinstance(record, link.AssignIdentity):
                        self.server.cp_id = record.cp_id
                    reply = link.Attached(cp_id=self.server.cp_id)
                self.request.sendall(link.to_frame(reply))


class Monitor:
    """A real cp-monitor (its own process) with an explicit CP id, watching a stand-in engine."""

    def __init__(self, run: TestRun, folder: Path, central: str, ca_file: Path | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.cp_id = run.new_cp_id()
        self.engine = StandInEngine()
        self.problem_file = folder / "problem"
        self.process = ServiceProcess(
            "cp-monitor",
            "cp_monitor",
            [f"127.0.0.1:{self.engine.port}", central, self.cp_id, "Test bench", "0.400"],
            folder / "monitor.log",
            {
                "CP_ENROLMENT_KEY": run.enrolment_key,
                "CENTRAL_TLS_CA": str(ca_file or ""),
                "HEALTH_FILE": str(folder / "alive"),
                "HEALTH_PROBLEM_FILE": str(self.problem_file),
            },
        )

    def problem(self) -> str | None:
        return health.problem(self.problem_file)

    def failed_attempts(self) -> int:
        if not self.process.running:
            raise AssertionError(f"the monitor exited:\n{self.process.log()}")
        return len(re.findall(r"central-auth attempt \d+ failed", self.process.log()))

    def stop(self) -> None:
        self.process.stop()
        self.engine.close()


@pytest.fixture
def monitors(run: TestRun, tmp_path: Path) -> Iterator[Callable[[str, Path | None], Monitor]]:
    started: list[Monitor] = []

    def start(central: str, ca_file: Path | None) -> Monitor:
        monitor = Monitor(run, tmp_path / f"monitor-{len(started)}", central, ca_file)
        started.append(monitor)
        return monitor

    yield start
    for monitor in started:
        monitor.stop()


# --- a good client, served while the bad ones fail ---------------------------------------


def good_client(run: TestRun, central: Central, pki: Pki) -> TlsWireClient:
    """A CP authenticated over TLS, by the plain test client inside TLS."""
    client = TlsWireClient(central.tls_port, pki.ca)
    try:
        cp_id = run.new_cp_id()
        assert isinstance(client.authenticate(cp_id, client.register(run, cp_id)), Authenticated)
    except BaseException:
        client.close()
        raise
    return client


def beat_until(client: TlsWireClient, condition: Callable[[], object], timeout: float, what: str) -> None:
    """Keep `client` heart-beating (each beat answered) until `condition` holds."""

    def served_and_done() -> object:
        assert isinstance(client.request(Heartbeat(engine_health=EngineHealth.OK)), HeartbeatAck)
        return condition()

    wait_until(served_and_done, timeout, what, interval=0.5)


def handshake_failures(central: Central) -> list[str]:
    return [line for line in central.server.log().splitlines() if "TLS handshake failed" in line]


# --- the tests -----------------------------------------------------------------------------


def test_a_monitor_over_tls_authenticates_and_heart_beats(
    central: Central, pki: Pki, monitors: Callable[[str, Path | None], Monitor], events: CpEvents
) -> None:
    monitor = monitors(f"localhost:{central.tls_port}", pki.ca)
    (connected,) = events.wait_for(monitor.cp_id, 1, timeout=30)
    assert isinstance(connected, CpConnected)
    wait_until(lambda: monitor.engine.cp_id == monitor.cp_id, 15, "the monitor to tell its engine its id")
    # The engine's health travels in the heartbeats: a fault and a recovery prove they flow.
    monitor.engine.health = EngineHealth.KO
    assert isinstance(events.wait_for(monitor.cp_id, 2)[-1], Fault)
    monitor.engine.health = EngineHealth.OK
    assert isinstance(events.wait_for(monitor.cp_id, 3)[-1], Recovery)
    assert monitor.problem() is None
    log = monitor.process.log()
    assert f"(TLS, verified with the CA in {pki.ca})" in log
    assert "Traceback" not in log
    assert handshake_failures(central) == []


@dataclass(frozen=True)
class Misconfiguration:
    """A monitor set up wrong: where it connects, the CA it trusts, and what is said."""

    port: str  # "tls" or "plain"
    host: str
    ca: str | None  # "project", "foreign" or None
    sentence: str
    server_says: str | None  # the TLS listener's one line; None: the plain port's own words


MISCONFIGURATIONS = {
    "wrong CA": Misconfiguration(
        "tls",
        "127.0.0.1",
        "foreign",
        "presented a certificate not signed by the CA in CENTRAL_TLS_CA ({ca}): "
        "copy the central's pki/ca.crt",
        "the client left during the handshake",
    ),
    "a name not in the certificate": Misconfiguration(
        "tls",
        "127.0.0.2",
        "project",
        "presented a certificate that is not valid for the name '127.0.0.2'",
        "the client left during the handshake",
    ),
    "plain to the TLS port": Misconfiguration(
        "tls",
        "127.0.0.1",
        None,
        "closed the connection without answering: is CENTRAL_ADDRESS the TLS port? set CENTRAL_TLS_CA",
        "not TLS (wrong version number)",
    ),
    "TLS to the plain port": Misconfiguration(
        "plain",
        "127.0.0.1",
        "project",
        "failed (wrong version number): that port does not speak TLS; is CENTRAL_ADDRESS the plain port?",
        None,
    ),
}


@pytest.mark.parametrize("case", MISCONFIGURATIONS.values(), ids=MISCONFIGURATIONS.keys())
def test_a_misconfigured_monitor_is_told_in_one_sentence_while_others_are_served(
    case: Misconfiguration,
    run: TestRun,
    central: Central,
    pki: Pki,
    monitors: Callable[[str, Path | None], Monitor],
    events: CpEvents,
    tmp_path: Path,
) -> None:
    ca = {"project": pki.ca, "foreign": pki.foreign / "ca.crt", None: None}[case.ca]
    port = central.tls_port if case.port == "tls" else central.port
    bad = monitors(f"{case.host}:{port}", ca)
    sentence = case.sentence.format(ca=ca)

    problem = wait_until(bad.problem, 30, "the monitor to report its problem")
    assert sentence in problem, problem
    assert problem.startswith(f"central-auth at {case.host}:{port} ") or problem.startswith(
        f"the TLS handshake with central-auth at {case.host}:{port} "
    )
    good = good_client(run, central, pki)
    try:
        seen = bad.failed_attempts()
        beat_until(good, lambda: bad.failed_attempts() >= seen + 2, 45, "two more failed attempts")
    finally:
        good.close()

    log = bad.process.log()
    assert "Traceback" not in log
    assert log.count(f"WARNING evcharging.auth_client: {problem}") == 1, "the sentence, once, as a warning"
    assert bad.problem() == problem
    assert events.of(bad.cp_id) == []
    assert bad.cp_id not in central.server.log()
    failures = handshake_failures(central)
    if case.server_says is None:
        assert failures == []
    else:
        assert bad.failed_attempts() >= 3
        (line,) = failures  # once for this peer, however many attempts
        assert case.server_says in line, line


def test_the_monitor_recovers_once_its_ca_is_replaced_and_clears_its_problem(
    central: Central,
    pki: Pki,
    monitors: Callable[[str, Path | None], Monitor],
    events: CpEvents,
    tmp_path: Path,
) -> None:
    ca_file = tmp_path / "ca.crt"
    shutil.copy(pki.foreign / "ca.crt", ca_file)
    monitor = monitors(f"127.0.0.1:{central.tls_port}", ca_file)
    wait_until(monitor.problem, 30, "the monitor to report the wrong CA")
    shutil.copy(pki.ca, ca_file)  # "copy the central's pki/ca.crt"
    (connected,) = events.wait_for(monitor.cp_id, 1, timeout=45)
    assert isinstance(connected, CpConnected)
    wait_until(lambda: monitor.problem() is None, 10, "the problem file to be cleared")


def test_a_silent_client_on_the_tls_port_is_closed_at_the_handshake_deadline(
    start_central: StartCentral, run: TestRun, pki: Pki
) -> None:
    central = start_central(AUTH_HANDSHAKE_TIMEOUT="3")
    good = good_client(run, central, pki)
    try:
        with socket.create_connection(("127.0.0.1", central.tls_port), timeout=15) as silent:
            opened = time.monotonic()
            beat_until(good, lambda: handshake_failures(central), 15, "the silent client to be given up")
            assert silent.recv(1) == b""
            assert time.monotonic() - opened >= 2.5
    finally:
        good.close()
    (line,) = handshake_failures(central)
    assert "no handshake within 3 s" in line


def test_over_the_connection_cap_a_tls_newcomer_is_closed_before_its_handshake(
    start_central: StartCentral, run: TestRun, pki: Pki
) -> None:
    central = start_central(AUTH_MAX_CONNECTIONS="1")
    # The start-up's health check may still hold the one place for a moment.
    good = wait_until(lambda: good_client(run, central, pki), 10, "the one place to be free")
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            TlsWireClient(central.tls_port, pki.ca).close()
        assert isinstance(good.request(Heartbeat(engine_health=EngineHealth.OK)), HeartbeatAck)
    finally:
        good.close()
    assert "refused before the TLS handshake, 1 connections open" in central.server.log()
