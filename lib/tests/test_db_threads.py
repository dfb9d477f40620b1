"""DatabaseThreads with fake connections: work runs on its threads, in order on one,
its result or its exception comes back, a lost connection is opened again, and
closing ends even an endless retry."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from mysql.connector import errorcode, errors
from tenacity import wait_fixed, wait_none

from evcharging import db_retry
from evcharging.config import DatabaseSettings
from evcharging.db import Connection, Cursor, DatabaseRefused
from evcharging.db_retry import DatabaseUnavailable
from evcharging.db_threads import DatabaseThreads

PASSWORD = "not-a-secret"  # noqa: S105 - never sent anywhere
SETTINGS = DatabaseSettings(host="mariadb", port=3306, user="evcharging", password=PASSWORD, database="evdb")
LOST = errorcode.CR_SERVER_LOST


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.alive = True
        self.closed = False

    def cursor(self, dictionary: bool) -> FakeCursor:
        assert dictionary
        return FakeCursor(self)

    def is_connected(self) -> bool:
        return self.alive

    def close(self) -> None:
        self.closed = True


class Opener:
    """Opens fake connections; `failures` makes the next ones fail instead."""

    def __init__(self) -> None:
        self.opened: list[FakeConnection] = []
        self.failures: list[Exception] = []
        self.attempted = threading.Semaphore(0)

    def __call__(self, _settings: DatabaseSettings) -> Connection:
        self.attempted.release()
        if self.failures:
            raise self.failures.pop(0)
        connection = FakeConnection(len(self.opened) + 1)
        self.opened.append(connection)
        return cast(Connection, connection)


@pytest.fixture
def opener() -> Opener:
    return Opener()


@pytest.fixture
def make(opener: Opener) -> Iterator[Callable[..., DatabaseThreads]]:
    made: list[DatabaseThreads] = []

    def make(**options: Any) -> DatabaseThreads:
        made.append(DatabaseThreads(SETTINGS, connect=opener, **options))
        return made[-1]

    yield make
    for database in made:
        database.close()


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_retry, "backoff", wait_none)


def number(cur: Cursor) -> int:
    """Which fake connection the work ran on."""
    return int(cur.connection.number)


def test_work_runs_on_a_database_thread_and_hands_back_its_result(
    make: Callable[..., DatabaseThreads],
) -> None:
    database = make(name="db-test")

    def where(_cur: Cursor) -> str:
        return threading.current_thread().name

    assert asyncio.run(database.run(where)).startswith("db-test")
    assert database.call(where).startswith("db-test")


def test_one_thread_runs_the_work_in_the_order_it_was_given(make: Callable[..., DatabaseThreads]) -> None:
    database = make()
    done: list[int] = []
    first_may_finish = threading.Event()

    def step(index: int) -> Callable[[Cursor], int]:
        def work(_cur: Cursor) -> int:
            if index == 0:  # the others queue up behind the first meanwhile
                first_may_finish.wait(5)
            done.append(index)
            return index

        return work

    async def all_steps() -> list[int]:
        tasks = [asyncio.ensure_future(database.run(step(i))) for i in range(50)]
        # Runs after each task's first step, which hands its work over: all are queued.
        asyncio.get_running_loop().call_soon(first_may_finish.set)
        return await asyncio.gather(*tasks)

    assert asyncio.run(all_steps()) == list(range(50))
    assert done == list(range(50))


def test_each_thread_has_its_own_connection_kept_between_calls(
    make: Callable[..., DatabaseThreads], opener: Opener
) -> None:
    database = make(threads=3)
    both_running = threading.Barrier(3, timeout=5)

    def together(cur: Cursor) -> int:
        both_running.wait()
        return number(cur)

    async def three_at_once() -> list[int]:
        return await asyncio.gather(*(database.run(together) for _ in range(3)))

    assert sorted(asyncio.run(three_at_once())) == [1, 2, 3]
    assert database.call(number) in (1, 2, 3)
    assert len(opener.opened) == 3


def test_an_error_of_the_work_comes_back_unchanged_and_the_connection_stays(
    make: Callable[..., DatabaseThreads], opener: Opener
) -> None:
    database = make()
    duplicate = errors.IntegrityError(msg="Duplicate entry", errno=errorcode.ER_DUP_ENTRY)

    def insert(_cur: Cursor) -> None:
        raise duplicate

    with pytest.raises(errors.IntegrityError) as raised:
        asyncio.run(database.run(insert))
    assert raised.value is duplicate
    with pytest.raises(ZeroDivisionError):
        database.call(lambda _cur: 1 / 0)
    assert database.call(number) == 1
    assert not opener.opened[0].closed


def test_a_lost_connection_is_opened_again_at_once_and_the_work_run_again(
    make: Callable[..., DatabaseThreads], opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_retry, "backoff", lambda: wait_fixed(60))  # a wait would hang the test
    database = make(give_up_after=None)
    assert database.call(number) == 1
    tries: list[int] = []

    def write(cur: Cursor) -> int:
        tries.append(number(cur))
        if len(tries) == 1:
            cur.connection.alive = False
            raise errors.OperationalError(msg="MySQL Connection not available.")
        return number(cur)

    assert database.call(write) == 2
    assert tries == [1, 2]
    assert opener.opened[0].closed


@pytest.mark.usefixtures("no_waits")
def test_while_the_database_is_away_it_keeps_trying_until_it_is_back(
    make: Callable[..., DatabaseThreads], opener: Opener
) -> None:
    down = errors.DatabaseError(msg="Can't connect to MySQL server", errno=errorcode.CR_CONN_HOST_ERROR)
    opener.failures = [down] * 7
    database = make(give_up_after=None)
    assert database.call(number) == 1
    assert opener.failures == []


@pytest.mark.usefixtures("no_waits")
def test_past_give_up_after_it_raises_database_unavailable(
    make: Callable[..., DatabaseThreads], opener: Opener
) -> None:
    opener.failures = [errors.OperationalError(msg="Lost connection", errno=LOST)] * 100
    database = make(give_up_after=0.0)
    with pytest.raises(DatabaseUnavailable, match="Lost connection"):
        asyncio.run(database.run(number))


def test_refused_credentials_are_not_retried(make: Callable[..., DatabaseThreads], opener: Opener) -> None:
    opener.failures = [DatabaseRefused(msg="the database refuses user 'evcharging'", errno=1045)]
    database = make(give_up_after=None)
    with pytest.raises(DatabaseRefused):
        database.call(number)
    assert opener.failures == []
    assert opener.opened == []


def test_every_new_connection_is_prepared_before_any_work(
    make: Callable[..., DatabaseThreads], opener: Opener
) -> None:
    prepared: list[int] = []
    database = make(prepare=lambda cur: prepared.append(number(cur)))
    database.call(number)
    database.call(number)
    assert prepared == [1]
    opener.opened[0].alive = False

    def fails_once(cur: Cursor) -> int:
        if number(cur) == 1:
            raise errors.OperationalError(msg="MySQL Connection not available.")
        return number(cur)

    assert database.call(fails_once) == 2
    assert prepared == [1, 2]


def test_closing_closes_the_connections(opener: Opener) -> None:
    database = DatabaseThreads(SETTINGS, connect=opener, threads=2)
    database.call(number)
    database.close()
    assert [connection.closed for connection in opener.opened] == [True]


def test_closing_ends_an_endless_retry(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_retry, "backoff", lambda: wait_fixed(60))
    opener.failures = [errors.OperationalError(msg="Lost connection", errno=LOST)] * 100
    waiting = DatabaseThreads(SETTINGS, connect=opener, give_up_after=None)
    with ThreadPoolExecutor(1) as caller:
        result = caller.submit(waiting.call, number)
        for _ in range(2):  # the first try, then the first retry: then a 60 s wait
            assert opener.attempted.acquire(timeout=5)
        waiting.close()
        with pytest.raises(DatabaseUnavailable):
            result.result(timeout=5)
