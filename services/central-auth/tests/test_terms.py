"""Heartbeat terms stretch with the number of CPs so their sum stays within the budget."""

from __future__ import annotations

import pytest

from central_auth.terms import Terms, terms_for

BASE = Terms(interval=1.0, timeout=3.0)


@pytest.mark.parametrize(
    ("live_cps", "interval", "timeout"),
    [(0, 1.0, 3.0), (1000, 1.0, 3.0), (1001, 1.5, 4.5), (2000, 2.0, 6.0), (5000, 5.0, 15.0)],
)
def test_the_interval_grows_past_the_budget_and_the_timeout_keeps_its_ratio(
    live_cps: int, interval: float, timeout: float
) -> None:
    assert terms_for(live_cps, BASE, budget=1000) == Terms(interval, timeout)


@pytest.mark.parametrize("live_cps", [1, 999, 1001, 4321, 20_000])
def test_the_heartbeats_of_all_cps_stay_within_the_budget(live_cps: int) -> None:
    terms = terms_for(live_cps, BASE, budget=1000)
    assert live_cps / terms.interval <= 1000
