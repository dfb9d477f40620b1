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

import sys
import threading
import time
from pathlib import Path

from evcharging.config import ServiceSettings, load, variable


class HealthSettings(ServiceSettings):
    """Where every service keeps its liveness and problem files: in /tmp, one container
    each; a test or a hand-run process that shares a machine names files of its own."""

    alive_file: Path = variable(
        "HEALTH_FILE",
        "the liveness file the main loop touches and the health check reads",
        Path("/tmp/evcharging-alive"),  # noqa: S108 - a per-container file
    )
    problem_file: Path = variable(
        "HEALTH_PROBLEM_FILE",
        "the file holding why the service cannot work, which the health check prints",
        Path("/tmp/evcharging-problem"),  # noqa: S108
    )


_FILES = load(HealthSettings)
DEFAULT_PATH = _FILES.alive_file
PROBLEM_PATH = _FILES.problem_file


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
