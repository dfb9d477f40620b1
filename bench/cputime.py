"""Exact CPU time of a service's containers, from their cgroups.

`docker stats` gives a percentage sampled now and then, which misses bursts
between two samples; the cgroup's own counter (cgroup v2 `cpu.stat`
usage_usec, or v1 `cpuacct.usage` in ns) is every microsecond the container's
processes ran. Read before and after a window, it gives what the window cost.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping

READ_USAGE = "cat /sys/fs/cgroup/cpu.stat 2>/dev/null || cat /sys/fs/cgroup/cpuacct/cpuacct.usage"


def usage_us(text: str) -> int:
    """cgroup v2 cpu.stat ('usage_usec 123\\n...') or v1 cpuacct.usage (ns) -> µs."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "usage_usec":
            return int(value)
    return int(text.strip()) // 1000


def read_usage(containers: Iterable[str]) -> dict[str, int]:
    """Each container's CPU µs so far; one that cannot be read (gone) is left out."""
    usage = {}
    for container in containers:
        done = subprocess.run(
            ["docker", "exec", container, "sh", "-c", READ_USAGE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            usage[container] = usage_us(done.stdout)
    return usage


def spent_us(before: Mapping[str, int], after: Mapping[str, int]) -> int:
    """CPU µs spent between two readings by the containers read at the end. A
    container started (or restarted, its counter reset) meanwhile counts from zero."""
    total = 0
    for container, end in after.items():
        start = before.get(container, 0)
        total += end - start if end >= start else end
    return total


def per_report_us(cpu_us: int, reports: int) -> float | None:
    """CPU µs per applied report; None when no report was applied (nothing to divide by)."""
    return cpu_us / reports if reports > 0 else None
