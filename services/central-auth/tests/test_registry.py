"""One live connection per CP."""

from __future__ import annotations

from central_auth.registry import LiveRegistry


def test_a_cp_has_at_most_one_live_connection() -> None:
    registry = LiveRegistry()
    assert registry.take("CP001", "a")
    assert registry.take("CP001", "a")  # the holder asking again
    assert not registry.take("CP001", "b")
    assert registry.holder("CP001") == "a"


def test_only_the_holder_can_release() -> None:
    registry = LiveRegistry()
    registry.take("CP001", "a")
    registry.release("CP001", "b")
    assert registry.live_ids() == {"CP001"}
    registry.release("CP001", "a")
    assert registry.live_ids() == frozenset()
    assert registry.take("CP001", "b")
