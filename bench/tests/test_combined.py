"""A level's figures from the bulk generator's window and the probe process's hold."""

from __future__ import annotations

from typing import Any

from bench.scenario import combined


def latency(p99: float) -> dict[str, float]:
    return {"samples": 10, "p50_ms": p99 / 2, "p99_ms": p99, "max_ms": p99}


def bulk() -> dict[str, Any]:
    counts = {
        "at": 10.0,
        "heartbeats": 900,
        "telemetry_sent": 1000,
        "updates_received": 800,
        "disconnections": 1,
    }
    return {
        "heartbeats_per_s": 90.0,
        "telemetry_sent_per_s": 100.0,
        "updates_received_per_s": 80.0,
        "counts": counts,
        "connections": 97,
        "denials": {"cp_busy": 1},
        "generator": {"cpu_pct": 30.0, "loop_lag": latency(12.0)},
    }


def probed() -> dict[str, Any]:
    counts = {
        "at": 10.0,
        "heartbeats": 30,
        "telemetry_sent": 100,
        "updates_received": 100,
        "disconnections": 0,
    }
    return {
        "counts": counts,
        "connections": 3,
        "denials": {"cp_busy": 2},
        "cpu_pct": 4.0,
        "loop_lag": latency(3.0),
        "nice": -10,
        "authorisation": latency(80.0),
        "authorisation_timed_out": 0,
        "telemetry": latency(200.0),
        "fault_detection": latency(900.0),
        "fault_detection_timed_out": 1,
        "web_api": latency(40.0),
        "missed": ["one"],
        "page_errors": 0,
        "accounts": {"sessions": 3},
    }


def test_counts_add_up_and_latencies_are_the_probes() -> None:
    level = combined(bulk(), probed(), stream_cpu_us=2_700_000, streams=1)
    assert level["heartbeats_per_s"] == 93.0
    assert level["reports"] == {"sent": 1100, "relayed": 900, "ratio": 900 / 1100}
    assert level["stream_cpu"]["us_per_report"] == 3000.0  # 2.7 s of CPU over 900 applied reports
    assert level["connections"] == 100
    assert level["disconnections"] == 1
    assert level["denials"] == {"cp_busy": 3}
    assert level["telemetry"]["p99_ms"] == 200.0
    assert level["fault_detection"]["timed_out"] == 1
    assert level["probes"]["loop_lag"]["p99_ms"] == 3.0
    assert level["missed"] == {"count": 1, "first": ["one"]}


def test_no_report_relayed_gives_no_cpu_per_report() -> None:
    nothing = probed()
    nothing["counts"] = {**nothing["counts"], "updates_received": 0}
    quiet = bulk()
    quiet["counts"] = {**quiet["counts"], "updates_received": 0}
    assert combined(quiet, nothing, 1_000, 1)["stream_cpu"]["us_per_report"] is None
