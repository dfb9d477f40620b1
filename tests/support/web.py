"""central-web under gunicorn as a subprocess, a small cookie-keeping HTTP client, and
the settings of an app tested alone, for the web tests. (No tests here: the owners'
test-file pattern is `test_web*`.)"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from central_web.settings import WebSettings
from evcharging import db
from evcharging.config import DatabaseSettings
from tests.support.stack import ROOT, Infra, free_port
from tests.support.waiting import wait_until


def offline_settings(operator_password: str = "a password") -> WebSettings:  # noqa: S107 - a test's
    """central-web's settings for the app alone, in the test's process: no feed from
    Kafka, no database (the test gives the board what it needs)."""
    return WebSettings(
        kafka_bootstrap="localhost:1",
        database=None,
        operator_password=operator_password,
        secret_key="test-secret",
        start_feed=False,
    )


@dataclass
class WebServer:
    infra: Infra
    log_path: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        database = self.infra.database
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "services/central-web"), str(ROOT / "lib")]),
            "KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "DB_HOST": database.host,
            "DB_PORT": str(database.port),
            "DB_USER": database.user,
            "DB_PASSWORD": database.password,
            "DB_NAME": database.database,
            "OPERATOR_PASSWORD": self.password,
            "WEB_SECRET_KEY": secrets.token_hex(32),
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "WEB_WORKERS": "2",
            "WEB_DB_REFRESH": "1",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "central_web.app:create_app()",
            ],
            cwd=ROOT / "services/central-web",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._ready, 60, f"central-web to answer on {self.url} (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited; see {self.log_path}")
        status, body = Client(self.url).get("/healthz")
        return status == 200 and body["feed"]["caught_up"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


class Client:
    """JSON over HTTP with a cookie jar, as a browser or a script would talk to the API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 - test URL
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return self.request("POST", path, body, headers)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def stream_events(base: str, timeout: float = 10) -> http.client.HTTPResponse:
    """An open server-sent-event stream; read it with `next_state`."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    connection.request("GET", "/api/stream", headers={"Accept": "text/event-stream"})
    return connection.getresponse()


def next_state(response: http.client.HTTPResponse) -> dict[str, Any]:
    """The next `state` event of a stream."""
    data = None
    while True:
        line = response.readline().decode()
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line in ("\n", "") and data is not None:
            parsed: dict[str, Any] = json.loads(data)
            return parsed
        elif line == "":
            raise AssertionError("the stream ended")


def insert_cp(
    settings: DatabaseSettings, cp_id: str, location: str, price: str, state: str = "desconectado"
) -> None:
    connection = db.connect(settings)
    try:
        with db.cursor(connection) as cur:
            cur.execute(
                "INSERT INTO charging_points (id, ubicacion, precio_kwh, estado) VALUES (%s, %s, %s, %s)",
                (cp_id, location, price, state),
            )
    finally:
        connection.close()


def delete_cps(settings: DatabaseSettings, cp_ids: list[str]) -> None:
    connection = db.connect(settings)
    try:
        with db.cursor(connection) as cur:
            for cp_id in cp_ids:
                cur.execute("DELETE FROM charging_points WHERE id = %s", (cp_id,))
    finally:
        connection.close()
