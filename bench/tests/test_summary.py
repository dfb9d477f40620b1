"""The summary JSON: its fixed keys, what makes a level "not measured", and where it goes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import report, summary
from bench.tests.test_report import latency, level, results


def probed_level(cps: int, generator_lag: float = 5.0, probe_lag: float = 4.0) -> dict[str, Any]:
    """A level as the probe process reports it: its own loop lag, reports and CPU."""
    found = level(cps, 120.0, 300.0, 1400.0)
    found["generator"]["loop_lag"] = latency(1.0, generator_lag)
    found["probes"] = {"cpu_pct": 5.0, "loop_lag": latency(1.0, probe_lag)}
    found["reports"] = {"sent": 30_000, "relayed": 29_000, "ratio": 29_000 / 30_000}
    found["stream_cpu"] = {
        "cpu_us": 8_700_000,
        "containers": 1,
        "reports_applied": 29_000,
        "us_per_report": 300.0,
    }
    found["web_api"] = latency(20.0, 150.0)
    found["disconnections"] = 2
    found["supplying"] = cps
    found["probe_accounts"] = {**found["accounts"], "sessions": 3, "tickets": 3}
    return found


def run_of(*levels: dict[str, Any]) -> dict[str, Any]:
    return {**results(), "levels": list(levels)}


def test_the_summary_has_exactly_the_keys_of_issue_15_and_null_for_levels_not_run() -> None:
    found = summary.summarise(run_of(probed_level(100), probed_level(1000)), "abc1234")
    assert list(found) == ["commit", "stream_cpu_us_per_report", "baseline", "100", "1000", "5000", "10000"]
    assert found["commit"] == "abc1234"
    assert found["stream_cpu_us_per_report"] == 300.0  # the 1,000 CP level's
    assert found["baseline"] == {"rtt_p99_ms": 50.0}
    assert found["5000"] is None
    assert found["10000"] is None
    assert found["1000"] == {
        "auth_p99_ms": 120.0,
        "telemetry_p99_ms": 300.0,
        "fault_p99_ms": 1400.0,
        "relayed_ratio": 0.967,
        "generator_lag_p99_ms": 5.0,
        "tickets_equal_reports": True,
        "measured": True,
        "web_api_p99_ms": 150.0,
        "auth_disconnections": 2,
    }


@pytest.mark.parametrize(
    ("generator", "probes", "expected"), [(49.9, 3.0, True), (50.0, 3.0, False), (3.0, 80.0, False)]
)
def test_a_level_is_not_measured_when_either_loop_lags_50_ms_or_more(
    generator: float, probes: float, expected: bool
) -> None:
    found = probed_level(5000, generator_lag=generator, probe_lag=probes)
    assert summary.measured(found) is expected
    assert summary.level_summary(found)["generator_lag_p99_ms"] == max(generator, probes)


def test_tickets_equal_reports_needs_every_probe_ticket_and_no_mismatch() -> None:
    found = probed_level(100)
    assert summary.tickets_equal_reports(found)
    found["probe_accounts"] = {**found["probe_accounts"], "tickets": 2, "outstanding": 1}
    assert not summary.tickets_equal_reports(found)
    found = probed_level(100)
    found["accounts"] = {**found["accounts"], "mismatched": 1}
    assert not summary.tickets_equal_reports(found)
    found = probed_level(100)
    found["probe_accounts"] = {**found["probe_accounts"], "sessions": 0, "tickets": 0}
    assert not summary.tickets_equal_reports(found), "no probe session proves nothing"


def test_a_p99_beyond_the_wait_or_without_samples_is_null_never_infinity() -> None:
    found = probed_level(5000)
    found["authorisation"] = {**found["authorisation"], "p99_ms": math.inf}
    found["telemetry"] = {**found["telemetry"], "p99_ms": math.nan}
    text = json.dumps(summary.level_summary(found), allow_nan=False)
    assert '"auth_p99_ms": null' in text
    assert '"telemetry_p99_ms": null' in text


def test_only_a_run_of_the_default_levels_publishes(tmp_path: Path) -> None:
    published = tmp_path / "docs" / "summary.json"
    quick = summary.write(run_of(probed_level(100)), tmp_path / "quick", [100], "abc1234", published)
    assert quick == [tmp_path / "quick" / "summary.json"]
    assert not published.exists()
    full = summary.write(
        run_of(probed_level(100)), tmp_path / "full", [10000, 100, 1000, 5000], "abc1234", published
    )
    assert full == [tmp_path / "full" / "summary.json", published]
    assert json.loads(published.read_text())["100"]["measured"] is True
    assert json.loads(published.read_text())["commit"] == "abc1234", "the commit the run started on"


def test_the_report_flags_a_late_level_and_gives_the_cpu_per_report() -> None:
    late = probed_level(1000, generator_lag=120.0)
    text = report.markdown(run_of(probed_level(100), late))
    assert "| 1,000 (not measured) |" in text
    assert (
        "| 1,000 | 120 ms | 4.0 ms | **no** (120 ms) | 1.00 | 30,000 | 29,000 | 0.97 | 300 (8.7 s of CPU"
        in text
    )
    rows = {row["target"]: row for row in report.targets(run_of(probed_level(100), late))}
    assert rows["central-stream CPU per applied report ≤ 30 µs at 1,000 CPs"]["met"] is False
    assert rows["reports relayed ÷ sent ≥ 0.95 at 1,000 CPs"]["met"] is True
    assert rows["every level measured: loop lags p99 < 50 ms"]["measured"] == 120.0
    assert rows["page API p99 < 200 ms at 1,000 CPs"]["met"] is True
