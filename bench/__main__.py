"""`make bench`: load, latency and throughput of EVCharging, against raw Kafka.

    python -m bench                         # the fixed scenario set, own stack
    python -m bench --levels 100 --hold 10  # a quick look
    python -m bench --existing              # against the running `make up` stack

Results go to bench/results/ (results.json, results.md, latency.png). Method and
the latest figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import platform
import resource
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bench import report, summary
from bench.scenario import Options, Run
from bench.stack import Stack


def options() -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels",
        type=int,
        nargs="+",
        default=list(summary.DEFAULT_LEVELS),
        help="simulated CPs per level (a run of the default ones publishes docs/performance/summary.json)",
    )
    parser.add_argument("--hold", type=float, default=30.0, help="seconds measured at each level")
    parser.add_argument(
        "--rates",
        type=int,
        nargs="+",
        default=[250, 500, 1000, 1600, 2000, 2500, 3200, 4000, 5000],
        help="telemetry msg/s of each throughput step (fewer low steps: the 10,000 CP level needs the time)",
    )
    parser.add_argument("--step", type=float, default=15.0, help="seconds per throughput step")
    parser.add_argument(
        "--workers", type=int, nargs="*", default=[1, 2], help="central-stream workers to compare"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy at the highest level")
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--existing", action="store_true", help="use the running stack; do not start or remove one"
    )
    args = parser.parse_args()
    if any(level < 3 for level in args.levels):
        parser.error(
            "--levels: each level needs at least 3 CPs (a charging probe, a failing one, a watched one)"
        )
    if args.hold <= 0 or args.step <= 5:
        parser.error("--hold must be positive and --step longer than 5 s (4 s of it settle the rate)")
    if any(not 1 <= workers <= 6 for workers in args.workers):
        parser.error("--workers: central-stream runs 1 to 6 workers (the topics have 6 partitions)")
    chosen = Options(
        levels=sorted(args.levels),
        hold=args.hold,
        rates=sorted(args.rates),
        step=args.step,
        workers=args.workers,
        profile=not args.no_profile,
        results=args.results,
    )
    return chosen, args.existing


async def bench(chosen: Options, stack: Stack, progress: Progress) -> dict[str, object]:
    task = progress.add_task("starting", total=1)

    def status(description: str, done: float, total: float) -> None:
        progress.update(task, description=description, completed=done, total=max(total, 1e-9))

    run = Run(stack, chosen, status)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    results = await run.execute()
    return {
        "run": {
            "started": started,
            "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "options": {key: str(value) for key, value in vars(chosen).items()},
        },
        **results,
    }


def main() -> None:
    chosen, existing = options()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per simulated monitor
    measured = summary.commit()  # before the images are built from the tree
    stack = Stack.existing() if existing else Stack.own(max(chosen.levels))
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as progress:
        progress.console.print(
            f"stack: {stack.project} ({'started by the bench' if stack.owned else 'existing'})"
        )
        stack.start()
        try:
            results = asyncio.run(bench(chosen, stack, progress))
        finally:
            gc.collect()  # the run's Kafka clients go before the broker does, quietly

            stack.remove()
    for path in [
        *report.write(results, chosen.results),
        *summary.write(results, chosen.results, chosen.levels, measured),
    ]:
        print(f"wrote {path}")
    print((chosen.results / "results.md").read_text())


if __name__ == "__main__":
    main()
