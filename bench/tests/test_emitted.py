"""What the generator keeps of the reports sent: each relayed once, none kept that never will be."""

from __future__ import annotations

from bench.fleet import Emitted


def test_a_report_is_timed_once_and_the_older_ones_are_dropped_when_a_newer_is_relayed() -> None:
    emitted = Emitted()
    for seq in range(1, 6):
        emitted.sent("S1", seq, float(seq))
    emitted.sent("S2", 1, 10.0)
    assert emitted.relayed("S1", 3) == 3.0
    assert emitted.relayed("S1", 3) is None  # a copy relayed again is not a second sample
    assert emitted.relayed("S1", 2) is None  # conflated away: never to be relayed
    assert len(emitted) == 3  # S1's 4 and 5, S2's 1


def test_a_billed_session_is_forgotten() -> None:
    emitted = Emitted()
    emitted.sent("S1", 1, 1.0)
    emitted.forget("S1")
    assert len(emitted) == 0
    assert emitted.relayed("S1", 1) is None
