"""The figures of issue 15's targets, one small JSON per run, so two runs compare
at a glance (`docs/performance/summary.json` is the published one).

Its keys are fixed: `commit`, `stream_cpu_us_per_report` (at 1,000 CPs),
`baseline.rtt_p99_ms`, and one entry per default level ("100", "1000", "5000",
"10000"; null when that level did not run) with its p99s, the share of reports
relayed, the load generator's loop lag, whether every ticket billed what its
engine reported, and whether the level counts as measured at all.

A level is *measured* when neither the bulk generator's event loop nor the
probe process's ran 50 ms late or more (p99): a late loop makes every latency
it times look longer, so those figures are printed but flagged.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

DEFAULT_LEVELS = (100, 1000, 5000, 10000)
LAG_LIMIT_MS = 50.0
"""A loop lag p99 at or above this marks the level "not measured"."""
CPU_LEVEL = 1000
"""The level whose central-stream CPU per report is the summary's figure."""
ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "performance" / "summary.json"


def loop_lag_p99_ms(level: dict[str, Any]) -> float:
    """The later of the bulk generator's and the probe process's loop lag p99:
    either one late makes the level's timings or its load suspect. (A file from
    before the probe process has the generator's alone.)"""
    lags = [level["generator"]["loop_lag"]["p99_ms"]]
    if "probes" in level:
        lags.append(level["probes"]["loop_lag"]["p99_ms"])
    return max(lags) if all(math.isfinite(lag) for lag in lags) else math.nan


def measured(level: dict[str, Any]) -> bool:
    """True when every loop that timed or drove the level kept up (p99 < 50 ms)."""
    return bool(loop_lag_p99_ms(level) < LAG_LIMIT_MS)


def tickets_equal_reports(level: dict[str, Any]) -> bool:
    """Every probe session got a ticket and every ticket of the level (probes and
    bulk) bills the kWh its engine reported. No probe session at all proves nothing: False."""
    probes = level.get("probe_accounts", level["accounts"])
    return bool(
        probes["sessions"] > 0 and probes["outstanding"] == 0 and level["accounts"]["mismatched"] == 0
    )


def _number(value: float | None, digits: int) -> float | None:
    """Rounded; None for what has no finite value (no sample, or beyond the probes' wait)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


def level_summary(level: dict[str, Any]) -> dict[str, Any]:
    return {
        "auth_p99_ms": _number(level["authorisation"]["p99_ms"], 1),
        "telemetry_p99_ms": _number(level["telemetry"]["p99_ms"], 1),
        "fault_p99_ms": _number(level["fault_detection"]["p99_ms"], 1),
        "relayed_ratio": _number(level.get("reports", {}).get("ratio"), 3),
        "generator_lag_p99_ms": _number(loop_lag_p99_ms(level), 1),
        "tickets_equal_reports": tickets_equal_reports(level),
        "measured": measured(level),
        "web_api_p99_ms": _number(level.get("web_api", {}).get("p99_ms"), 1),
        "auth_disconnections": level["disconnections"],
    }


def summarise(results: dict[str, Any], commit: str) -> dict[str, Any]:
    """The summary of a run's results (as results.json holds them)."""
    levels = {level["cps"]: level for level in results["levels"]}
    at_cpu_level = levels.get(CPU_LEVEL, {}).get("stream_cpu", {})
    return {
        "commit": commit,
        "stream_cpu_us_per_report": _number(at_cpu_level.get("us_per_report"), 1),
        "baseline": {"rtt_p99_ms": _number(results["baseline"]["round_trip"]["p99_ms"], 1)},
        **{str(cps): level_summary(levels[cps]) if cps in levels else None for cps in DEFAULT_LEVELS},
    }


def commit() -> str:
    """The short hash of the checked-out commit, "-dirty" when tracked files differ from it
    ("unknown" outside a git checkout). Read when the run starts: its images are built
    from the tree as it is then, and a commit made during the run is not what was measured."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if not done.stdout.strip():
        return "unknown"
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT, check=False).returncode != 0
    return done.stdout.strip() + ("-dirty" if changed else "")


def write(
    results: dict[str, Any], folder: Path, levels: list[int], measured: str, published: Path = PUBLISHED
) -> list[Path]:
    """summary.json into `folder`, and into `published` too for a run of the default
    levels only: a quick partial run never replaces the figures of a full one.
    `measured`: the commit the run started on (commit())."""
    text = json.dumps(summarise(results, measured), indent=2) + "\n"
    paths = [folder / "summary.json"]
    if tuple(sorted(levels)) == DEFAULT_LEVELS:
        paths.append(published)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return paths
