"""The one policy for database errors (evcharging.db_retry) and the refusal of our
credentials (evcharging.db): what is retried, how the waits grow, when it gives up."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import mysql.connector
import pytest
from mysql.connector import errorcode, errors
from tenacity import RetryCallState, Retrying, wait_none

from evcharging import db, db_retry, health
from evcharging.config import DatabaseSettings
from evcharging.db_retry import DatabaseUnavailable, Transient, until_it_works, worth_retrying

PASSWORD = "not-a-secret"  # noqa: S105 - never sent anywhere
SETTINGS = DatabaseSettings(host="mariadb", port=3306, user="evcharging", password=PASSWORD, database="evdb")


def connected() -> bool:
    return True


def gone() -> bool:
    return False


def not_asked() -> bool:
    raise AssertionError("the error number decides: no ping")


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_retry, "backoff", wait_none)


# --- the retry decision ---------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        errors.DatabaseError(msg="Can't connect to MySQL server", errno=errorcode.CR_CONN_HOST_ERROR),
        errors.DatabaseError(msg="Unknown MySQL server host", errno=errorcode.CR_UNKNOWN_HOST),
        errors.DatabaseError(msg="MySQL server has gone away", errno=errorcode.CR_SERVER_GONE_ERROR),
        errors.OperationalError(msg="Lost connection", errno=errorcode.CR_SERVER_LOST),
        errors.OperationalError(msg="Server shutdown in progress", errno=errorcode.ER_SERVER_SHUTDOWN),
        errors.DatabaseError(msg="Lock wait timeout exceeded", errno=errorcode.ER_LOCK_WAIT_TIMEOUT),
        errors.InternalError(msg="Deadlock found", errno=errorcode.ER_LOCK_DEADLOCK),
    ],
)
def test_a_lost_connection_or_a_lost_lock_race_is_retried_by_its_number(error: Exception) -> None:
    assert worth_retrying(error, still_connected=not_asked)


def test_a_refusal_is_never_retried_even_without_a_connection() -> None:
    denied = errors.ProgrammingError(msg="Access denied", errno=errorcode.ER_ACCESS_DENIED_ERROR)
    assert not worth_retrying(denied, still_connected=gone)
    assert not worth_retrying(db.DatabaseRefused(msg="refused", errno=1045), still_connected=gone)


def test_an_error_without_a_telling_number_is_retried_only_when_the_connection_is_gone() -> None:
    unavailable = errors.OperationalError(msg="MySQL Connection not available.")
    assert worth_retrying(unavailable, still_connected=gone)
    assert not worth_retrying(unavailable, still_connected=connected)
    client_side = errors.InterfaceError(
        msg="Failed executing the operation; Python type X cannot be converted"
    )
    assert not worth_retrying(client_side, still_connected=connected)


def test_a_statement_the_server_rejects_is_not_retried() -> None:
    duplicate = errors.IntegrityError(msg="Duplicate entry", errno=errorcode.ER_DUP_ENTRY)
    assert not worth_retrying(duplicate, still_connected=connected)


def test_an_error_that_is_not_the_database_s_is_never_retried() -> None:
    assert not worth_retrying(KeyError("estado"), still_connected=gone)


# --- the waits --------------------------------------------------------------------------


def waits(attempts: range) -> list[float]:
    wait = db_retry.backoff()
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    found = []
    for attempt in attempts:
        state.attempt_number = attempt
        found.append(wait(state))
    return found


def test_the_waits_grow_from_a_tenth_of_a_second_and_stop_at_five() -> None:
    first, second, third = waits(range(1, 4))
    assert 0.1 <= first <= 0.3
    assert 0.2 <= second <= 0.4
    assert 0.4 <= third <= 0.6
    assert waits(range(10, 30)) == [db_retry.LONGEST_WAIT] * 20


def test_the_waits_are_jittered() -> None:
    assert len(set(waits(range(1, 2)) + waits(range(1, 2)) + waits(range(1, 2)))) > 1


# --- retrying -----------------------------------------------------------------------------


class Flaky:
    """Raises Transient `failures` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise Transient(errors.OperationalError(msg="Lost connection", errno=2013))
        return "answer"


@pytest.mark.usefixtures("no_waits")
def test_a_transient_failure_is_tried_again_until_it_works() -> None:
    flaky = Flaky(failures=5)
    assert until_it_works(flaky, give_up_after=None) == "answer"
    assert flaky.calls == 6


@pytest.mark.usefixtures("no_waits")
def test_past_its_time_it_gives_up_naming_the_last_error() -> None:
    flaky = Flaky(failures=100)
    with pytest.raises(DatabaseUnavailable, match="Lost connection") as raised:
        until_it_works(flaky, give_up_after=0.0)
    assert isinstance(raised.value.__cause__, errors.OperationalError)
    assert flaky.calls == 1


@pytest.mark.usefixtures("no_waits")
def test_closing_ends_even_an_endless_retry() -> None:
    closing = threading.Event()
    closing.set()
    flaky = Flaky(failures=100)
    with pytest.raises(DatabaseUnavailable):
        until_it_works(flaky, give_up_after=None, closing=closing)
    assert flaky.calls == 1


def test_any_other_error_is_raised_at_once() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise errors.IntegrityError(msg="foreign key", errno=1452)

    with pytest.raises(errors.IntegrityError):
        until_it_works(broken, give_up_after=None)
    assert calls == [1]


# --- the refusal --------------------------------------------------------------------------


class Server:
    """Stands in for mysql.connector.connect: refuses, fails or answers, in turn."""

    def __init__(self, *answers: Exception | str) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, **_: Any) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def problem_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "problem"
    monkeypatch.setattr(health, "PROBLEM_PATH", path)
    monkeypatch.setattr(db, "_refusals", db._Refusals())
    return path


def denied() -> Exception:
    return errors.ProgrammingError(msg="Access denied for user 'evcharging'", errno=1045)


def test_a_refusal_is_said_once_in_the_log_and_the_health_until_accepted(
    monkeypatch: pytest.MonkeyPatch, problem_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(mysql.connector, "connect", Server(denied(), denied(), "connection"))
    with caplog.at_level(logging.INFO, logger="evcharging.db"):
        for _ in range(2):
            with pytest.raises(db.DatabaseRefused) as refused:
                db.open_connection(SETTINGS)
            assert str(refused.value.msg) == db.refusal_text(SETTINGS, denied())
            assert "DB_PASSWORD" in problem_file.read_text()
        assert db.open_connection(SETTINGS) == "connection"
    assert not problem_file.exists()
    assert caplog.text.count("refuses user 'evcharging'") == 1
    assert "the database accepts our credentials now" in caplog.text


@pytest.mark.usefixtures("no_waits", "problem_file")
def test_connect_waits_out_a_restart_but_not_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    restarting = errors.DatabaseError(msg="Can't connect", errno=errorcode.CR_CONN_HOST_ERROR)
    server = Server(restarting, restarting, "connection")
    monkeypatch.setattr(mysql.connector, "connect", server)
    assert db.connect(SETTINGS) == "connection"
    assert server.calls == 3

    server = Server(denied(), "connection")
    monkeypatch.setattr(mysql.connector, "connect", server)
    with pytest.raises(db.DatabaseRefused):
        db.connect(SETTINGS)
    assert server.calls == 1
