"""A figure that stops changing is noticed; one that moves, or goes away, is not."""

from __future__ import annotations

from central_stream.watchdog import Progress, RecoveryWatch


def test_the_time_a_figure_has_stayed_the_same() -> None:
    progress = Progress()
    assert progress.unchanged_for(40, now=0.0) == 0.0
    assert progress.unchanged_for(40, now=5.0) == 5.0
    assert progress.unchanged_for(12, now=6.0) == 0.0, "progress starts the count again"
    assert progress.unchanged_for(12, now=26.0) == 20.0


def test_nothing_to_watch_forgets_what_was_seen() -> None:
    progress = Progress()
    progress.unchanged_for(0, now=0.0)
    assert progress.unchanged_for(None, now=50.0) == 0.0
    assert progress.unchanged_for(0, now=60.0) == 0.0, "a new recovery is timed from its start"


def test_a_recovery_standing_still_is_read_again_now_and_then_then_given_up() -> None:
    watch = RecoveryWatch(read_again_after=5.0, limit=15.0)
    assert watch.verdict(30, now=0.0) == "going"
    assert watch.verdict(30, now=4.9) == "going"
    assert watch.verdict(30, now=5.0) == "read again"
    assert watch.verdict(30, now=6.0) == "going", "not again before another 5 s"
    assert watch.verdict(30, now=10.0) == "read again"
    assert watch.verdict(30, now=15.0) == "stuck"


def test_a_recovery_that_moves_after_a_read_is_timed_afresh() -> None:
    watch = RecoveryWatch(read_again_after=5.0, limit=15.0)
    watch.verdict(30, now=0.0)
    assert watch.verdict(30, now=5.0) == "read again"
    assert watch.verdict(12, now=6.0) == "going"
    assert watch.verdict(12, now=11.0) == "read again", "its own 5 s, not the 5 s since the last read"
    assert watch.verdict(None, now=12.0) == "going", "no recovery, nothing to do"
