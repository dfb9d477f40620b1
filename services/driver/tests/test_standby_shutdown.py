"""The driver container's PID 1 (`driver standby`) stops on SIGTERM, so `docker
compose stop driver` returns at once instead of waiting 10 s for a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import stop_when_ready

DRIVER_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_standby_exits_0_on_a_stop_signal(tmp_path: Path, signum: signal.Signals) -> None:
    alive = tmp_path / "alive"
    process = subprocess.Popen(
        [sys.executable, "-m", "driver", "standby"],
        env={**os.environ, "PYTHONPATH": str(DRIVER_DIR), "HEALTH_FILE": str(alive)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped = stop_when_ready(process, alive.exists, "standby", signum)  # healthy: it touched its file
    stderr = stopped.stderr
    assert stopped.took < 2
    assert stopped.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "driver stopped" in stderr
