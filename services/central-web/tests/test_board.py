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


def test_only_unanswered_requests_expire_and_only_once_due() -> None:
    board = Board()
    for n in range(3):  # due at 10, 11 and 12 s
        due = NOW + timedelta(seconds=10 + n)
        board.apply(SupplyRequest(request_id=f"r{n}", cp_id=f"CP{n}", driver_id="D1", expires_at=due), NOW)
    answer = SupplyAuthorised(
        request_id="r1", session_id="s1", cp_id="CP1", driver_id="D1", price_per_kwh=Decimal(1)
    )
    board.apply(answer, NOW)
    assert board.expire(NOW + timedelta(seconds=11.5))
    assert [r["request_id"] for r in board.snapshot()["requests"]] == ["r1", "r2"]
    assert not board.expire(NOW + timedelta(seconds=11.9))
    assert board.expire(NOW + timedelta(seconds=13))
    assert [r["request_id"] for r in board.snapshot()["requests"]] == ["r1"]


def test_operator_commands_are_logged_once() -> None:
    board = Board()
    command = OperatorCommand(cp_id="CP1", action=OperatorAction.STOP, operator="ana")
    assert board.apply(command, NOW)
    assert not board.apply(command, NOW)
    assert board.snapshot()["events"][0]["text"] == "Operator ana asked CP1 to stop"


def authorised(rid: str, session: str, cp: str) -> SupplyAuthorised:
    return SupplyAuthorised(
        request_id=rid, session_id=session, cp_id=cp, driver_id="D1", price_per_kwh=Decimal(1)
    )


def update(session: str, cp: str, kwh: int) -> SupplyUpdate:
    return SupplyUpdate(
        session_id=session, cp_id=cp, driver_id="D1", seq=kwh, kw=Decimal(7), kwh=Decimal(kwh), eur=Decimal(0)
    )


def test_each_update_reaches_its_own_session_among_many() -> None:
    board = Board()
    for n in range(50):
        board.apply(request(f"r{n}", f"CP{n}"), NOW)
        board.apply(authorised(f"r{n}", f"s{n}", f"CP{n}"), NOW)
    board.apply(update("s17", "CP17", 5), NOW)
    rows = {row["cp_id"]: row for row in board.snapshot()["requests"]}
    assert rows["CP17"]["status"] == "supplying"
    assert rows["CP17"]["kwh"] == "5"
    assert all(row["status"] == "authorised" for cp, row in rows.items() if cp != "CP17")


def test_a_session_that_ended_takes_no_more_updates() -> None:
    board = Board()
    board.apply(request("r1", "CP1"), NOW)
    board.apply(authorised("r1", "s1", "CP1"), NOW)
    board.apply(update("s1", "CP1", 2), NOW)
    board.apply(status("CP1", CpState.ACTIVE), NOW)  # the CP is no longer supplying: the row goes
    assert board.snapshot()["requests"] == []
    assert not board.apply(update("s1", "CP1", 3), NOW)
    assert board.snapshot()["requests"] == []
