"""Who is registered — drivers and CPs — as an in-memory copy of MariaDB that
follows it. The whole registry is reloaded every REGISTRY_REFRESH seconds (so
removals and price changes arrive too), on a database connection of its own; an
id the copy does not know is looked up on its own at once (one primary-key
query), so a driver registered a moment ago is recognised. A known driver or CP
never costs a query: that is the hot path. An id found missing is not asked
about again for a moment, so a flood of requests naming nobody costs one query
per id per `miss_ttl`, not per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from central_stream.rules import CpInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    cps: Mapping[str, CpInfo] = field(default_factory=dict)
    drivers: frozenset[str] = frozenset()


class Source(Protocol):
    """Where the registry comes from (store.Store)."""

    async def load_registry(self) -> Snapshot: ...

    async def find_registered(self, cp_ids: Collection[str], driver_ids: Collection[str]) -> Snapshot:
        """Those of these ids that are registered."""
        ...


class CachedRegistry:
    """The rules' Registry, kept from a Source."""

    def __init__(
        self, source: Source, *, miss_ttl: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._miss_ttl = miss_ttl
        self._clock = clock
        self._cps: dict[str, CpInfo] = {}
        self._drivers: set[str] = set()
        self._missing: dict[str, float] = {}
        self._loaded_at: float | None = None
        self._new_cps: set[str] = set()

    def cp(self, cp_id: str) -> CpInfo | None:
        return self._cps.get(cp_id)

    def has_driver(self, driver_id: str) -> bool:
        return driver_id in self._drivers

    @property
    def cps(self) -> Mapping[str, CpInfo]:
        return self._cps

    @property
    def age(self) -> float:
        """Seconds since the last full load (infinite before the first)."""
        return float("inf") if self._loaded_at is None else self._clock() - self._loaded_at

    def take_new_cps(self) -> set[str]:
        """The CPs this copy learned of since the last call (to publish their state)."""
        new, self._new_cps = self._new_cps, set()
        return new

    async def reload(self) -> None:
        """Load the whole registry again."""
        snapshot = await self._source.load_registry()
        added = set(snapshot.cps) - set(self._cps)
        self._new_cps |= added
        if self._loaded_at is None or added:
            log.info("registry: %d CPs, %d drivers", len(snapshot.cps), len(snapshot.drivers))
        self._cps = dict(snapshot.cps)
        self._drivers = set(snapshot.drivers)
        self._loaded_at = self._clock()

    async def look_up(self, cp_ids: Collection[str] = (), driver_ids: Collection[str] = ()) -> None:
        """Ask the database about the ids this copy does not know."""
        now = self._clock()
        cps = [c for c in cp_ids if c not in self._cps and not self._recently_missing(c, now)]
        drivers = [d for d in driver_ids if d not in self._drivers and not self._recently_missing(d, now)]
        if not cps and not drivers:
            return
        found = await self._source.find_registered(cps, drivers)
        self._cps.update(found.cps)
        self._new_cps |= set(found.cps)
        self._drivers.update(found.drivers)
        for missing in {*cps, *drivers} - set(found.cps) - found.drivers:
            self._missing[missing] = now
        if len(self._missing) > 10_000:
            self._missing = {k: at for k, at in self._missing.items() if now - at < self._miss_ttl}

    def _recently_missing(self, some_id: str, now: float) -> bool:
        at = self._missing.get(some_id)
        return at is not None and now - at < self._miss_ttl
