"""A stopping worker ends its live streams at once, so an open status page does not
hold `docker compose stop central-web` for gunicorn's whole graceful timeout."""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from central_web.app import create_app
from central_web.live import LiveBoard
from tests.support.web import offline_settings

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


@pytest.fixture
def app() -> Flask:
    settings = offline_settings()
    return create_app(settings, LiveBoard())


def test_closing_the_board_wakes_a_waiting_viewer_at_once() -> None:
    board = LiveBoard()
    threading.Timer(0.2, board.close).start()
    started = time.monotonic()
    assert board.wait_newer(board.snapshot().version, timeout=10) is None
    assert time.monotonic() - started < 2


def test_a_live_stream_ends_when_the_board_closes(app: Flask) -> None:
    response = app.test_client().get("/api/stream", buffered=False)
    chunks = iter(response.response)
    assert b"retry" in next(chunks)
    assert b"event: state" in next(chunks)
    threading.Timer(0.2, app.extensions["live"].close).start()
    started = time.monotonic()
    assert list(chunks) == []  # the stream ends instead of waiting for a change
    assert time.monotonic() - started < 2
    response.close()


@pytest.fixture
def sigterm_restored() -> Iterator[None]:
    saved = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, saved)


@pytest.mark.usefixtures("sigterm_restored")
def test_the_worker_closes_its_board_on_sigterm_then_stops_as_gunicorn_does(app: Flask) -> None:
    spec = importlib.util.spec_from_file_location("gunicorn_conf", GUNICORN_CONF)
    assert spec is not None
    assert spec.loader is not None
    conf: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    gunicorn_stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: gunicorn_stopped.set())  # the worker's own handler
    conf.post_worker_init(SimpleNamespace(wsgi=app))
    os.kill(os.getpid(), signal.SIGTERM)
    assert gunicorn_stopped.wait(5)
    assert app.extensions["live"].closed
