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
    def of(cls, seconds: Sequence[float]) -> Latency:
        return cls(
            samples=len(seconds),
            p50_ms=percentile(seconds, 0.50) * 1000,
            p99_ms=percentile(seconds, 0.99) * 1000,
            max_ms=max(seconds, default=math.nan) * 1000,
        )


def ratio(measured: float, baseline: float) -> float:
    """How many times the baseline `measured` is; NaN when either is missing."""
    if not (math.isfinite(measured) and math.isfinite(baseline)) or baseline <= 0:
        return math.nan
    return measured / baseline
