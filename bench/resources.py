"""CPU and memory of each service while the load runs, from `docker stats`.

A background thread samples every container of the stack; replicas of one
service (two central-stream workers) are added up per sample, so a figure is
the service's, whatever its scale. 100 % CPU is one core.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

_UNITS = {
    "B": 1 / 2**20,
    "KiB": 1 / 2**10,
    "KB": 1e3 / 2**20,
    "MiB": 1.0,
    "MB": 1e6 / 2**20,
    "GiB": 2**10,
    "GB": 1e9 / 2**20,
}


def cpu_percent(text: str) -> float:
    """'12.34%' -> 12.34."""
    return float(text.strip().rstrip("%") or 0)


def memory_mib(text: str) -> float:
    """'123.4MiB / 23.4GiB' -> 123.4 (the used part, in MiB)."""
    used = text.split("/")[0].strip()
    match = re.fullmatch(r"([\d.]+)\s*([A-Za-z]+)", used)
    if match is None:
        raise ValueError(f"not a docker memory figure: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Usage:
    cpu_mean_pct: float
    cpu_max_pct: float
    memory_max_mib: float
    samples: int


def summarise(samples: list[dict[str, tuple[float, float]]]) -> dict[str, Usage]:
    """Per-sample {service: (cpu %, MiB)} -> each service's mean and peak."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample in samples:
        for service, figures in sample.items():
            series[service].append(figures)
    return {
        service: Usage(
            cpu_mean_pct=sum(cpu for cpu, _ in values) / len(values),
            cpu_max_pct=max(cpu for cpu, _ in values),
            memory_max_mib=max(mib for _, mib in values),
            samples=len(values),
        )
        for service, values in sorted(series.items())
    }


class Sampler:
    """Samples `docker stats` for the containers `containers()` names, until stopped."""

    def __init__(self, containers: Callable[[], dict[str, str]]) -> None:
        self._containers = containers
        self._stop = threading.Event()
        self._samples: list[dict[str, tuple[float, float]]] = []
        self._thread = threading.Thread(target=self._run, name="docker-stats", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def summary(self) -> dict[str, Usage]:
        return summarise(self._samples)

    def _run(self) -> None:
        while not self._stop.is_set():
            services = self._containers()
            out = subprocess.run(
                ["docker", "stats", "--no-stream", "--format", "json", *services],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            sample: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
            for line in out.splitlines():
                row = json.loads(line)
                service = services.get(row["Name"], row["Name"])
                cpu, mib = sample[service]
                sample[service] = (cpu + cpu_percent(row["CPUPerc"]), mib + memory_mib(row["MemUsage"]))
            if sample and not self._stop.is_set():
                self._samples.append(dict(sample))
