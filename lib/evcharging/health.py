"""A liveness file that a service's main loop touches, and the check that reads it.

A container is healthy while its loop is still turning, not merely while its
process exists: `python -m evcharging.health PATH MAX_AGE` exits non-zero when
the file is older than MAX_AGE seconds.

A service that knows *why* it cannot work (the database refuses its password)
writes the reason to a problem file; every health check of the container prints
it first, so `docker compose ps` / `docker inspect` say what is wrong, not only
that something is.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ALIVE_VARIABLE, ALIVE_DEFAULT = "HEALTH_FILE", Path("/tmp/evcharging-alive")  # noqa: S108 - per container
PROBLEM_VARIABLE, PROBLEM_DEFAULT = "HEALTH_PROBLEM_FILE", Path("/tmp/evcharging-problem")  # noqa: S108
# Read with os.environ, not through evcharging.config: Docker runs `python -m
# evcharging.health` every few seconds in every container, and importing pydantic there
# made each check about ten times dearer in CPU (0.02 s -> 0.19 s), times two per CP. The
# variables are typed and documented once, in evcharging.config.HealthSettings, over
# these names and defaults.
DEFAULT_PATH = Path(os.environ.get(ALIVE_VARIABLE) or ALIVE_DEFAULT)
PROBLEM_PATH = Path(os.environ.get(PROBLEM_VARIABLE) or PROBLEM_DEFAULT)


def report_problem(text: str, path: Path | None = None) -> None:
    """Say why this service cannot work; health checks fail with this text until cleared."""
    (path or PROBLEM_PATH).write_text(text + "\n")


def clear_problem(path: Path | None = None) -> None:
    (path or PROBLEM_PATH).unlink(missing_ok=True)


def problem(path: Path | None = None) -> str | None:
    """The reported problem, or None when there is none."""
    try:
        return (path or PROBLEM_PATH).read_text().strip() or None
    except FileNotFoundError:
        return None


def beat(path: Path = DEFAULT_PATH) -> None:
    path.touch()


def is_fresh(path: Path, max_age: float, now: float | None = None) -> bool:
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age


def keep_alive(period: float = 5.0, path: Path = DEFAULT_PATH, stop: threading.Event | None = None) -> None:
    """Touch the liveness file every `period` s, for a service whose work runs
    elsewhere, until `stop` is set (evcharging.shutdown.stop_requested)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        beat(path)
        stop.wait(period)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    max_age = float(argv[2]) if len(argv) > 2 else 15.0
    reported = problem()
    if reported:
        print(f"unhealthy: {reported}", file=sys.stderr)
        return 1
    if is_fresh(path, max_age):
        return 0
    print(f"unhealthy: {path} not touched in the last {max_age:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
