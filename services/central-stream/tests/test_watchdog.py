"""A figure that stops changing is noticed; one that moves, or goes away, is not."""

from __future__ import annotations

from central_stream.watchdog import Progress


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
