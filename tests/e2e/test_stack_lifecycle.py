"""The stack as users run it: `make up`, `make scale CP=3`, `make down`."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.e2e import containers
from tests.support.stack import compose, make

pytestmark = pytest.mark.e2e


def test_up_scale_down() -> None:
    up = make("up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Status page: http://localhost:" in up.stdout

    running = containers()
    unhealthy = [c["Name"] for c in running if c["Health"] not in ("healthy", "")]
    assert not unhealthy, f"not healthy after make up: {unhealthy}"
    services = {c["Service"] for c in running}
    assert {
        "kafka",
        "mariadb",
        "central-auth",
        "central-stream",
        "central-web",
        "cp-engine",
        "driver",
    } <= services
    assert all(c["Health"] == "healthy" for c in running if c["Service"] != "kafka-setup")

    scale = make("scale", "CP=3")
    assert scale.returncode == 0, scale.stdout + scale.stderr
    per_service = Counter(c["Service"] for c in containers() if c["Health"] == "healthy")
    assert per_service["cp-engine"] == 3
    # Each a whole CP: its engine and its monitor. By the numbers Compose gave them: after
    # earlier scaling they need not be 1, 2, 3 (Compose removes whichever it likes first).
    numbers = sorted(int(c["Name"].rpartition("-")[2]) for c in containers("cp-engine"))
    assert len(numbers) == 3, numbers
    for index in numbers:
        status = ("exec", "-T", "--index", str(index), "cp-engine", "supervisorctl", "status")
        processes = compose(*status).stdout
        assert [line.split()[:2] for line in processes.splitlines()] == [
            ["cp:engine", "RUNNING"],
            ["cp:monitor", "RUNNING"],
        ], processes

    down = make("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert containers(all_states=True) == []
