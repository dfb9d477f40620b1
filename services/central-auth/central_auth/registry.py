"""Which CP ids have a live connection right now, in this process.

The registry is the single authority on "live": taking an id and checking that it
is free happen in one synchronous call on the event loop, with no await between,
so two connections can never both hold one CP. central-auth runs as one instance
(docs/central-auth.md explains why), so an in-memory map is the whole truth.
"""

from __future__ import annotations


class LiveRegistry:
    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    def take(self, cp_id: str, connection_id: str) -> bool:
        """Give `cp_id` to the connection; False if another connection holds it."""
        holder = self._holders.setdefault(cp_id, connection_id)
        return holder == connection_id

    def release(self, cp_id: str, connection_id: str) -> None:
        """Free `cp_id`, if this connection is the one holding it."""
        if self._holders.get(cp_id) == connection_id:
            del self._holders[cp_id]

    def holder(self, cp_id: str) -> str | None:
        return self._holders.get(cp_id)

    def live_ids(self) -> frozenset[str]:
        return frozenset(self._holders)

    def __len__(self) -> int:
        return len(self._holders)
