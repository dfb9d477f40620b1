"""After an assignment, a driver's request waits for the CP events that came before it,
and those events are read again if Faust stops delivering them.

Requests come through an agent of their own, so that one never queues behind the other
CP events (ends, faults, connections, operator commands; agents.py). Live, that cannot
reorder what matters: a driver asks again only once it has its ticket, and the ticket
is sent while the end holds the CP's turn (turns.py), so the request waits for the end.
But when a worker starts after a crash, or takes over partitions, both agents resume
from the group's committed offsets, each at its own pace. A request made after an
unplug could then be judged before the unplug is replayed, find the CP still
supplying, and be denied as busy — a wrong answer the driver would act on.

So at each assignment the worker notes, per partition, how far each CP topic went
(backlog.py), and a request of that partition waits until the other agent has
processed the other topics up to there. Once caught up, nothing waits.

Knowing that backlog also shows a Faust race: when a worker starts with CP events
waiting, Faust's fetcher starts before its recovery seeks the stream partitions to
their committed offsets, and now and then the events fetched in between never reach
the agent (docs/central-stream.md). The agents then sit idle with events left to
process; `stuck` names them, and the worker reads them again from the first not
delivered, instead of waiting for the watchdog to end the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """A CP topic's partition, and the first offset of it not delivered to an agent yet."""

    topic: str
    partition: int
    offset: int


class CatchUp:
    """Per partition, what the CP events must reach before a request is judged."""

    def __init__(self, requests: str) -> None:
        self._requests = requests
        """The topic of the requests, which wait for every other."""
        self._behind: dict[int, dict[str, int] | None] = {}
        """partition -> topic -> last offset to process first; None while not known yet."""
        self._next: dict[tuple[str, int], int] = {}
        """(topic, partition) -> the first offset not delivered to an agent, as far as known."""
        self._progress_at = 0.0
        self._changed = asyncio.Event()

    def assigned(self, partitions: Iterable[int]) -> None:
        """New partitions: their requests wait until `expect` says for what."""
        for partition in partitions:
            self._behind[partition] = None

    def expect(self, partition: int, unread: dict[str, tuple[int, int]], now: float) -> None:
        """For each topic, the first offset not committed and the end offset of the partition."""
        if partition not in self._behind:
            return  # revoked since
        for topic, (start, _) in unread.items():
            self._next.setdefault((topic, partition), start)
        self._behind[partition] = {
            topic: end - 1 for topic, (_, end) in unread.items() if self._next[(topic, partition)] < end
        }
        self._progress_at = now
        self._settle(partition)

    def delivered(self, topic: str, partition: int, offset: int, now: float) -> None:
        """An agent has this event (a request, before it waits)."""
        self._next[(topic, partition)] = offset + 1
        self._progress_at = now

    def processed(self, topic: str, partition: int, offset: int, now: float) -> None:
        """An agent is done with this event."""
        self.delivered(topic, partition, offset, now)
        behind = self._behind.get(partition)
        if behind and behind.get(topic, offset + 1) <= offset:
            del behind[topic]
            self._settle(partition)

    def release(self, partitions: Iterable[int]) -> None:
        """Nothing to wait for on these any more: revoked, or their backlog is not known."""
        gone = set(partitions)
        for partition in gone:
            self._behind.pop(partition, None)
        self._next = {tp: offset for tp, offset in self._next.items() if tp[1] not in gone}
        self._notify()

    def waits(self, partition: int) -> bool:
        """Whether a request of this partition must wait: for its backlog to be known,
        or for events of other topics in it."""
        if partition not in self._behind:
            return False
        behind = self._behind[partition]
        return behind is None or any(topic != self._requests for topic in behind)

    async def until_caught_up(self, partition: int) -> None:
        """Return once the partition's earlier CP events are processed."""
        while self.waits(partition):
            changed = self._changed
            await changed.wait()

    def stuck(self, now: float, after: float) -> list[Position]:
        """Where events are left to process though none was for `after` seconds; the
        clock starts again, so that the same events are not asked for every round."""
        if now - self._progress_at < after:
            return []
        self._progress_at = now
        return [
            Position(topic, partition, self._next[(topic, partition)])
            for partition, behind in self._behind.items()
            for topic, last in (behind or {}).items()
            if self._next[(topic, partition)] <= last
        ]

    def _settle(self, partition: int) -> None:
        if self._behind.get(partition) == {}:
            del self._behind[partition]
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
