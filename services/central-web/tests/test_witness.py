"""No state without a witness: the board trusts a CP's state only while central-auth's
beacons say it is alive, and only a state published since that run of central-auth
started. The clock is passed in, so every threshold is crossed exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from central_web.board import Board
from central_web.witness import Witness
from evcharging.messages import CentralAuthBeacon, CpState, CpStatus

T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def beacon(sent: float, started: float = 0.0, run: str = "run-1", cps: int = 2) -> CentralAuthBeacon:
    return CentralAuthBeacon(incarnation=run, started_at=at(started), connected_cps=cps, sent_at=at(sent))


def status(cp: str, state: CpState, sent: float) -> CpStatus:
    return CpStatus(cp_id=cp, state=state, location="Here", price_per_kwh=Decimal("0.3"), sent_at=at(sent))


def board(listening: float = 0.0) -> Board:
    return Board(witness=Witness(TIMEOUT, listening_since=at(listening)))


def verified(board: Board, now: datetime) -> dict[str, bool]:
    return {tile["cp_id"]: tile["verified"] for tile in board.snapshot(now)["cps"]}


def test_never_heard_means_silent_since_this_process_started_listening() -> None:
    b = board(listening=3)
    b.apply(status("CP1", CpState.ACTIVE, sent=1), at(3))
    starting = b.snapshot(at(4))["central_auth"]
    assert (starting["alive"], starting["last_heard"]) == (False, None)
    assert starting["silent_since"] is None, "just started, topic not read yet: no alarm"
    assert verified(b, at(4)) == {"CP1": False}, "but nothing is vouched for either"
    assert b.recheck(at(4)) is False
    assert b.recheck(at(8.1)) is True, "nothing within the timeout of listening: silent"
    central = b.snapshot(at(9))["central_auth"]
    assert (central["alive"], central["last_heard"]) == (False, None)
    assert central["silent_since"] == at(3).isoformat()
    [tile] = b.snapshot(at(9))["cps"]
    assert (tile["state"], tile["verified"]) == ("activado", False), "the state word stays, unvouched"


def test_silence_past_the_timeout_raises_the_banner_and_the_next_beacon_lowers_it() -> None:
    b = board()
    assert b.apply(beacon(sent=10), at(10)) is True, "the first beacon changes the page"
    b.apply(status("CP1", CpState.ACTIVE, sent=11), at(11))
    assert b.recheck(at(11)) is False
    assert b.snapshot(at(15))["central_auth"]["alive"] is True
    assert b.recheck(at(15)) is False, "exactly the timeout is still alive"
    assert verified(b, at(15)) == {"CP1": True}

    assert b.recheck(at(15.1)) is True, "past the timeout: the page must change"
    assert b.recheck(at(16)) is False, "and only once"
    silent = b.snapshot(at(16))
    assert silent["central_auth"]["alive"] is False
    assert silent["central_auth"]["silent_since"] == at(10).isoformat()
    assert silent["cps"][0]["state"] == "activado"
    assert verified(b, at(16)) == {"CP1": False}

    assert b.apply(beacon(sent=20), at(20)) is True, "heard again: the banner goes at once"
    assert b.snapshot(at(20))["central_auth"]["alive"] is True
    assert verified(b, at(20)) == {"CP1": True}
    assert b.recheck(at(20.5)) is False


def test_regular_beacons_change_nothing_visible() -> None:
    b = board()
    b.apply(beacon(sent=0), at(0))
    assert [b.apply(beacon(sent=s), at(s)) for s in (1, 2, 3)] == [False, False, False]
    assert [b.recheck(at(s + 0.5)) for s in (1, 2, 3)] == [False, False, False]


def test_a_stale_last_beacon_read_at_start_up_says_since_when_it_is_silent() -> None:
    b = board(listening=3600)
    b.apply(beacon(sent=60), at(3600))
    central = b.snapshot(at(3600))["central_auth"]
    assert central["alive"] is False
    assert central["silent_since"] == at(60).isoformat()
    assert central["incarnation"] == "run-1"


def test_a_fresh_last_beacon_read_at_start_up_vouches_at_once() -> None:
    b = board(listening=100)
    b.apply(status("CP1", CpState.ACTIVE, sent=50), at(100))
    b.apply(beacon(sent=99.5, started=40, cps=1), at(100))
    central = b.snapshot(at(100))["central_auth"]
    assert (central["alive"], central["connected_cps"]) == (True, 1)
    assert central["started_at"] == at(40).isoformat()
    assert verified(b, at(100)) == {"CP1": True}


def test_a_state_published_before_central_auth_started_is_not_vouched_for() -> None:
    # central-auth restarted at 100 but central-stream has not (yet) republished CP1:
    # its `activado` is from the previous run, whose monitors are gone.
    b = board()
    b.apply(status("CP1", CpState.ACTIVE, sent=50), at(101))
    b.apply(status("CP2", CpState.ACTIVE, sent=102), at(102))
    b.apply(status("CP3", CpState.DISCONNECTED, sent=50), at(102))
    b.apply(beacon(sent=103, started=100), at(103))
    assert verified(b, at(103)) == {"CP1": False, "CP2": True, "CP3": True}
    b.apply(status("CP1", CpState.DISCONNECTED, sent=103), at(103))
    assert verified(b, at(103))["CP1"] is True


def test_a_new_run_of_central_auth_changes_the_page_and_what_is_vouched_for() -> None:
    b = board()
    b.apply(beacon(sent=10, started=0, run="run-1"), at(10))
    b.apply(status("CP1", CpState.ACTIVE, sent=5), at(10))
    assert verified(b, at(10)) == {"CP1": True}
    assert b.apply(beacon(sent=12, started=11, run="run-2"), at(12)) is True
    assert verified(b, at(12)) == {"CP1": False}


def test_tiles_from_the_database_are_vouched_for_only_when_desconectado() -> None:
    b = board()
    rows = [
        {"id": "CP1", "ubicacion": "A", "precio_kwh": "0.3", "estado": "activado"},
        {"id": "CP2", "ubicacion": "B", "precio_kwh": "0.3", "estado": "desconectado"},
    ]
    b.load_database(rows, at(0))
    b.apply(beacon(sent=1), at(1))
    assert verified(b, at(1)) == {"CP1": False, "CP2": True}


def test_a_late_old_beacon_does_not_bring_central_auth_back() -> None:
    b = board()
    b.apply(beacon(sent=10), at(10))
    b.recheck(at(20))
    assert b.apply(beacon(sent=8), at(21)) is False, "older than the newest: a broker's backlog"
    assert b.apply(beacon(sent=14), at(21)) is False, "newer, but already past the timeout"
    assert b.snapshot(at(21))["central_auth"]["alive"] is False


def test_a_beacon_from_the_future_counts_from_when_it_was_read() -> None:
    b = board()
    b.apply(beacon(sent=100), at(10))  # the sender's clock is 90 s ahead
    assert b.snapshot(at(10))["central_auth"]["last_heard"] == at(10).isoformat()
    assert b.snapshot(at(16))["central_auth"]["alive"] is False
