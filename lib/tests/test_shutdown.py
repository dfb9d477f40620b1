"""evcharging.shutdown: a stop signal ends a service's work through its `finally` blocks."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from evcharging.shutdown import STOP_SIGNALS, run_until_stopped, stop_requested


@pytest.fixture
def saved_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", STOP_SIGNALS)
def test_a_stop_signal_cancels_the_work_and_lets_its_cleanup_finish(signum: signal.Signals) -> None:
    cleaned: list[str] = []

    async def work() -> str:
        try:
            os.kill(os.getpid(), signum)
            await asyncio.sleep(30)
            return "finished"
        finally:
            await asyncio.sleep(0)  # cleanup may still await
            cleaned.append("flushed")

    assert asyncio.run(asyncio.wait_for(run_until_stopped(work()), 5)) is None
    assert cleaned == ["flushed"]


def test_work_that_ends_by_itself_returns_its_result_and_restores_the_signals() -> None:
    async def work() -> str:
        return "done"

    assert asyncio.run(run_until_stopped(work())) == "done"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) == signal.default_int_handler


def test_an_error_in_the_work_is_not_hidden() -> None:
    async def work() -> None:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError, match="broken"):
        asyncio.run(run_until_stopped(work()))


def test_a_cancellation_from_outside_is_not_taken_for_a_stop() -> None:
    async def main() -> None:
        runner = asyncio.ensure_future(run_until_stopped(asyncio.sleep(30)))
        await asyncio.sleep(0.01)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    asyncio.run(main())


@pytest.mark.usefixtures("saved_handlers")
def test_stop_requested_is_set_by_sigterm() -> None:
    stop = stop_requested()
    assert not stop.is_set()
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.wait(5)
