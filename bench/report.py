"""The results of a run, three ways: JSON for tools, Markdown for people, and a
PNG of latency against load. Every latency is also given as a ratio to the raw
Kafka round trip of the same run, every rate as a ratio to raw Kafka's: on a
shared machine the absolute numbers drift, the ratios much less.

A probe waits only so long (bench/probes.py PATIENCE). A percentile that lies
beyond that wait (inf in the JSON, see `Latency.of`) is reported as "> the wait",
with how many probes were answered: a limit the system went past is a finding,
not a gap in the table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.stats import ratio

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LATENCIES = {
    "authorisation": "authorisation",
    "telemetry": "live telemetry",
    "fault_detection": "fault detection",
}
PROBED = ("authorisation", "fault_detection")
"""The latencies timed by probes, which give up after a wait."""
WAIT_BEFORE_RECORDED_S = 30.0
"""The probes' wait in results files from before each probe latency recorded it."""


def write(results: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    results = {**results, "targets": targets(results)}
    paths = [folder / "results.json", folder / "results.md", folder / "latency.png"]
    paths[0].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(results))
    plot(results, paths[2])
    return paths


def _ms(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _x(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.1f}×"


def _latency(level: dict[str, Any], key: str) -> dict[str, Any]:
    """A level's latency. In a file from before the probes counted their timeouts,
    a probe latency with no sample means no probe was answered within the wait:
    each percentile is beyond it, though how many probes timed out is not known
    (`timed_out` None; the missed texts kept are only the first ten)."""
    latency: dict[str, Any] = level[key]
    if key not in PROBED or "timed_out" in latency or latency["samples"]:
        return latency
    return {**latency, "p50_ms": math.inf, "p99_ms": math.inf, "max_ms": math.inf, "timed_out": None}


def _wait_ms(latency: dict[str, Any]) -> float:
    return float(latency.get("patience_s", WAIT_BEFORE_RECORDED_S)) * 1000


def _beyond(wait_ms: float) -> str:
    return f"> {wait_ms / 1000:g} s"


def _at(latency: dict[str, Any], key: str) -> str:
    """One percentile, in ms, or "> the wait" when it lies beyond it."""
    return _beyond(_wait_ms(latency)) if math.isinf(latency[key]) else _ms(latency[key])


def _over(latency: dict[str, Any], round_trip: float) -> str:
    """The p99 over the raw round trip p99; beyond the wait, more than the wait over it."""
    if math.isinf(latency["p99_ms"]):
        return f"> {_x(ratio(_wait_ms(latency), round_trip))}"
    return _x(ratio(latency["p99_ms"], round_trip))


def _answered(latency: dict[str, Any]) -> str:
    """The samples, and when probes timed out, out of how many were asked."""
    samples, timed_out = latency["samples"], latency.get("timed_out", 0)
    if timed_out is None:
        return f"no sample within {_wait_ms(latency) / 1000:g} s"
    return f"{samples:,} of {samples + timed_out:,} answered" if timed_out else f"{samples:,}"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each measured at the highest load level of the run."""
    if not results["levels"]:
        return []
    top = max(results["levels"], key=lambda level: level["cps"])
    round_trip = results["baseline"]["round_trip"]["p99_ms"]
    rates = {run["workers"]: run["sustained_per_s"] for run in results.get("throughput", [])}
    authorisation, fault = _latency(top, "authorisation"), _latency(top, "fault_detection")
    rows = [
        _judged("authorisation p99 ≤ 3× raw Kafka round trip p99", authorisation, round_trip, 3.0, "×"),
        _judged(f"authorisation p99 < 1 s at {top['cps']:,} CPs", authorisation, 1.0, 1000.0, "ms"),
        _judged(f"telemetry p99 < 1 s at {top['cps']:,} CPs", top["telemetry"], 1.0, 1000.0, "ms"),
        _judged(f"fault detection p99 < 2 s at {top['cps']:,} CPs", fault, 1.0, 2000.0, "ms"),
    ]
    if 1 in rates and 2 in rates:
        scaling = ratio(rates[2], rates[1])
        rows.append(
            {
                "target": "2 central-stream workers ≥ 1.6× the telemetry of one",
                "measured": scaling,
                "limit": 1.6,
                "unit": "×",
                "met": bool(scaling >= 1.6),
                "beyond_wait": False,
            }
        )
    return rows


def _judged(target: str, latency: dict[str, Any], per: float, limit: float, unit: str) -> dict[str, Any]:
    """A target on `latency`'s p99 over `per` ms (1: the p99 in ms). A p99 beyond the
    probes' wait is given as the wait, marked `beyond_wait`: it is more than that,
    which is all that is known, and a target under the wait is missed."""
    beyond = math.isinf(latency["p99_ms"])
    measured = ratio(_wait_ms(latency) if beyond else latency["p99_ms"], per)
    return {
        "target": target,
        "measured": measured,
        "limit": limit,
        "unit": unit,
        "met": bool(not beyond and measured <= limit),
        "beyond_wait": beyond,
    }


def markdown(results: dict[str, Any]) -> str:
    base = results["baseline"]
    rtt = base["round_trip"]
    produce = base["throughput"]["produce_per_s"]
    lines = [
        "# EVCharging benchmark",
        "",
        f"Run {results.get('run', {}).get('started', '')} on {results.get('run', {}).get('machine', '')}.",
        "",
        "## Raw Kafka baseline (same broker, same run)",
        "",
        "| round trip p50 | p99 | max | produce msg/s | consume msg/s |",
        "|---|---|---|---|---|",
        f"| {_ms(rtt['p50_ms'])} ms | {_ms(rtt['p99_ms'])} ms | {_ms(rtt['max_ms'])} ms "
        f"| {produce:,.0f} | {base['throughput']['consume_per_s']:,.0f} |",
        "",
        "## Latency against load (ms; ×: p99 over the raw round trip p99)",
        "",
        "| CPs | authorisation p50 | p99 | max | × | telemetry p50 | p99 | × "
        "| fault detection p50 | p99 | samples a/t/f |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in results["levels"]:
        a, t, f = (_latency(level, key) for key in LATENCIES)
        lines.append(
            f"| {level['cps']:,} | {_at(a, 'p50_ms')} | {_at(a, 'p99_ms')} | {_at(a, 'max_ms')} "
            f"| {_over(a, rtt['p99_ms'])} | {_at(t, 'p50_ms')} | {_at(t, 'p99_ms')} "
            f"| {_over(t, rtt['p99_ms'])} | {_at(f, 'p50_ms')} | {_at(f, 'p99_ms')} "
            f"| {_answered(a)}/{_answered(t)}/{_answered(f)} |"
        )
    lines += [
        "",
        "## central-auth and the load itself",
        "",
        "| CPs | connections held | heartbeats/s | disconnections | telemetry sent/s | updates relayed/s "
        "| generator CPU | generator loop lag p99 | probe waits missed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level in results["levels"]:
        generator = level["generator"]
        lines.append(
            f"| {level['cps']:,} | {level['connections']:,} | {level['heartbeats_per_s']:,.0f} "
            f"| {level['disconnections']} | {level['telemetry_sent_per_s']:,.0f} "
            f"| {level['updates_received_per_s']:,.0f} | {generator['cpu_pct']:.0f} % "
            f"| {_ms(generator['loop_lag']['p99_ms'])} ms | {level['missed']['count']} |"
        )
    lines += _misses(results["levels"])
    lines += _throughput(results.get("throughput", []), produce)
    lines += _resources(results["levels"])
    lines += _accounts(results)
    lines += _profile(results["levels"])
    if results.get("failed"):
        lines += ["", "## Phases that failed", ""] + [f"- {failure}" for failure in results["failed"]]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    # judged afresh, not read back: a file from before `beyond_wait` holds NaN for a p99 beyond the wait
    lines += [f"| {row['target']} | {_measured(row)} | {_verdict(row)} |" for row in targets(results)]
    return "\n".join(lines) + "\n"


def _measured(row: dict[str, Any]) -> str:
    if row["unit"] == "×":
        value = _x(row["measured"])
        return f"> {value}" if row["beyond_wait"] else value
    return _beyond(row["measured"]) if row["beyond_wait"] else f"{_ms(row['measured'])} ms"


def _verdict(row: dict[str, Any]) -> str:
    if row["met"]:
        return "yes"
    if row["beyond_wait"]:
        return f"**no** (missed by more than {row['measured'] / row['limit']:,.0f}×)"
    if row["target"].startswith("2 central-stream"):
        return f"**no** ({row['measured'] / row['limit']:.0%} of the target)"
    return f"**no** ({_x(ratio(row['measured'], row['limit']))} the limit)"


def _misses(levels: list[dict[str, Any]]) -> list[str]:
    """What the probes waited for in vain, as they noted it: where the system gave way."""
    missed = [(level["cps"], line) for level in levels for line in level["missed"]["first"]]
    if not missed:
        return []
    return ["", "Probe waits missed (first ones):", ""] + [f"- {cps:,} CPs: {line}" for cps, line in missed]


def _throughput(runs: list[dict[str, Any]], produce: float) -> list[str]:
    if not runs:
        return []
    lines = [
        "",
        "## Sustained telemetry throughput (driver-side lag p99 < 1 s)",
        "",
        "| central-stream workers | CPs | sustained msg/s | share of raw produce "
        "| steps: sent msg/s → lag p99 |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        steps = ", ".join(
            f"{step['sent_per_s']:,.0f} → {_ms(step['lag']['p99_ms'])} ms{'' if step['sustained'] else ' ✗'}"
            for step in run["steps"]
        ) or _unsettled(run["settling"])
        lines.append(
            f"| {run['workers']} | {run['cps']:,} | {run['sustained_per_s']:,.0f} "
            f"| {ratio(run['sustained_per_s'], produce):.2%} | {steps} |"
        )
    return lines


def _unsettled(settling: dict[str, Any]) -> str:
    return (
        f"never settled in {settling['seconds']:,.0f} s: last window relayed "
        f"{settling['relayed_per_s']:,.0f} msg/s, lag p99 {_ms(settling['lag']['p99_ms'])} ms"
    )


def _resources(levels: list[dict[str, Any]]) -> list[str]:
    services = sorted({service for level in levels for service in level["resources"]})
    header = " | ".join(f"{level['cps']:,} CPs" for level in levels)
    lines = [
        "",
        "## CPU (mean / peak, 100 % = one core) and memory (peak) per service",
        "",
        f"| service | {header} |",
        "|---|" + "---|" * len(levels),
    ]
    for service in services:
        cells = []
        for level in levels:
            usage = level["resources"].get(service)
            cells.append("–" if usage is None else _usage(usage))
        lines.append(f"| {service} | {' | '.join(cells)} |")
    return lines


def _usage(usage: dict[str, float]) -> str:
    return f"{usage['cpu_mean_pct']:.0f} / {usage['cpu_max_pct']:.0f} % · {usage['memory_max_mib']:.0f} MiB"


def _accounts(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Nothing lost: tickets against the engines' reports",
        "",
        "| run | sessions | tickets | outstanding | kWh reported | kWh billed | tickets ≠ report |",
        "|---|---|---|---|---|---|---|",
    ]
    runs = [(f"{level['cps']:,} CPs", level["accounts"]) for level in results["levels"]]
    runs += [
        (f"throughput, {run['workers']} worker(s)", run["accounts"]) for run in results.get("throughput", [])
    ]
    for name, accounts in runs:
        lines.append(
            f"| {name} | {accounts['sessions']:,} | {accounts['tickets']:,} | {accounts['outstanding']:,} "
            f"| {accounts['kwh_reported']} "
            f"| {accounts['kwh_billed']} | {accounts['mismatched']} |"
        )
    return lines


def _profile(levels: list[dict[str, Any]]) -> list[str]:
    profiled = [level for level in levels if level.get("profile")]
    if not profiled:
        return []
    level = profiled[-1]
    lines = ["", f"## Where the time goes at {level['cps']:,} CPs (py-spy, own time)", ""]
    for service, profile in level["profile"].items():
        packages = ", ".join(f"{spot['function']} {spot['share']:.0%}" for spot in profile["packages"])
        lines += [f"**{service}** — by package: {packages or 'no samples'}", ""]
        lines += [f"- {spot['share']:.0%} {spot['function']}" for spot in profile["functions"]]
        lines.append("")
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    # Imported here, once the run is over: loaded before mysql-connector's C extension,
    # matplotlib's libraries (libcrypto, libstdc++) leave that extension unable to load.
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    levels = sorted(results["levels"], key=lambda level: level["cps"])
    if not levels:
        return
    cps = [level["cps"] for level in levels]
    figure, axes = plt.subplots(figsize=(8, 5))
    colours = ("tab:blue", "tab:green", "tab:red")
    for row, ((key, label), colour) in enumerate(zip(LATENCIES.items(), colours, strict=True)):
        latencies = [_latency(level, key) for level in levels]
        axes.plot(cps, [latency["p99_ms"] for latency in latencies], "o-", color=colour, label=f"{label} p99")
        axes.plot(
            cps,
            [latency["p50_ms"] for latency in latencies],
            "o--",
            color=colour,
            alpha=0.5,
            label=f"{label} p50",
        )
        _mark_beyond(axes, cps, latencies, colour, f"{label} p99", row)
    rtt = results["baseline"]["round_trip"]["p99_ms"]
    axes.axhline(rtt, color="grey", linestyle=":", label=f"raw Kafka round trip p99 ({rtt:.0f} ms)")
    axes.axhline(3 * rtt, color="grey", linestyle="-.", label="3× raw round trip p99")
    axes.set(
        xscale="log", yscale="log", xlabel="simulated charging points (1 telemetry msg/s each)", ylabel="ms"
    )
    axes.set_title("EVCharging latency against load")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _mark_beyond(
    axes: Axes, cps: list[int], latencies: list[dict[str, Any]], colour: str, label: str, row: int
) -> None:
    """A p99 beyond the probes' wait has no point of its own, so the line would just
    skip that level: it is drawn at the wait instead, pointing up, and named (in its
    own `row` of text, as the probes share one wait and so one point)."""
    for x, latency in zip(cps, latencies, strict=True):
        if math.isinf(latency["p99_ms"]):
            wait = _wait_ms(latency)
            axes.plot(x, wait, "^", color=colour, markersize=10)
            axes.annotate(
                f"{label} {_beyond(wait)}",
                (x, wait),
                xytext=(-10, 12 - 12 * row),
                textcoords="offset points",
                ha="right",
                color=colour,
                fontsize="small",
            )
