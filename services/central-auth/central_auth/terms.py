"""How often a CP heart-beats: every second, and less often when many are connected.

Each heartbeat costs central-auth (and the monitor) a request. At 1 Hz, 5,000
CPs make 5,000 requests a second, which on the 2-core benchmark machine was
enough to delay heartbeats past their timeout and start a reconnection storm
(docs/performance.md). A heartbeat only has to show that a silent monitor is
gone; a fault is reported the moment the engine's health changes, not at the
next beat. So central-auth plans for a budget of heartbeats per second across
all CPs and, past it, stretches every CP's interval — and its timeout in
proportion — so the sum stays within the budget. The new terms reach each
monitor in its next HeartbeatAck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Terms:
    interval: float
    """Seconds between heartbeats."""
    timeout: float
    """Seconds of silence after which the CP counts as disconnected."""


def terms_for(live_cps: int, base: Terms, budget: float) -> Terms:
    """The terms that keep `live_cps` heart-beating within `budget` per second, never
    more often than `base`. Half-second steps, so terms change rarely."""
    interval = max(base.interval, math.ceil(2 * live_cps / budget) / 2)
    return Terms(interval, round(interval * base.timeout / base.interval, 3))
