"""The load generator's and the probe process's own event loops: how late they
run, and one cause of lateness kept out of the measured windows.

A loop that runs late makes every latency it times look longer, so each
process measures its loop's lag (a 0.1 s sleep, and how much longer it took)
and the report flags a level where it was 50 ms or more (p99).

Python's cyclic garbage collector pauses the whole process while it walks
every tracked object: with thousands of simulated monitors, sessions and
tickets, a full collection is a pause of a good part of a second, in the
middle of a hold, that the system under test never caused. So collection is
off while a window is measured (a hold's garbage is mostly freed by reference
counting; cycles wait until the window ends) and runs again, at its own pace, after.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

TICK = 0.1
"""How often the loop's lag is sampled (s)."""


async def watch_lag(lags: list[float]) -> None:
    """Append, every TICK, how much later than asked the loop woke up (s)."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        lags.append(time.perf_counter() - before - TICK)


@contextmanager
def no_collector_pauses() -> Iterator[None]:
    """The cyclic collector off for the block (and back on after, if it was on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
