"""Run a service's entry point on this host as a subprocess, as a person would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.stack import ROOT
from tests.support.waiting import wait_until


class ServiceProcess:
    """`python -m MODULE ARGS` from services/SERVICE, its output in `log_path`."""

    def __init__(self, service: str, module: str, args: list[str], log_path: Path, env: dict[str, str]):
        self.log_path = log_path
        paths = [str(ROOT / "services" / service), str(ROOT / "lib")]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **env}
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *args], env=environment, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.running:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass(frozen=True)
class Stopped:
    """How a process ended after a stop signal."""

    signalled_at: float
    """time.monotonic() when the signal was sent."""
    took: float
    returncode: int
    stderr: str


def stop_when_ready(
    process: subprocess.Popen[str], ready: Callable[[], object], what: str, signum: int = signal.SIGTERM
) -> Stopped:
    """Wait until `ready()` says the process is serving, send it `signum` as
    `docker compose stop` would, and wait for it to exit (killed if it has not in 10 s)."""

    def serving() -> object:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited early: {process.communicate()}")
        return ready()

    try:
        wait_until(serving, 20, f"{what} to start", interval=0.05)
        signalled_at = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
        return Stopped(signalled_at, time.monotonic() - signalled_at, process.returncode, stderr)
    finally:
        process.kill()
