"""What the page and the API say about central-auth's silence, without Kafka."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask

from central_web.app import create_app
from central_web.board import Board
from central_web.live import LiveBoard
from central_web.witness import Witness
from evcharging.messages import CentralAuthBeacon, CpState, CpStatus, utc_now
from tests.support.web import offline_settings

STARTED = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


@pytest.fixture
def live() -> LiveBoard:
    """A board listening since STARTED (long ago) and never told of central-auth."""
    board = LiveBoard(Board(witness=Witness(timedelta(seconds=5), listening_since=STARTED)))
    record = CpStatus(cp_id="CP1", state=CpState.ACTIVE, location="Alicante", price_per_kwh=Decimal("0.35"))
    board.change(lambda b: b.apply(record, utc_now()))
    return board


@pytest.fixture
def app(live: LiveBoard) -> Flask:
    settings = offline_settings("correct horse")
    return create_app(settings, live)


def hear_central_auth(live: LiveBoard) -> None:
    beacon = CentralAuthBeacon(
        incarnation="abc123", started_at=utc_now() - timedelta(minutes=1), connected_cps=1
    )
    live.change(lambda b: b.apply(beacon, utc_now()))


def banner(page: str) -> re.Match[str] | None:
    return re.search(r'<div id="central-auth-banner"[^>]*>', page)


def test_silent_central_auth_shows_the_banner_and_marks_every_tile(app: Flask) -> None:
    page = app.test_client().get("/").get_data(as_text=True)
    tag = banner(page)
    assert tag is not None
    assert "hidden" not in tag.group(0)
    assert "central-auth has not been heard from since" in page
    assert 'datetime="2026-03-01T09:30:15+00:00">09:30:15</time>' in page
    assert re.search(r'data-cp="CP1" data-state="activado"[^>]*data-verified="false"', page)
    assert "Last known state" in page


def test_the_api_says_the_states_are_not_verified(app: Flask) -> None:
    client = app.test_client()
    [tile] = client.get("/api/cps").get_json()
    assert (tile["state"], tile["label"], tile["verified"]) == ("activado", "Available", False)
    central = client.get("/api/central").get_json()["central_auth"]
    assert central["alive"] is False
    assert central["last_heard"] is None
    assert central["silent_since"] == STARTED.isoformat()
    assert central["timeout"] == 5.0
    assert client.get("/api/state").get_json()["central_auth"]["alive"] is False


def test_once_heard_the_banner_is_hidden_and_the_tiles_are_verified(app: Flask, live: LiveBoard) -> None:
    hear_central_auth(live)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    tag = banner(page)
    assert tag is not None
    assert "hidden" in tag.group(0)
    assert re.search(r'data-cp="CP1" data-state="activado"[^>]*data-verified="true"', page)
    [tile] = client.get("/api/cps").get_json()
    assert tile["verified"] is True
    central = client.get("/api/central").get_json()["central_auth"]
    assert (central["alive"], central["incarnation"], central["connected_cps"]) == (True, "abc123", 1)
    assert central["silent_since"] is None


def test_a_worker_that_has_not_read_the_topic_yet_raises_no_alarm_but_vouches_for_nothing() -> None:
    live = LiveBoard(Board(witness=Witness(timedelta(seconds=5))))  # listening since now
    record = CpStatus(cp_id="CP1", state=CpState.ACTIVE, location="Alicante", price_per_kwh=Decimal("0.35"))
    live.change(lambda b: b.apply(record, utc_now()))
    settings = offline_settings("correct horse")
    client = create_app(settings, live).test_client()
    page = client.get("/").get_data(as_text=True)
    tag = banner(page)
    assert tag is not None
    assert "hidden" in tag.group(0)
    assert re.search(r'data-cp="CP1" data-state="activado"[^>]*data-verified="false"', page)
    central = client.get("/api/central").get_json()["central_auth"]
    assert (central["alive"], central["silent_since"]) == (False, None)


def test_the_stream_is_told_when_central_auth_falls_silent(live: LiveBoard) -> None:
    hear_central_auth(live)
    before = live.snapshot()
    assert before.data["central_auth"]["alive"] is True
    live.change(lambda b: b.witness.recheck(utc_now()))  # nothing changed yet
    assert live.snapshot().version == before.version
    live.change(lambda b: b.recheck(utc_now() + timedelta(seconds=6)))
    after = live.wait_newer(before.version, timeout=0)
    assert after is not None, "a new version wakes the event streams"
