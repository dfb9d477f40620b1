"""A thread that lets time change the board: central-auth falling silent is the
absence of a message, so no message can announce it.

It is apart from the feed on purpose: the feed may spend many seconds
reconnecting to Kafka, and that is exactly when central-auth's beacons stop
arriving and the page must say so. It also logs each change, so an operator
reading the log sees when the page stopped vouching for the states.
"""

from __future__ import annotations

import logging
import threading

from central_web.live import LiveBoard

log = logging.getLogger(__name__)


class Ticker(threading.Thread):
    def __init__(self, live: LiveBoard, period: float = 0.5) -> None:
        super().__init__(name="central-web-ticker", daemon=True)
        self.live = live
        self.period = period
        self._halt = threading.Event()
        self._said: tuple[bool, bool] = (False, False)
        """(alive, silent) as last logged: starting, neither is known yet."""

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.live.recheck()
            self._log_change()

    def _log_change(self) -> None:
        central = self.live.central_auth()
        now = (central["alive"], central["silent_since"] is not None)
        if now == self._said:
            return
        was_silent, self._said = self._said[1], now
        if now[1]:
            log.warning(
                "central-auth not heard from since %s: states shown as last known", central["silent_since"]
            )
        elif now[0] and was_silent:
            log.warning("central-auth heard again (run %s): states are vouched for", central["incarnation"])
