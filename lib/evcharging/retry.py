"""The one pause between attempts to reach something again (central-auth, an engine, the
database): exponential, jittered, capped, as a tenacity wait.

    async for attempt in AsyncRetrying(wait=backoff_wait(initial=0.5, maximum=15.0, jitter=0.5), ...):
        with attempt:
            ...

The pause after the n-th failed attempt (n = 1, 2, ...) is initial·2ⁿ⁻¹ plus a random
part of up to `jitter` seconds, and never more than `maximum`. The random part spreads
the attempts of many clients that lost the same server at once (thousands of CPs after
a central-auth restart).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tenacity.wait import wait_base, wait_exponential_jitter


def backoff_wait(initial: float, maximum: float, jitter: float) -> wait_base:
    """The tenacity wait: initial·2ⁿ⁻¹ + uniform(0, jitter) seconds after failure n, at most `maximum`."""
    if not 0 < initial <= maximum or jitter < 0:
        raise ValueError(
            f"a backoff needs 0 < initial <= maximum and jitter >= 0: {initial}, {maximum}, {jitter}"
        )
    return wait_exponential_jitter(multiplier=initial, max=maximum, jitter=jitter)


def pause_until(stop: threading.Event) -> Callable[[float], None]:
    """A tenacity `sleep` for a thread: the pause ends early once `stop` is set (the
    service is stopping), so a retrying thread never holds up a shutdown."""

    def pause(seconds: float) -> None:
        stop.wait(seconds)

    return pause
