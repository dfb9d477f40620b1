import math

import pytest

from bench.stats import Latency, percentile, ratio


def test_percentile_is_the_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.50) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 1.0) == 100.0


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([0.25], 0.99) == 0.25


def test_percentile_ignores_the_order_of_the_samples() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_no_samples_give_nan_not_zero() -> None:
    latency = Latency.of([])
    assert latency.samples == 0
    assert math.isnan(latency.p99_ms)
    assert math.isnan(latency.max_ms)


def test_latency_is_reported_in_milliseconds() -> None:
    latency = Latency.of([0.001, 0.002, 0.010])
    assert latency.p50_ms == pytest.approx(2.0)
    assert latency.p99_ms == pytest.approx(10.0)
    assert latency.max_ms == pytest.approx(10.0)


def test_ratio_against_a_missing_baseline_is_nan() -> None:
    assert ratio(30.0, 10.0) == pytest.approx(3.0)
    assert math.isnan(ratio(30.0, 0.0))
    assert math.isnan(ratio(math.nan, 10.0))
