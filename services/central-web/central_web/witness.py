"""Whether central-auth vouches for the states on the page: pure, the clock passed in.

`estado_cp` is compacted, so it always has a last word about every CP, even when
nobody is left to say it: with central-auth down, CPs stayed `activado` on the
page although no monitor could connect (issue 13). central-auth publishes a
CentralAuthBeacon every second; the page trusts a state only while it hears
them, and only a state published since the beacons' run started (a run
announces every CP disconnected at start-up, so an older `activado` is from a
previous run that nobody vouches for any more). `desconectado` claims nothing
and needs no witness while central-auth is alive.

Silence is only declared on evidence: the last beacon is too old, or none came
within the timeout of listening. A worker that has just started and not yet read
the topic vouches for nothing, but raises no alarm either.

Times compared here come from different services' clocks (the beacon's `sent_at`
and `started_at`, the status's `sent_at`, this process's `now`): fine on one
host, as in the compose stack; across hosts the clocks must agree to well under
the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evcharging.messages import CentralAuthBeacon, CpState, utc_now

DEFAULT_TIMEOUT = timedelta(seconds=5)
"""Five missed beacons: longer than central-auth's 3 s heartbeat timeout for a CP,
so a hiccup of the broker does not flash the banner, short enough that a dead
central-auth is noticed before anyone tries to charge."""


@dataclass
class Witness:
    timeout: timedelta = DEFAULT_TIMEOUT
    listening_since: datetime = field(default_factory=utc_now)
    """When this process started listening: "not heard from since" when it never has."""
    last: CentralAuthBeacon | None = None
    heard_at: datetime | None = None
    """The newest beacon's `sent_at`, never later than when it was read."""
    _reported: tuple[bool, bool] = (False, False)
    """(alive, silent) as of the last check."""

    def hear(self, beacon: CentralAuthBeacon, now: datetime) -> bool:
        """Take a beacon; True when the page must change (silence ended, another run)."""
        at = min(beacon.sent_at, now)
        if self.heard_at is not None and at <= self.heard_at:
            return False  # an older one, delivered late after a broker outage
        previous, self.last, self.heard_at = self.last, beacon, at
        flipped = self.recheck(now)
        return flipped or previous is None or previous.incarnation != beacon.incarnation

    def alive(self, now: datetime) -> bool:
        return self.heard_at is not None and now - self.heard_at <= self.timeout

    def silent(self, now: datetime) -> bool:
        """Known not to be heard: the banner's condition (not alive may also mean "not yet")."""
        if self.alive(now):
            return False
        return self.heard_at is not None or now - self.listening_since > self.timeout

    def recheck(self, now: datetime) -> bool:
        """True when central-auth went silent, or was heard again, since the last check."""
        current = (self.alive(now), self.silent(now))
        changed = current != self._reported
        self._reported = current
        return changed

    def vouches_for(self, state: CpState, published_at: datetime | None, now: datetime) -> bool:
        """Whether a CP's state, published at `published_at` (None: not published, read
        from the database), is vouched for by a live central-auth."""
        if not self.alive(now) or self.last is None:
            return False
        if state is CpState.DISCONNECTED:
            return True
        return published_at is not None and published_at >= self.last.started_at

    def as_json(self, now: datetime) -> dict[str, Any]:
        last = self.last
        silent_since = (self.heard_at or self.listening_since) if self.silent(now) else None
        return {
            "alive": self.alive(now),
            "last_heard": _iso(self.heard_at),
            "silent_since": _iso(silent_since),
            "timeout": self.timeout.total_seconds(),
            "incarnation": last.incarnation if last else None,
            "started_at": _iso(last.started_at) if last else None,
            "connected_cps": last.connected_cps if last else None,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
