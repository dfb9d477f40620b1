"""Telemetry offsets are committed only up to the first report not yet applied."""

from __future__ import annotations

from central_stream.intake import Positions


def test_nothing_outstanding_commits_past_the_last_report_taken_in() -> None:
    positions = Positions()
    for offset in (10, 11, 12):
        positions.taken(0, offset)
        positions.done(0, offset)
    assert positions.committable() == {0: 13}


def test_a_report_still_waiting_holds_its_partition_back_and_no_other() -> None:
    positions = Positions()
    for offset in (10, 11, 12):
        positions.taken(0, offset)
    positions.taken(1, 5)
    positions.done(0, 10)
    positions.done(0, 12)  # a newer report of another CP, applied first
    positions.done(1, 5)
    assert positions.committable() == {0: 11, 1: 6}
    positions.done(0, 11)
    assert positions.committable() == {0: 13, 1: 6}


def test_only_the_partitions_asked_for_and_never_a_forgotten_one() -> None:
    positions = Positions()
    positions.taken(0, 3)
    positions.taken(4, 9)
    assert positions.committable({4}) == {4: 9}
    positions.forget({4})
    assert positions.committable() == {0: 3}
    positions.taken(4, 20)  # read again by this worker later, from wherever it was committed
    assert positions.committable({4}) == {4: 20}
