"""Run a service's entry point on this host as a subprocess, as a person would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.stack import ROOT


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
