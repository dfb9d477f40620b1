"""The one reconnection backoff: exponential, jittered, capped."""

from __future__ import annotations

import threading
import time

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from evcharging.retry import backoff_wait, pause_until


class Down(Exception):
    pass


def _pauses(attempts: int, initial: float, maximum: float, jitter: float) -> list[float]:
    """The pauses tenacity makes between `attempts` failing attempts (sleeping none of them)."""
    pauses: list[float] = []

    def fail() -> None:
        raise Down

    retrying = Retrying(
        wait=backoff_wait(initial=initial, maximum=maximum, jitter=jitter),
        retry=retry_if_exception_type(Down),
        stop=stop_after_attempt(attempts),
        sleep=pauses.append,
        reraise=True,
    )
    with pytest.raises(Down):
        retrying(fail)
    return pauses


def test_pauses_double_from_initial_up_to_the_maximum() -> None:
    assert _pauses(7, initial=0.5, maximum=10.0, jitter=0.0) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]


def test_the_jitter_adds_at_most_its_amount_and_never_passes_the_maximum() -> None:
    for _ in range(50):
        pauses = _pauses(8, initial=0.5, maximum=10.0, jitter=0.5)
        for failure, pause in enumerate(pauses):
            base = min(0.5 * 2**failure, 10.0)
            assert base <= pause <= min(base + 0.5, 10.0)


@pytest.mark.parametrize(("initial", "maximum", "jitter"), [(0, 1, 0), (2, 1, 0), (1, 2, -1)])
def test_a_backoff_that_makes_no_sense_is_refused(initial: float, maximum: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        backoff_wait(initial=initial, maximum=maximum, jitter=jitter)


def test_a_pause_ends_early_once_the_stop_is_set() -> None:
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    pause_until(stop)(30.0)
    assert time.monotonic() - started < 5.0


def test_a_pause_lasts_its_time_while_nothing_stops_it() -> None:
    started = time.monotonic()
    pause_until(threading.Event())(0.05)
    assert time.monotonic() - started >= 0.05
