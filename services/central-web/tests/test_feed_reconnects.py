"""The page's feed outlives a broker that fails under it: it follows the topics again,
with the project's backoff (evcharging.retry), saying on the page that it is not live
meanwhile, until it is stopped."""

from __future__ import annotations

import pytest

from central_web.feed import Feed
from central_web.live import LiveBoard


def test_the_feed_follows_again_after_a_failure_until_it_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveBoard()
    feed = Feed(live, "localhost:1", None)
    states: list[tuple[bool, bool]] = []
    attempts: list[int] = []

    def follow() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("broker gone")
        feed.stop()  # the third attempt follows until the page stops

    monkeypatch.setattr(feed, "_follow", follow)
    monkeypatch.setattr(live, "set_feed", lambda connected, caught_up: states.append((connected, caught_up)))
    feed.run()
    assert len(attempts) == 3
    assert states == [(False, False), (False, False)]


def test_a_stopped_feed_does_not_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = Feed(LiveBoard(), "localhost:1", None)
    attempts: list[int] = []

    def follow() -> None:
        attempts.append(1)
        feed.stop()
        raise RuntimeError("broker gone while stopping")

    monkeypatch.setattr(feed, "_follow", follow)
    feed.run()
    assert attempts == [1]
