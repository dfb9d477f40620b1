"""The one policy for database errors: which are worth retrying, how long to wait
between tries, and when to give up.

Every service that talks to MariaDB goes through it (evcharging.db for opening a
connection, evcharging.db_threads for running work), so "is this a restart to wait
out, or a mistake to report?" is answered in one place:

- a refusal of the credentials is never retried: a person must act (evcharging.db
  says so once, in the log and the health);
- an error the server or the client library gives for a connection that failed or
  went away, or for a statement that lost a lock race, is retried (`TRY_AGAIN`);
- any other connector error is retried only when the connection no longer answers
  a ping: whatever it was called, a new connection may succeed — mysql-connector
  reports a connection closed under it as OperationalError or InterfaceError with
  no server error number, and the same classes for client-side mistakes (a value
  it cannot convert), so the class alone cannot tell;
- everything else (a broken constraint, a syntax error, a bug in the caller's code)
  is raised to the caller at once.

A retry reconnects and runs the whole unit of work again, so units of work must be
safe to repeat (the services' writes are idempotent upserts or conditional updates).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

import mysql.connector
from mysql.connector import errorcode
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_before_delay,
    stop_never,
    stop_when_event_set,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from evcharging.retry import backoff_wait, pause_until

log = logging.getLogger(__name__)
T = TypeVar("T")

ACCESS_DENIED = frozenset(
    {
        errorcode.ER_DBACCESS_DENIED_ERROR,  # 1044, to the database
        errorcode.ER_ACCESS_DENIED_ERROR,  # 1045, for this user and password
        errorcode.ER_ACCESS_DENIED_NO_PASSWORD_ERROR,  # 1698, by the authentication plugin
    }
)
"""MariaDB's 'access denied' errors: the credentials are refused, retrying will not help."""

TRY_AGAIN = frozenset(
    {
        # The client could not reach the server, or lost it (a restart, a network hiccup).
        errorcode.CR_CONNECTION_ERROR,  # 2002, the socket
        errorcode.CR_CONN_HOST_ERROR,  # 2003, TCP: refused or timed out
        errorcode.CR_UNKNOWN_HOST,  # 2005, a restarting container has no DNS name for a moment
        errorcode.CR_SERVER_GONE_ERROR,  # 2006
        errorcode.CR_SERVER_LOST,  # 2013
        errorcode.CR_SERVER_LOST_EXTENDED,  # 2055
        # The server is going away or is full for now.
        errorcode.ER_CON_COUNT_ERROR,  # 1040, too many connections
        errorcode.ER_SERVER_SHUTDOWN,  # 1053
        1927,  # ER_CONNECTION_KILLED (MariaDB only): killed by the server, e.g. at shutdown
        errorcode.ER_CLIENT_INTERACTION_TIMEOUT,  # 4031, closed after the server's idle timeout
        # The statement lost a lock race and was rolled back: running it again may succeed.
        errorcode.ER_LOCK_WAIT_TIMEOUT,  # 1205
        errorcode.ER_LOCK_DEADLOCK,  # 1213
    }
)
"""Error numbers that say "try again": the connection failed or went, or a lock race was lost."""

FIRST_WAIT = 0.1
LONGEST_WAIT = 5.0
"""Between tries: 0.1 s, then doubling, plus up to 0.2 s of jitter so that the threads and
services that lost the database together do not come back at the same instant; at most
5 s, so a service notices a restarted database within 5 s."""


class DatabaseUnavailable(RuntimeError):
    """The database stayed unreachable for longer than the caller is willing to wait."""


class Transient(Exception):
    """Raised by an attempt that failed in a way worth retrying; `error` is what it was."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def worth_retrying(error: BaseException, still_connected: Callable[[], bool]) -> bool:
    """The retry decision (see the module docstring). `still_connected` is asked only
    when the error number does not decide it (it pings the server)."""
    if not isinstance(error, mysql.connector.Error) or error.errno in ACCESS_DENIED:
        return False
    if error.errno in TRY_AGAIN:
        return True
    return not still_connected()


def backoff() -> wait_base:
    """The waits between tries: the project's one backoff (evcharging.retry)."""
    return backoff_wait(FIRST_WAIT, LONGEST_WAIT, jitter=0.2)


def until_it_works(
    attempt: Callable[[], T], give_up_after: float | None, closing: threading.Event | None = None
) -> T:
    """Call `attempt` until it returns, again each time it raises Transient.

    Gives up with DatabaseUnavailable once the next wait would end more than
    `give_up_after` seconds after the first try (None: never), or once `closing` is
    set (it also cuts the current wait short). Any other exception is raised at once.
    """
    stopping = closing or threading.Event()
    deadline: stop_base = stop_never if give_up_after is None else stop_before_delay(give_up_after)
    retrying = Retrying(
        retry=retry_if_exception_type(Transient),
        wait=backoff(),
        stop=deadline | stop_when_event_set(stopping),
        sleep=pause_until(stopping),
        before_sleep=_say_retry,
        retry_error_callback=_give_up,
    )
    return retrying(attempt)


def _say_retry(state: RetryCallState) -> None:
    pause = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "database unavailable (%s); try %d in %.1f s", _last_error(state), state.attempt_number + 1, pause
    )


def _give_up(state: RetryCallState) -> NoReturn:
    error = _last_error(state)
    raise DatabaseUnavailable(f"the database is not answering: {error}") from error


def _last_error(state: RetryCallState) -> BaseException | None:
    failure = state.outcome.exception() if state.outcome else None
    return failure.error if isinstance(failure, Transient) else failure
