"""The board shared by a worker's threads: one feed thread writes, request threads read.

Every change bumps a version number and wakes the server-sent-event streams
waiting for it; the JSON snapshot is built once and shared by every viewer. A big
board's snapshot, which takes a while to build, is built again at most every few
times that while (up to FRESH_FOR seconds), however often the board changes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from central_web.board import Board

FRESH_FOR = 1.0
"""Seconds a big board's snapshot is served after the board changed, at most, before
one is built again. With thousands of CPs reporting every second the board changes
thousands of times a second, and building a snapshot (every tile, as JSON, under
the board's lock) took longer than the time between two changes: every request
built its own, the feed waited for the lock, and the page API's p99 reached
seconds at 10,000 CPs (docs/performance.md). A second is the page's own rhythm:
the CPs report once a second."""
CHEAP = 0.005
"""A snapshot built in less than this many seconds is built again at every change,
so a small board's reads always show the latest change."""
BUILDS_SHARE = 0.2
"""A big board's snapshot is served for (its build time ÷ this): building takes this
share of a core at most."""
_COMPACT = (",", ":")


@dataclass(frozen=True)
class Snapshot:
    version: int
    data: dict[str, Any]
    text: str
    """`data` as JSON, for the event stream."""
    cps_text: str
    """`data["cps"]` as JSON, for /api/cps."""
    built_at: float
    """time.monotonic() when it was built."""
    serve_for: float
    """Seconds after `built_at` during which it is served though the board changed."""

    @classmethod
    def build(cls, version: int, data: dict[str, Any], started: float) -> Snapshot:
        """Serialise the tiles once, for the whole state and for the tiles alone."""
        cps_text = json.dumps(data["cps"], separators=_COMPACT)
        rest = json.dumps({key: value for key, value in data.items() if key != "cps"}, separators=_COMPACT)
        built_at = time.monotonic()
        took = built_at - started
        serve_for = 0.0 if took < CHEAP else min(FRESH_FOR, took / BUILDS_SHARE)
        return cls(version, data, f'{rest[:-1]},"cps":{cps_text}}}', cps_text, built_at, serve_for)

    def fresh_for(self) -> float:
        """Seconds left before it is built again on a change (≤ 0: at the next read)."""
        return self.serve_for - (time.monotonic() - self.built_at)


class LiveBoard:
    def __init__(self, board: Board | None = None) -> None:
        self._board = board or Board()
        self._changed = threading.Condition()
        self._version = 0
        self._snapshot: Snapshot | None = None
        self.feed_connected = False
        self.feed_caught_up = False
        self.closed = False
        """Set when the worker is stopping: every event stream ends (gunicorn.conf.py)."""

    def close(self) -> None:
        """The worker is stopping: wake every event stream so it ends now, rather than
        hold the worker's shutdown; the browser reconnects by itself."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def change(self, edit: Callable[[Board], bool]) -> bool:
        """Apply `edit` under the lock; wake the viewers when it says something changed."""
        with self._changed:
            if not edit(self._board):
                return False
            self._version += 1
            self._changed.notify_all()
            return True

    def set_feed(self, connected: bool, caught_up: bool) -> None:
        with self._changed:
            if (connected, caught_up) == (self.feed_connected, self.feed_caught_up):
                return
            self.feed_connected, self.feed_caught_up = connected, caught_up
            self._version += 1
            self._changed.notify_all()

    def recheck(self) -> bool:
        """Let the clock change the board (central-auth falling silent); see ticker.py."""
        return self.change(lambda board: board.recheck(datetime.now(UTC)))

    def central_auth(self) -> dict[str, Any]:
        """Whether central-auth is heard from, as of now (not as of the last snapshot)."""
        with self._changed:
            return self._board.witness.as_json(datetime.now(UTC))

    def knows(self, cp_id: str) -> bool:
        with self._changed:
            return self._board.knows(cp_id)

    def cp_ids(self) -> list[str]:
        with self._changed:
            return sorted(self._board.tiles)

    def snapshot(self) -> Snapshot:
        with self._changed:
            return self._current()

    def wait_newer(self, version: int, timeout: float) -> Snapshot | None:
        """A snapshot newer than `version`, once there is one, or None after `timeout`
        seconds (at once when the board is closed). A change within FRESH_FOR of the
        last snapshot is sent when that has aged, with whatever else changed meanwhile."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.closed or self._version > version, timeout):
                return None
            snapshot = self._current()
            while not self.closed and snapshot.version <= version:
                self._changed.wait(max(snapshot.fresh_for(), 0.01))
                snapshot = self._current()
            return None if self.closed else snapshot

    def _current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None or (snapshot.version != self._version and snapshot.fresh_for() <= 0):
            started = time.monotonic()
            now = datetime.now(UTC)
            data = {
                "version": self._version,
                "generated_at": now.isoformat(),
                "feed": {"connected": self.feed_connected, "caught_up": self.feed_caught_up},
                **self._board.snapshot(now),
            }
            self._snapshot = snapshot = Snapshot.build(self._version, data, started)
        return snapshot
