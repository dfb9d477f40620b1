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
from bench.summary import LAG_LIMIT_MS, loop_lag_p99_ms, measured

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


def _level(levels: list[dict[str, Any]], cps: int) -> dict[str, Any]:
    """The level of `cps` CPs, or in a run without it the highest one run."""
    return next(
        (level for level in levels if level["cps"] == cps), max(levels, key=lambda level: level["cps"])
    )


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 15's targets, each at the level it names (or, in a run without that
    level, at the highest one run, and named so)."""
    levels = results["levels"]
    if not levels:
        return []
    round_trip = results["baseline"]["round_trip"]["p99_ms"]
    light, cpu_level, top, largest = (_level(levels, cps) for cps in (100, 1000, 5000, 10000))
    rows = [
        _cpu_target(cpu_level),
        *_load_targets(top),
        _judged(
            f"authorisation p99 ≤ 3× raw Kafka round trip p99 at {light['cps']:,} CPs",
            _latency(light, "authorisation"),
            round_trip,
            3.0,
            "×",
        ),
        _row("every level measured: loop lags p99 < 50 ms", max(map(loop_lag_p99_ms, levels)), 50.0, "ms"),
        *_largest_targets(largest),
    ]
    return rows + _scaling_target(results.get("throughput", []))


def _cpu_target(level: dict[str, Any]) -> dict[str, Any]:
    per_report = level.get("stream_cpu", {}).get("us_per_report")
    measured = math.nan if per_report is None else per_report
    return _row(
        f"central-stream CPU per applied report ≤ 30 µs at {level['cps']:,} CPs", measured, 30.0, "µs"
    )


def _load_targets(top: dict[str, Any]) -> list[dict[str, Any]]:
    at = f"at {top['cps']:,} CPs"
    relayed = top.get("reports", {}).get("ratio", math.nan)
    return [
        _row(f"reports relayed ÷ sent ≥ 0.95 {at}", relayed, 0.95, "", at_least=True),
        _judged(f"telemetry p99 < 500 ms {at}", top["telemetry"], 1.0, 500.0, "ms"),
        _judged(f"authorisation p99 < 250 ms {at}", _latency(top, "authorisation"), 1.0, 250.0, "ms"),
        _judged(f"fault detection p99 < 1.5 s {at}", _latency(top, "fault_detection"), 1.0, 1500.0, "ms"),
    ]


def _largest_targets(level: dict[str, Any]) -> list[dict[str, Any]]:
    """At the largest network: the page keeps up, central-auth holds every CP, nothing is lost."""
    at = f"at {level['cps']:,} CPs"
    accounts = level["accounts"]
    web_api = level.get("web_api", {}).get("p99_ms", math.nan)
    return [
        _row(f"page API p99 < 200 ms {at}", web_api, 200.0, "ms"),
        _row(f"no monitor disconnected {at}", level["disconnections"], 0, ""),
        _row(
            f"nothing lost {at}: tickets outstanding or ≠ report",
            accounts["outstanding"] + accounts["mismatched"],
            0,
            "",
        ),
    ]


def _scaling_target(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rates = {run["workers"]: run["sustained_per_s"] for run in runs}
    if 1 not in rates or 2 not in rates:
        return []
    scaling = ratio(rates[2], rates[1])
    return [_row("2 central-stream workers ≥ 1.6× the telemetry of one", scaling, 1.6, "×", at_least=True)]


def _row(
    target: str, measured: float, limit: float, unit: str, at_least: bool = False, beyond: bool = False
) -> dict[str, Any]:
    """Met when `measured` is at most (or `at_least`) `limit`; never when unknown or beyond the wait."""
    within = measured >= limit if at_least else measured <= limit
    return {
        "target": target,
        "measured": measured,
        "limit": limit,
        "unit": unit,
        "at_least": at_least,
        "met": bool(not beyond and math.isfinite(measured) and within),
        "beyond_wait": beyond,
    }


def _judged(target: str, latency: dict[str, Any], per: float, limit: float, unit: str) -> dict[str, Any]:
    """A target on `latency`'s p99 over `per` ms (1: the p99 in ms). A p99 beyond the
    probes' wait is given as the wait, marked `beyond_wait`: it is more than that,
    which is all that is known, and a target under the wait is missed."""
    beyond = math.isinf(latency["p99_ms"])
    measured = ratio(_wait_ms(latency) if beyond else latency["p99_ms"], per)
    return _row(target, measured, limit, unit, beyond=beyond)


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
            f"| {_cps(level)} | {_at(a, 'p50_ms')} | {_at(a, 'p99_ms')} | {_at(a, 'max_ms')} "
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
    lines += _fairness(results["levels"])
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
    if row["unit"] == "ms":
        return _beyond(row["measured"]) if row["beyond_wait"] else f"{_ms(row['measured'])} ms"
    if not math.isfinite(row["measured"]):
        return "–"
    return f"{row['measured']:,.0f} µs" if row["unit"] == "µs" else f"{row['measured']:,.4g}"


def _verdict(row: dict[str, Any]) -> str:
    if row["met"]:
        return "yes"
    if not math.isfinite(row["measured"]):
        return "**no** (no figure)"
    if row["beyond_wait"]:
        return f"**no** (missed by more than {row['measured'] / row['limit']:,.0f}×)"
    if row.get("at_least", row["target"].startswith("2 central-stream")):
        return f"**no** ({ratio(row['measured'], row['limit']):.0%} of the target)"
    if row["limit"] == 0:
        return "**no**"
    return f"**no** ({_x(ratio(row['measured'], row['limit']))} the limit)"


def _cps(level: dict[str, Any]) -> str:
    """A level's CPs, flagged when a loop that timed or drove it ran late: its figures are suspect."""
    return f"{level['cps']:,}" if measured(level) else f"{level['cps']:,} (not measured)"


def _fairness(levels: list[dict[str, Any]]) -> list[str]:
    """Whether each level was measured fairly, and what central-stream's CPU and the page cost there."""
    lines = [
        "",
        f"## Measured fairly? (a loop lag p99 ≥ {LAG_LIMIT_MS:.0f} ms marks the level not measured)",
        "",
        "| CPs | generator loop lag p99 | probe process loop lag p99 | measured | telemetry sent ÷ due "
        "| reports sent | relayed | relayed ÷ sent | central-stream CPU µs per applied report "
        "| page API p99 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in levels:
        if "probes" not in level:  # a file from before the probe process: nothing more to say
            continue
        reports, cpu = level["reports"], level["stream_cpu"]
        per_report = cpu["us_per_report"]
        lines.append(
            f"| {level['cps']:,} | {_ms(level['generator']['loop_lag']['p99_ms'])} ms "
            f"| {_ms(level['probes']['loop_lag']['p99_ms'])} ms "
            f"| {'yes' if measured(level) else f'**no** ({_ms(loop_lag_p99_ms(level))} ms)'} "
            f"| {_offered(level)} | {reports['sent']:,} | {reports['relayed']:,} | {reports['ratio']:.2f} "
            f"| {'–' if per_report is None else f'{per_report:,.0f}'} "
            f"({cpu['cpu_us'] / 1e6:.1f} s of CPU, {cpu['containers']} worker(s)) "
            f"| {_ms(level['web_api']['p99_ms'])} ms |"
        )
    return lines


def _offered(level: dict[str, Any]) -> str:
    """Telemetry the engines sent over what the supplying CPs owed (1 a second each):
    below 1, a late generator did not offer the load the level names."""
    due = level["supplying"]
    return f"{level['telemetry_sent_per_s'] / due:.2f}" if due else "–"


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
