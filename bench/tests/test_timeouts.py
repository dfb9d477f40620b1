"""A probe that never answered is a latency beyond the wait, counted, not left out."""

import asyncio
import math
import time
from typing import cast

import pytest

from bench.drivers import Drivers, Measurements
from bench.fleet import Fleet
from bench.probes import TimedOut, keep_charging
from bench.stats import Latency


def test_timed_out_probes_rank_above_every_answer() -> None:
    latency = Latency.of([0.1, 0.2, 0.3], timed_out=1)
    assert latency.samples == 3  # answered ones only
    assert latency.p50_ms == pytest.approx(200.0)  # the 2nd of 4
    assert math.isinf(latency.p99_ms)
    assert math.isinf(latency.max_ms)


def test_no_answer_at_all_is_beyond_the_wait_not_nan() -> None:
    latency = Latency.of([], timed_out=15)
    assert latency.samples == 0
    assert math.isinf(latency.p50_ms)
    assert math.isinf(latency.p99_ms)


def test_without_timeouts_a_latency_is_as_it_was() -> None:
    assert Latency.of([0.3, 0.1], timed_out=0) == Latency.of([0.3, 0.1])


class Unanswered:
    """Drivers whose every request times out at once."""

    def __init__(self, recording: bool) -> None:
        self.measured = Measurements(recording=recording)

    async def request(self, cp_id: str, driver_id: str, timeout: float) -> None:
        await asyncio.sleep(0.001)
        raise TimeoutError


@pytest.mark.parametrize("recording", [True, False])
def test_each_unanswered_request_is_counted_while_recording(recording: bool) -> None:
    missed: list[str] = []
    timed_out = TimedOut()
    drivers = cast(Drivers, Unanswered(recording))
    until = time.monotonic() + 0.05
    asyncio.run(keep_charging(cast(Fleet, None), drivers, "C1", "D1", until, missed, timed_out))
    assert missed  # the texts are kept
    assert timed_out.authorisation == (len(missed) if recording else 0)
    assert timed_out.fault_detection == 0
