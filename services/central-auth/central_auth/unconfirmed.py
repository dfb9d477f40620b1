"""Credentials issued by Register that their CP has not used yet.

A monitor whose `Registered` answer is lost (the connection broke, the answer
came after its timeout) has registered without knowing its credential. Its
retry is a Register for an id that now has one, which would be refused for
good (`already_registered`) and leave the CP out until an operator steps in.
So this run remembers, for a while, the credentials it issued: until one is
used to authenticate, a Register with the enrolment key may replace it with a
new one. Once used, the credential is the CP's, and nobody can take it over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

REISSUE_WINDOW = 600.0
"""Seconds after issuing during which an unused credential may be reissued."""


class UnconfirmedCredentials:
    def __init__(self, window: float = REISSUE_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._issued: dict[str, tuple[str, float]] = {}

    def issued(self, cp_id: str, credential_hash: str) -> None:
        """Register gave `cp_id` the credential stored as `credential_hash`."""
        now = self._clock()
        self._issued.pop(cp_id, None)  # re-inserted last: the dict stays in issuing order
        self._issued[cp_id] = (credential_hash, now)
        while True:  # forget the expired ones, oldest first; the one just issued is never
            oldest, (_, at) = next(iter(self._issued.items()))
            if now - at < self._window:
                return
            del self._issued[oldest]

    def reissuable(self, cp_id: str) -> str | None:
        """The stored hash of `cp_id`'s unused credential, if it may still be replaced."""
        entry = self._issued.get(cp_id)
        if entry is None or self._clock() - entry[1] >= self._window:
            return None
        return entry[0]

    def confirmed(self, cp_id: str) -> None:
        """The CP authenticated: its credential is in use and stays."""
        self._issued.pop(cp_id, None)

    def __len__(self) -> int:
        return len(self._issued)
