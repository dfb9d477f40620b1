"""The board shared by a worker's threads: one feed thread writes, request threads read.

Every change bumps a version number and wakes the server-sent-event streams
waiting for it; the JSON snapshot of a version is built once and shared by
every viewer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from central_web.board import Board


@dataclass(frozen=True)
class Snapshot:
    version: int
    data: dict[str, Any]
    text: str
    """`data` as JSON, for the event stream."""


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
            self._snapshot = None
            self._changed.notify_all()
            return True

    def set_feed(self, connected: bool, caught_up: bool) -> None:
        with self._changed:
            if (connected, caught_up) == (self.feed_connected, self.feed_caught_up):
                return
            self.feed_connected, self.feed_caught_up = connected, caught_up
            self._version += 1
            self._snapshot = None
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
        """The snapshot once it is newer than `version`, or None after `timeout` seconds
        (at once when the board is closed)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.closed or self._version > version, timeout):
                return None
            if self.closed:
                return None
            return self._current()

    def _current(self) -> Snapshot:
        if self._snapshot is None or self._snapshot.version != self._version:
            now = datetime.now(UTC)
            data = {
                "version": self._version,
                "generated_at": now.isoformat(),
                "feed": {"connected": self.feed_connected, "caught_up": self.feed_caught_up},
                **self._board.snapshot(now),
            }
            self._snapshot = Snapshot(self._version, data, json.dumps(data, separators=(",", ":")))
        return self._snapshot
