"""Where a service spends its time under load: py-spy, sampling its processes
from the host for a few seconds, summarised as the functions seen most often
running Python code (`--gil`: only the thread holding the GIL is sampled, so a
thread waiting on a socket or a queue does not count as busy).

py-spy reads a running process's stacks without changing or pausing it
(`--nonblocking`), so the profile costs the service nothing but the host a little
CPU; that is why it is the profiler here rather than cProfile inside the service.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hotspot:
    function: str
    share: float
    """Fraction of the samples in which this function was running (its own time)."""


def py_spy() -> str:
    return str(Path(sys.executable).with_name("py-spy"))


def record(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` and its children for `seconds`, into `output` (collapsed stacks)."""
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--gil",
            "--duration",
            str(seconds),
            "--rate",
            "50",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def hotspots(collapsed: str, top: int = 8) -> list[Hotspot]:
    """The functions most often at the top of the stack, from py-spy's raw output
    (one `frame;frame;...;leaf count` line per distinct stack)."""
    own: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        own[_readable(stack.split(";")[-1])] += int(count)
    total = sum(own.values())
    return [Hotspot(function, count / total) for function, count in own.most_common(top)] if total else []


def by_package(collapsed: str, top: int = 6) -> list[Hotspot]:
    """Own time per top-level package (faust, aiokafka, pydantic, central_stream...):
    whether the time goes to the service's rules or to the libraries under them."""
    own: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            own[_package(_readable(stack.split(";")[-1]))] += int(count)
    total = sum(own.values())
    return [Hotspot(package, count / total) for package, count in own.most_common(top)] if total else []


def _package(readable: str) -> str:
    _, _, path = readable.partition(" (")
    path = path.rstrip(")")
    return path.split("/", 1)[0].removesuffix(".py") if path else "(native)"


def _readable(frame: str) -> str:
    """'send (aiokafka/producer/producer.py:123)' -> 'send (aiokafka/producer/producer.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "/app/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if path else name
