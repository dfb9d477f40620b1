"""The newest telemetry of each CP that is still to be applied.

Telemetry is cumulative (energy so far), so when central-stream falls behind
only the newest report of each CP matters: a driver and the page want the
figures of now, not a replay of the last minutes, and a backlog of them must
not hold up a driver's request or a fault. The worker takes the intake's
reports (intake.py) in as fast as they come and keeps the newest per CP here;
a task applies them, the CP that has waited longest first.

Nothing is lost by it: a report replaced by a newer one of the same session is
done at once (the newer one carries its energy), and the newest is done only
once applied. The intake commits a partition's offsets only up to its first
report not done (intake.Positions), so after a crash the newest is read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """One waiting item per CP, in the order the CPs began to wait."""

    def __init__(self, supersedes: Callable[[T, T], bool]) -> None:
        """`supersedes(new, old)`: whether `new` makes `old` pointless."""
        self._supersedes = supersedes
        self._waiting: dict[str, T] = {}
        self._arrived = asyncio.Event()

    def put(self, cp_id: str, item: T) -> T | None:
        """Keep `item` for `cp_id`; returns the item that lost its place (now done), if any."""
        old = self._waiting.get(cp_id)
        if old is not None and not self._supersedes(item, old):
            return item  # older than what waits already (a repeat, or out of order)
        self._waiting[cp_id] = item  # a CP that waits already keeps its place in the line
        self._arrived.set()
        return old

    def take(self, cp_id: str) -> T | None:
        """Remove and return what waits for `cp_id`: it must be applied now, out of turn."""
        return self._waiting.pop(cp_id, None)

    async def oldest(self) -> str:
        """The CP that has waited longest, once there is one. Its item stays until
        taken: whoever takes it must hold the CP's turn first (turns.py)."""
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        return next(iter(self._waiting))

    def drop(self, unwanted: Callable[[T], bool]) -> int:
        """Forget the items `unwanted` says (their partitions went to another worker)."""
        gone = [cp_id for cp_id, item in self._waiting.items() if unwanted(item)]
        for cp_id in gone:
            del self._waiting[cp_id]
        return len(gone)

    def __len__(self) -> int:
        return len(self._waiting)
