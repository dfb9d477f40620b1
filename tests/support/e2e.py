"""The running compose stack as the end-to-end tests drive it: only through the ways
users have — `docker compose exec/kill/start`, the driver's and the engine's
commands, the status page's API — plus MariaDB to check what was stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from evcharging.db import connect, cursor
from tests.support.stack import ROOT, compose, infra_addresses, stack_settings
from tests.support.waiting import wait_until
from tests.support.web import Client

COMPOSE = ("docker", "compose")


class Stack:
    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        """The test stack, or with `overrides` (another project, its ports) a stack of
        a test's own."""
        self.overrides = dict(overrides or {})
        self.settings = {**stack_settings(), **self.overrides}
        env = self.settings
        self.web = Client(f"http://127.0.0.1:{env.get('WEB_HOST_PORT', '8080')}")
        self.operator = {"Authorization": f"Bearer {env['OPERATOR_PASSWORD']}"}
        self.infra = infra_addresses(env)
        self.database = self.infra.database

    def compose(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return compose(*args, timeout=timeout, check=check, env=self.overrides)

    # --- the charging points -------------------------------------------------------

    def charger(self, index: int, *args: str) -> dict[str, Any]:
        """`docker compose exec --index N cp-engine charger ARGS --json`, parsed."""
        result = self.compose(
            "exec", "-T", "--index", str(index), "cp-engine", "charger", *args, "--json", check=False
        )
        if not result.stdout.strip():
            raise AssertionError(f"charger {' '.join(args)} printed nothing: {result.stderr}")
        reply: dict[str, Any] = json.loads(result.stdout)
        return reply

    def engine_ids(self, replicas: int) -> list[str | None]:
        return [self.charger(index, "status")["status"]["cp_id"] for index in range(1, replicas + 1)]

    def wait_engine_ids(self, replicas: int, timeout: float = 90) -> list[str]:
        """The CP id of every engine replica, once each has one."""

        def all_assigned() -> list[str] | None:
            ids = self.engine_ids(replicas)
            return [i for i in ids if i] if all(ids) else None

        return wait_until(all_assigned, timeout, f"{replicas} engines to get their CP ids", interval=1)

    # --- one process of a CP's container: supervisord's `engine` and `monitor` ---------

    def supervisorctl(self, index: int, *args: str) -> str:
        """`supervisorctl ARGS` in the CP container `index` (1-based, as `--index`)."""
        result = self.compose(
            "exec", "-T", "--index", str(index), "cp-engine", "supervisorctl", *args, check=False
        )
        assert result.returncode == 0, f"supervisorctl {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    def kill_process(self, index: int, program: str) -> None:
        """SIGKILL the `engine` or the `monitor` of CP container `index`: a crash of that
        process alone, which supervisord answers by starting it again."""
        self.supervisorctl(index, "signal", "KILL", f"cp:{program}")

    def crash_container(self, index: int, service: str = "cp-engine") -> None:
        """SIGKILL the first process of `service`'s container `index` from the host, as a
        crash (not a `docker kill`, which Docker counts as a stop): its restart policy
        brings it back."""
        name = f"{self.settings['COMPOSE_PROJECT_NAME']}-{service}-{index}"
        pid = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Pid}}", name], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert pid not in ("", "0"), f"{name} is not running"
        os.kill(int(pid), signal.SIGKILL)

    # --- the status page's API ------------------------------------------------------

    def cps(self) -> dict[str, dict[str, Any]]:
        status, body = self.web.get("/api/cps")
        assert status == 200, body
        return {tile["cp_id"]: tile for tile in body}

    def wait_states(self, expected: dict[str, str], timeout: float = 60) -> dict[str, dict[str, Any]]:
        """Wait until every CP in `expected` shows the given state on the page."""

        def reached() -> dict[str, dict[str, Any]] | None:
            tiles = self.cps()
            return (
                tiles
                if all(tiles.get(cp, {}).get("state") == state for cp, state in expected.items())
                else None
            )

        return wait_until(reached, timeout, f"the page to show {expected}", interval=0.5)

    def operate(self, path: str) -> dict[str, Any]:
        status, body = self.web.post(path, headers=self.operator)
        assert status == 202, body
        return dict(body)

    # --- the driver ------------------------------------------------------------------

    def driver(self, driver_id: str, *args: str, timeout: float = 300) -> list[dict[str, Any]]:
        """`driver --json ...` in the driver container: its JSON Lines (or array), parsed."""
        result = self.compose(
            "exec",
            "-T",
            "driver",
            "driver",
            "--driver",
            driver_id,
            "--json",
            *args,
            timeout=timeout,
            check=False,
        )
        return parse_json_output(result)

    def start_driver(self, driver_id: str, *args: str) -> subprocess.Popen[str]:
        """The same as `driver`, in the background: collect it with `finish`."""
        return subprocess.Popen(
            [*COMPOSE, "exec", "-T", "driver", "driver", "--driver", driver_id, "--json", *args],
            cwd=ROOT,
            env={**os.environ, **self.overrides},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, process: subprocess.Popen[str], timeout: float = 300) -> list[dict[str, Any]]:
        stdout, stderr = process.communicate(timeout=timeout)
        return parse_json_output(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )

    def write_in_driver(self, path: str, text: str) -> None:
        """Put a file in the driver's container, as a user would with `docker compose cp`."""
        subprocess.run(
            [*COMPOSE, "exec", "-T", "driver", "sh", "-c", f"cat > {path}"],
            cwd=ROOT,
            env={**os.environ, **self.overrides},
            input=text,
            text=True,
            check=True,
            timeout=60,
        )

    # --- what was stored --------------------------------------------------------------

    def query(self, sql: str, *params: object) -> list[dict[str, Any]]:
        connection = connect(self.database)
        try:
            with cursor(connection) as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            connection.close()


def supplying_energy(stack: Stack, cp: str) -> bool:
    """True once the page shows energy flowing at `cp`: the vehicle is plugged in."""
    tile = stack.cps().get(cp, {})
    return tile.get("state") == "suministrando" and Decimal(tile.get("kwh") or 0) > 0


def containers(*services: str, all_states: bool = False) -> list[dict[str, Any]]:
    """`docker compose ps --format json [--all] [SERVICE...]`, one dict per container."""
    listed = compose("ps", "--format", "json", *(["--all"] if all_states else []), *services).stdout
    return [json.loads(line) for line in listed.splitlines() if line.strip()]


def healthy(service: str) -> bool:
    """Every container of `service` is running, and healthy where it has a healthcheck."""
    found = containers(service, all_states=True)
    return bool(found) and all(c["State"] == "running" and c["Health"] in ("healthy", "") for c in found)


def save_figures(name: str, figures: dict[str, float]) -> None:
    """Keep what a test measured as test-results/NAME.json, an artefact for the closing note."""
    results = ROOT / "test-results"
    results.mkdir(exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(figures, indent=2))


def parse_json_output(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    text = result.stdout.strip()
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]
