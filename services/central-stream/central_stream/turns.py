"""Whose turn it is: one CP's events at a time, and now and then everybody's at once.

The rules must see a CP's events one at a time, but two CPs have nothing in
common: a request waiting for MariaDB and the broker must not hold up the
telemetry of the other CPs. So each CP has its own lock. A few jobs concern
every CP of the worker at once — handing partitions over, publishing the state
of newly owned CPs — and take `everyone()`: new turns wait, and it begins once
the turns under way have ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Turns:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._under_way = 0
        self._none_under_way = asyncio.Event()
        self._none_under_way.set()
        self._open = asyncio.Event()
        self._open.set()
        self._everyone = asyncio.Lock()

    def of(self, cp_id: str) -> Turn:
        """The CP's turn (`async with`): no other event of this CP is applied meanwhile."""
        lock = self._locks.get(cp_id)
        if lock is None:
            lock = self._locks[cp_id] = asyncio.Lock()
        return Turn(self, lock)

    async def _begin(self, lock: asyncio.Lock) -> None:
        while not self._open.is_set():
            await self._open.wait()
        self._under_way += 1
        self._none_under_way.clear()
        try:
            await lock.acquire()
        except BaseException:
            self._end(None)
            raise

    def _end(self, lock: asyncio.Lock | None) -> None:
        if lock is not None:
            lock.release()
        self._under_way -= 1
        if not self._under_way:
            self._none_under_way.set()

    @asynccontextmanager
    async def everyone(self) -> AsyncIterator[None]:
        """Every CP's turn at once. Not to be taken inside a CP's turn (it would wait for itself)."""
        async with self._everyone:
            self._open.clear()
            try:
                await self._none_under_way.wait()
                yield
            finally:
                self._open.set()


class Turn:
    """One CP's turn; a class rather than a generator, as it is taken once per report."""

    __slots__ = ("_lock", "_turns")

    def __init__(self, turns: Turns, lock: asyncio.Lock) -> None:
        self._turns = turns
        self._lock = lock

    async def __aenter__(self) -> None:
        await self._turns._begin(self._lock)

    async def __aexit__(self, *_: object) -> None:
        self._turns._end(self._lock)
