"""The shared snapshot: a small board's reads show every change at once; a big board's
snapshot is reused for a moment, and the event stream still gets every change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from central_web import live
from central_web.board import Board
from central_web.live import LiveBoard
from evcharging.messages import CpState, CpStatus


def status(cp_id: str, state: CpState) -> CpStatus:
    return CpStatus(cp_id=cp_id, state=state, location="Elche", price_per_kwh=Decimal("0.30"))


def set_state(board: LiveBoard, cp_id: str, state: CpState) -> None:
    board.change(lambda b: b.apply(status(cp_id, state), datetime.now(UTC)))


def states(snapshot: live.Snapshot) -> dict[str, str]:
    return {tile["cp_id"]: tile["state"] for tile in snapshot.data["cps"]}


@pytest.fixture
def big_board(monkeypatch: pytest.MonkeyPatch) -> LiveBoard:
    """A board whose snapshot counts as slow to build, so it is reused for FRESH_FOR."""
    monkeypatch.setattr(live, "CHEAP", -1.0)
    monkeypatch.setattr(live, "BUILDS_SHARE", 1e-9)
    board = LiveBoard(Board())
    set_state(board, "CP1", CpState.ACTIVE)
    return board


def test_a_small_boards_read_shows_the_change_just_made() -> None:
    board = LiveBoard(Board())
    set_state(board, "CP1", CpState.ACTIVE)
    assert states(board.snapshot()) == {"CP1": "activado"}
    set_state(board, "CP1", CpState.STOPPED)
    assert states(board.snapshot()) == {"CP1": "parado"}


def test_a_big_boards_snapshot_is_reused_for_a_moment(big_board: LiveBoard) -> None:
    first = big_board.snapshot()
    set_state(big_board, "CP1", CpState.STOPPED)
    assert big_board.snapshot() is first, "built again at once"
    assert first.serve_for == live.FRESH_FOR


def test_the_stream_gets_a_change_made_while_the_snapshot_was_fresh(big_board: LiveBoard) -> None:
    first = big_board.snapshot()
    set_state(big_board, "CP1", CpState.STOPPED)
    newer = big_board.wait_newer(first.version, timeout=5)
    assert newer is not None
    assert newer.version > first.version
    assert states(newer) == {"CP1": "parado"}


def test_the_tiles_text_is_the_tiles_and_the_whole_text_is_the_data() -> None:
    board = LiveBoard(Board())
    set_state(board, "CP1", CpState.ACTIVE)
    set_state(board, "CP2", CpState.STOPPED)
    snapshot = board.snapshot()
    assert json.loads(snapshot.cps_text) == snapshot.data["cps"]
    assert json.loads(snapshot.text) == snapshot.data
