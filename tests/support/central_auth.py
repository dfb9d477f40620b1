"""What the central-auth integration tests share: the real server as a subprocess,
a plain blocking protocol client, and a reader of the CP events on Kafka.

Every test run works under its own id prefix (`TestRun`), so tests of other
services sharing the same Kafka and MariaDB never see, nor disturb, its CPs.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from central_auth.healthcheck import check
from evcharging import db, topics
from evcharging.framing import FrameDecoder
from evcharging.messages import EngineHealth, Message
from evcharging.wire import Authenticate, Error, Record, Register, Registered, from_frame, to_frame
from tests.support.kafka import TopicTail
from tests.support.stack import ROOT, Infra, free_port
from tests.support.waiting import wait_until

CP_TOPICS = (topics.CP_CONNECTIONS, topics.FAULTS, topics.RECOVERIES)


@dataclass(frozen=True)
class TestRun:
    """The ids and the enrolment key of one test module's CPs."""

    __test__ = False  # not a test class, despite its name

    prefix: str = field(default_factory=lambda: f"T{uuid.uuid4().hex[:8]}")
    enrolment_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def auto_prefix(self) -> str:
        return f"{self.prefix}-A"

    def new_cp_id(self) -> str:
        return f"{self.prefix}-X{uuid.uuid4().hex[:6]}"

    def forget_cps(self, infra: Infra) -> None:
        """Delete this run's rows from charging_points."""
        connection = db.connect(infra.database)
        try:
            with db.cursor(connection) as cur:
                cur.execute(
                    "DELETE FROM charging_points WHERE LEFT(id, CHAR_LENGTH(%s)) = %s",
                    (self.prefix, self.prefix),
                )
        finally:
            connection.close()


class AuthProcess:
    """`python -m central_auth PORT KAFKA DB_HOST:PORT`, as the seed ran it, on this host."""

    def __init__(
        self, infra: Infra, run: TestRun, log_path: Path, port: int | None = None, **env: str
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        database = infra.database
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "services/central-auth"), str(ROOT / "lib")]),
            "DB_USER": database.user,
            "DB_PASSWORD": database.password,
            "DB_NAME": database.database,
            "CP_ENROLMENT_KEY": run.enrolment_key,
            "AUTH_AUTO_ID_PREFIX": run.auto_prefix,
            "AUTH_RESTART_ANNOUNCE_PREFIX": run.prefix,
            **env,
        }
        arguments = [str(self.port), infra.kafka_bootstrap, f"{database.host}:{database.port}"]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "central_auth", *arguments],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._serving, 30, f"central-auth on port {self.port} to answer a Ping")

    def _serving(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"central-auth exited with {self.process.returncode}:\n{self.log()}")
        return check("127.0.0.1", self.port, timeout=1.0) is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, as `docker compose stop` sends, and wait for the exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def central_auth(infra: Infra, run: TestRun, log_path: Path, **options: Any) -> Iterator[AuthProcess]:
    """The server for the block's duration; stopped gracefully at the end, so that
    what it has queued for Kafka is delivered (tests that want a crash call kill())."""
    server = AuthProcess(infra, run, log_path, **options)
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.kill()


class WireClient:
    """A deliberately plain, blocking client: one socket, frames in and out."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._decoder = FrameDecoder()
        self._received: list[Record] = []

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, record: Record) -> None:
        self.sock.sendall(to_frame(record))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Record | None:
        """The next record, or None when the server closed the connection."""
        while not self._received:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self._received.extend(from_frame(frame) for frame in self._decoder.feed(chunk))
        return self._received.pop(0)

    def request(self, record: Record) -> Record | None:
        self.send(record)
        return self.receive()

    def receive_until_closed(self) -> list[Record]:
        """Everything the server still says before it closes the connection."""
        said = []
        while (record := self.receive()) is not None:
            said.append(record)
        return said

    def register(self, run: TestRun, cp_id: str, price: str = "0.350") -> str:
        reply = self.request(
            Register(
                enrolment_key=run.enrolment_key,
                cp_id=cp_id,
                location="Test bench",
                price_per_kwh=Decimal(price),
            )
        )
        assert isinstance(reply, Registered), reply
        return reply.credential

    def authenticate(
        self, cp_id: str, credential: str, health: EngineHealth = EngineHealth.OK
    ) -> Record | None:
        return self.request(Authenticate(cp_id=cp_id, credential=credential, engine_health=health))


class TlsWireClient(WireClient):
    """The plain client inside TLS, verifying central-auth with the CA in `ca_file`."""

    def __init__(self, port: int, ca_file: Path, host: str = "localhost", timeout: float = 10.0) -> None:
        super().__init__(port, timeout)
        context = ssl.create_default_context(cafile=str(ca_file))
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        except BaseException:
            self.sock.close()
            raise


def tls_environment(pki: Path, port: int) -> dict[str, str]:
    """central-auth's variables for a TLS listener on `port` with the certificate in `pki`."""
    return {
        "AUTH_TLS_PORT": str(port),
        "AUTH_TLS_CERT": str(pki / "central.crt"),
        "AUTH_TLS_KEY": str(pki / "central.key"),
    }


def refusal_reason(reply: Record | None) -> str:
    assert isinstance(reply, Error), f"expected a refusal, got {reply!r}"
    return reply.reason.value


class CpEvents:
    """The CP events (connections, faults, recoveries) published from now on,
    merged across their topics, per CP id, in the order they were sent."""

    def __init__(self, infra: Infra) -> None:
        self._tail = TopicTail(infra.kafka_bootstrap, CP_TOPICS)

    def close(self) -> None:
        self._tail.close()

    def of(self, cp_id: str) -> list[Message]:
        """Everything received so far about `cp_id`, in the order it was sent."""
        merged: list[Message] = []
        for topic in CP_TOPICS:  # Kafka keeps each topic's order: it must be the order of sending
            received = [message for message in self._tail.of(cp_id, topic) if isinstance(message, Message)]
            sent = [message.sent_at for message in received]
            assert sent == sorted(sent), f"{topic.name} delivered {cp_id}'s events out of order"
            merged += received
        return sorted(merged, key=lambda message: message.sent_at)

    def types_of(self, cp_id: str) -> list[str]:
        return [message.type for message in self.of(cp_id)]  # type: ignore[attr-defined]

    def wait_for(self, cp_id: str, count: int, timeout: float = 15.0) -> list[Message]:
        """The first `count` events about `cp_id`, once they have all arrived."""

        def arrived() -> list[Message] | None:
            events = self.of(cp_id)
            return events[:count] if len(events) >= count else None

        return wait_until(arrived, timeout, f"{count} events about {cp_id}")
