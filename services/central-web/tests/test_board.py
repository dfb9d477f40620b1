"""The status board's rules, with plain messages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from central_web.board import Board
from evcharging.messages import (
    CpState,
    CpStatus,
    DenialReason,
    EndReason,
    OperatorAction,
    OperatorCommand,
    SupplyAuthorised,
    SupplyDenied,
    SupplyRequest,
    SupplyUpdate,
    Ticket,
    utc_now,
)

NOW = utc_now()


def status(cp: str, state: CpState, **extra: object) -> CpStatus:
    return CpStatus(cp_id=cp, state=state, location="Here", price_per_kwh=Decimal("0.3"), **extra)  # type: ignore[arg-type]


def request(rid: str = "r1", cp: str = "CP1") -> SupplyRequest:
    return SupplyRequest(request_id=rid, cp_id=cp, driver_id="D1", expires_at=NOW + timedelta(seconds=10))


def test_the_latest_status_of_a_cp_is_its_tile() -> None:
    board = Board()
    board.apply(status("CP1", CpState.ACTIVE), NOW)
    live = {"driver_id": "D1", "kw": Decimal(7), "kwh": Decimal("1.5"), "eur": Decimal("0.45")}
    board.apply(status("CP1", CpState.SUPPLYING, **live), NOW)
    [tile] = board.snapshot()["cps"]
    assert tile["state"] == "suministrando"
    assert tile["label"] == "Supplying"
    assert (tile["driver_id"], tile["kw"], tile["kwh"], tile["eur"]) == ("D1", "7", "1.5", "0.45")
    assert board.snapshot()["summary"]["suministrando"] == 1


def test_state_changes_enter_the_log_but_not_the_first_sight() -> None:
    board = Board()
    board.apply(status("CP1", CpState.ACTIVE), NOW)
    board.apply(status("CP1", CpState.FAULTY), NOW)
    texts = [e["text"] for e in board.snapshot()["events"]]
    assert texts == ["CP1 is faulty"]


def test_old_messages_update_tiles_but_not_the_log() -> None:
    board = Board(window=timedelta(minutes=15))
    later = NOW + timedelta(hours=1)
    board.apply(status("CP1", CpState.ACTIVE), later)
    board.apply(status("CP1", CpState.STOPPED), later)
    assert board.snapshot()["cps"][0]["state"] == "parado"
    assert board.snapshot()["events"] == []


def test_database_rows_fill_in_cps_never_seen_live_only() -> None:
    board = Board()
    board.apply(status("CP1", CpState.ACTIVE), NOW)
    rows = [
        {"id": "CP1", "ubicacion": "DB", "precio_kwh": Decimal("0.9"), "estado": "desconectado"},
        {"id": "CP2", "ubicacion": "Elche", "precio_kwh": Decimal("0.41"), "estado": "desconectado"},
    ]
    assert board.load_database(rows, NOW)
    tiles = {t["cp_id"]: t for t in board.snapshot()["cps"]}
    assert tiles["CP1"]["state"] == "activado", "the topic wins over the database"
    assert tiles["CP2"]["source"] == "database"
    assert not board.load_database(rows, NOW), "nothing new"


def test_a_request_from_asked_to_ticket() -> None:
    board = Board()
    board.apply(request(), NOW)
    assert board.snapshot()["requests"][0]["status"] == "waiting"
    board.apply(
        SupplyAuthorised(
            request_id="r1", session_id="s1", cp_id="CP1", driver_id="D1", price_per_kwh=Decimal(1)
        ),
        NOW,
    )
    assert board.snapshot()["requests"][0]["status"] == "authorised"
    board.apply(
        SupplyUpdate(
            session_id="s1", cp_id="CP1", driver_id="D1", seq=0, kw=Decimal(7), kwh=Decimal(1), eur=Decimal(1)
        ),
        NOW,
    )
    assert board.snapshot()["requests"][0]["status"] == "supplying"
    board.apply(
        Ticket(
            ticket_id="s1",
            cp_id="CP1",
            driver_id="D1",
            started_at=NOW,
            ended_at=NOW,
            kwh=Decimal(1),
            price_per_kwh=Decimal(1),
            total_eur=Decimal(1),
            ended_by=EndReason.UNPLUGGED,
        ),
        NOW,
    )
    assert board.snapshot()["requests"] == []
    assert board.snapshot()["events"][0]["text"].startswith("Ticket for D1 at CP1: 1.000 kWh, 1.00 €")


def test_a_denial_read_before_its_request_leaves_nothing_waiting() -> None:
    board = Board()
    board.apply(SupplyDenied(request_id="r1", cp_id="CP1", driver_id="D1", reason=DenialReason.CP_BUSY), NOW)
    board.apply(request(), NOW)
    assert board.snapshot()["requests"] == []


def test_unanswered_requests_expire() -> None:
    board = Board()
    board.apply(request(), NOW)
    assert not board.expire(NOW)
    assert board.expire(NOW + timedelta(seconds=11))
    assert board.snapshot()["requests"] == []
    assert any("expired without an answer" in e["text"] for e in board.snapshot()["events"])


def test_operator_commands_are_logged_once() -> None:
    board = Board()
    command = OperatorCommand(cp_id="CP1", action=OperatorAction.STOP, operator="ana")
    assert board.apply(command, NOW)
    assert not board.apply(command, NOW)
    assert board.snapshot()["events"][0]["text"] == "Operator ana asked CP1 to stop"
