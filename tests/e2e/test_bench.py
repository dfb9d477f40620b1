"""`make bench` on a small scale, against the running stack: the load generator
drives real CPs' protocol and real drivers' topics, the probes time it from a
process of their own, and every figure the issues ask for comes out (issue 15's
in summary.json), with nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bench.summary import PUBLISHED
from tests.support.stack import ROOT, compose

pytestmark = pytest.mark.e2e


def stream_workers() -> int:
    return len(compose("ps", "-q", "central-stream").stdout.split())


@pytest.mark.usefixtures("stack")
def test_a_small_bench_measures_everything_and_loses_nothing(tmp_path: Path) -> None:
    published = PUBLISHED.read_bytes() if PUBLISHED.exists() else None
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--existing",
            "--levels",
            "4",
            "--hold",
            "8",
            "--rates",
            "40",
            "--step",
            "8",
            "--workers",
            "1",
            "2",
            "--no-profile",
            "--results",
            str(tmp_path),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}/services/cp-engine:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())

    assert results["baseline"]["round_trip"]["samples"] > 0
    (level,) = results["levels"]
    unmeasured = {name: level[name] for name in ("authorisation", "telemetry", "fault_detection")}
    unmeasured = {name: figures for name, figures in unmeasured.items() if figures["samples"] == 0}
    assert not unmeasured, (
        f"no latency measured for {unmeasured}; missed: {level['missed']}; "
        f"page errors: {level['page_errors']}\n"
        + compose("logs", "--tail", "60", "central-stream", "central-auth").stdout
    )
    assert level["connections"] == 4  # one bulk CP and three probes (charging, failing, watched)
    assert level["heartbeats_per_s"] > 2
    assert level["probes"]["loop_lag"]["samples"] > 0, "the probe process measures its own loop"
    assert level["generator"]["loop_lag"]["samples"] > 0
    assert level["web_api"]["samples"] > 0
    assert level["reports"]["sent"] > 0
    assert level["reports"]["relayed"] > 0
    assert level["stream_cpu"]["containers"] >= 1
    assert level["stream_cpu"]["us_per_report"] > 0, level["stream_cpu"]
    assert {"central-auth", "central-stream", "central-web", "kafka", "mariadb"} <= set(level["resources"])

    runs = [level["accounts"]] + [run["accounts"] for run in results["throughput"]]
    for accounts in runs:
        assert accounts["sessions"] > 0
        assert accounts["tickets"] == accounts["sessions"], accounts
        assert accounts["mismatched"] == 0, accounts
        assert Decimal(accounts["kwh_billed"]) == Decimal(accounts["kwh_reported"]) > 0
    assert [run["workers"] for run in results["throughput"]] == [1, 2]
    assert all(run["steps"] for run in results["throughput"])

    assert {row["target"] for row in results["targets"]} >= {
        "telemetry p99 < 500 ms at 4 CPs",
        "central-stream CPU per applied report ≤ 30 µs at 4 CPs",
    }
    assert (tmp_path / "latency.png").read_bytes().startswith(b"\x89PNG")
    assert "## Targets" in (tmp_path / "results.md").read_text()
    assert stream_workers() == 1, "the bench must leave the stack's central-stream as it found it"

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary) == ["commit", "stream_cpu_us_per_report", "baseline", "100", "1000", "5000", "10000"]
    assert summary["baseline"]["rtt_p99_ms"] > 0
    assert all(summary[level] is None for level in ("100", "1000", "5000", "10000"))  # not run here
    assert (PUBLISHED.read_bytes() if PUBLISHED.exists() else None) == published, (
        "a run of other levels must not replace the published summary"
    )
