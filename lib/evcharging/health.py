"""A liveness file that a service's main loop touches, and the check that reads it.

A container is healthy while its loop is still turning, not merely while its
process exists: `python -m evcharging.health PATH MAX_AGE` exits non-zero when
the file is older than MAX_AGE seconds.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

DEFAULT_PATH = Path(os.environ.get("HEALTH_FILE", "/tmp/evcharging-alive"))  # noqa: S108 - per-container file


def beat(path: Path = DEFAULT_PATH) -> None:
    path.touch()


def is_fresh(path: Path, max_age: float, now: float | None = None) -> bool:
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age


def keep_alive(period: float = 5.0, path: Path = DEFAULT_PATH) -> None:
    """Touch the liveness file forever, for a service whose work runs elsewhere."""
    while True:
        beat(path)
        time.sleep(period)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    max_age = float(argv[2]) if len(argv) > 2 else 15.0
    if is_fresh(path, max_age):
        return 0
    print(f"unhealthy: {path} not touched in the last {max_age:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
