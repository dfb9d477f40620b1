"""Summaries of what the load generator measured: latency percentiles and rates.

Pure functions over lists of seconds, so the report and the tests agree on
what "p99" means: the value below which 99 % of the samples fall (nearest rank).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `samples` (0 < fraction <= 1); NaN when empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    """p50, p99 and max of a list of durations, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float], timed_out: int = 0) -> Latency:
        """The latency of `seconds`, and of `timed_out` probes that were never answered.

        A probe that never answered is a sample larger than its wait, not a missing
        one: left out, it would make every percentile look better than the system
        was, and all of them NaN when no probe answered. So each ranks as +inf, and a
        percentile whose rank falls among them is inf: beyond the wait, by how much
        unknown. `samples` stays the number answered.
        """
        ranked = [*seconds, *[math.inf] * timed_out]
        return cls(
            samples=len(seconds),
            p50_ms=percentile(ranked, 0.50) * 1000,
            p99_ms=percentile(ranked, 0.99) * 1000,
            max_ms=max(ranked, default=math.nan) * 1000,
        )


def ratio(measured: float, baseline: float) -> float:
    """How many times the baseline `measured` is; NaN when either is missing."""
    if not (math.isfinite(measured) and math.isfinite(baseline)) or baseline <= 0:
        return math.nan
    return measured / baseline
