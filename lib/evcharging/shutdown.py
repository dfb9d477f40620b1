"""Stopping on SIGTERM and SIGINT, for the services that run as a container's PID 1.

Why every service needs this: the kernel delivers no signal to PID 1 for which the
process has no handler, and Python installs none for SIGTERM. Without one,
`docker compose stop` waits its whole grace period (10 s) and then SIGKILLs the
service, so nothing in its `finally` blocks runs — an engine's last reports stay in
its producer. With these helpers a stop request ends the service's work the same way
an error would: the `finally` blocks run (end the supply, flush, close the
connections), then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
"""`docker compose stop` sends SIGTERM; Ctrl-C in a terminal sends SIGINT."""

T = TypeVar("T")


async def run_until_stopped(work: Coroutine[Any, Any, T]) -> T | None:
    """Run `work` until it returns or SIGTERM/SIGINT arrives; returns its result, or
    None when a signal stopped it.

    On a signal, `work` is cancelled: its `finally` blocks (and `except
    CancelledError`) run inside it, and this returns once they are done. A second
    signal while they run cancels again, for a person who does not want to wait.
    Only from the main thread (the loop's signal handlers live there).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        if not received:
            log.info("%s received: stopping", signum.name)
        received.append(signum)
        task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if received and not _cancelled_from_outside():
            return None
        raise
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _cancelled_from_outside() -> bool:
    """Whether the task running this was itself cancelled (not just `work`)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


def stop_requested() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a service whose main thread is not
    an asyncio loop: wait on it (`event.wait(timeout)`) instead of `time.sleep`.
    Only from the main thread (Python runs signal handlers there)."""
    event = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if not event.is_set():
            log.info("%s received: stopping", signal.Signals(signum).name)
        event.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    return event
