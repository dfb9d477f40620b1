"""The driver container's PID 1 (`driver standby`) stops on SIGTERM, so `docker
compose stop driver` returns at once instead of waiting 10 s for a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    try:
        deadline = time.monotonic() + 20
        while not alive.exists():  # healthy: it touched its liveness file
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "standby did not start"
            time.sleep(0.05)
        stopped_at = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert time.monotonic() - stopped_at < 2
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "driver stopped" in stderr
