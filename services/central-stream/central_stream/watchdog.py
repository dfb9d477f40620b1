"""Notices a worker that owns partitions with unread events but processes none,
or whose table recovery makes no progress.

Faust now and then ends a rebalance with its partitions assigned, its recovery
"complete", and its fetcher silent; and now and then, after partitions went
from one worker to another and back, its recovery never reads the changelog
records it waits for (faust#542 describes the same hang). The worker is built
to survive a SIGKILL (every sink is idempotent, every record is on a changelog,
offsets are committed only after the work is done), so the cure is the same as for a crash: end the
process and let its supervisor — Docker's restart policy — start a fresh one,
which resumes from the committed offsets.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from central_stream.backlog import GroupBacklog

log = logging.getLogger(__name__)

EXIT_STALLED = 70


class Progress:
    """How long a figure has stayed the same; None while there is nothing to watch."""

    def __init__(self) -> None:
        self._seen: tuple[int, float] | None = None

    def unchanged_for(self, value: int | None, now: float) -> float:
        if value is None or self._seen is None or self._seen[0] != value:
            self._seen = None if value is None else (value, now)
            return 0.0
        return now - self._seen[1]


class RecoveryWatch:
    """What to do about a table recovery, from how long its remaining count has stayed
    the same: read it again every `read_again_after` seconds, give up at `limit`."""

    def __init__(self, read_again_after: float, limit: float) -> None:
        self._progress = Progress()
        self._read_again_after = read_again_after
        self._limit = limit
        self._read_again_at: float | None = None

    def verdict(self, remaining: int | None, now: float) -> Literal["going", "read again", "stuck"]:
        """`remaining`: the changelog records still to recover, None when not recovering."""
        stuck_for = self._progress.unchanged_for(remaining, now)
        if stuck_for == 0.0:
            self._read_again_at = None
        if stuck_for >= self._limit:
            return "stuck"
        if stuck_for >= self._read_again_after and (
            self._read_again_at is None or now - self._read_again_at >= self._read_again_after
        ):
            self._read_again_at = now
            return "read again"
        return "going"


class Watchdog:
    def __init__(self, backlog: GroupBacklog, limit: float) -> None:
        self.limit = limit
        self._backlog = backlog

    def unread(self, partitions: set[int]) -> int:
        """Events on the owned partitions past the group's committed offsets."""
        return sum(high - start for start, high in self._backlog.unread(partitions).values())

    def stalled(self, partitions: set[int], idle_for: float) -> bool:
        """Idle past the limit while events wait: the worker is stuck."""
        if idle_for < self.limit or not partitions:
            return False
        waiting = self.unread(partitions)
        if waiting:
            log.critical(
                "no event processed for %.0f s while %d wait on partitions %s",
                idle_for,
                waiting,
                sorted(partitions),
            )
        return waiting > 0

    @staticmethod
    def end_process() -> None:
        """Exit now, as a crash would; the supervisor restarts the worker."""
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_STALLED)
