"""The stack under test: by default a compose project of the bench's own.

`make bench` starts the whole stack as `evcharging-bench` — the same compose
file, on other host ports, with no real CP or driver containers (the load
generator plays them) — measures it, and removes it with its volumes. So a
run starts from empty topics and tables and never touches the stack you use.
`--existing` points the bench at the running `make up` stack instead.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from evcharging.config import DatabaseSettings
from tests.support.stack import ROOT, stack_settings

OWN_PORTS = {
    "KAFKA_HOST_PORT": "19094",
    "DB_HOST_PORT": "13307",
    "AUTH_HOST_PORT": "17000",
    "WEB_HOST_PORT": "18080",
    "KAFKA_EXTERNAL_PORT": "19095",
    "AUTH_TLS_HOST_PORT": "17443",
    "OCPP_HOST_PORT": "19000",
}
SIMULATED = ("cp-engine", "driver")
"""Services the load generator plays itself: scaled to zero in the bench's own stack."""


@dataclass(frozen=True)
class Stack:
    project: str
    owned: bool
    """True when the bench started this stack and removes it at the end."""
    env: dict[str, str]

    @classmethod
    def own(cls, cps: int) -> Stack:
        """The bench's stack, its central-auth allowed a connection per simulated CP."""
        connections = {"AUTH_MAX_CONNECTIONS": str(max(4096, cps + 256))}
        return cls("evcharging-bench", True, {**stack_settings(), **OWN_PORTS, **connections})

    @classmethod
    def existing(cls) -> Stack:
        settings = stack_settings()
        return cls(settings.get("COMPOSE_PROJECT_NAME", "evcharging"), False, settings)

    def port(self, name: str, default: str) -> str:
        return self.env.get(name, default)

    @property
    def kafka_bootstrap(self) -> str:
        return f"localhost:{self.port('KAFKA_HOST_PORT', '9094')}"

    @property
    def auth_address(self) -> str:
        return f"{self.address_of('central-auth')}:7000"

    @property
    def web_url(self) -> str:
        return f"http://{self.address_of('central-web')}:8000"

    def address_of(self, service: str) -> str:
        """A service's own address on the compose network, not its published port:
        Docker's userland port proxy gave way when thousands of simulated monitors
        reconnected at once, and it copies every byte on a CPU the stack needs."""
        container = next(name for name, found in self.containers().items() if found == service)
        out = subprocess.run(
            [
                "docker",
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                container,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()[0]

    @property
    def enrolment_key(self) -> str:
        return self.env["CP_ENROLMENT_KEY"]

    @property
    def database(self) -> DatabaseSettings:
        return DatabaseSettings(
            host="127.0.0.1",
            port=int(self.port("DB_HOST_PORT", "3307")),
            user="evcharging",
            password=self.env["DB_PASSWORD"],
            database="evcharging_db",
        )

    def compose(self, *args: str, timeout: float = 900) -> str:
        done = subprocess.run(
            ["docker", "compose", "-p", self.project, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker compose {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self) -> None:
        if not self.owned:
            return
        self.compose("down", "--volumes", "--remove-orphans")
        scale_to_zero = [arg for service in SIMULATED for arg in ("--scale", f"{service}=0")]
        self.compose("up", "-d", "--build", "--wait", "--wait-timeout", "300", *scale_to_zero)

    def remove(self) -> None:
        if self.owned:
            self.compose("down", "--volumes", "--remove-orphans")

    def scale_stream(self, workers: int) -> None:
        self.compose(
            "up",
            "-d",
            "--no-recreate",
            "--no-deps",
            "--wait",
            "--scale",
            f"central-stream={workers}",
            "central-stream",
        )

    def stream_workers(self) -> int:
        return sum(1 for service in self.containers().values() if service == "central-stream")

    def containers(self) -> dict[str, str]:
        """Running container name -> its compose service."""
        out = subprocess.run(
            [
                "docker",
                "ps",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--format",
                '{{.Names}}\t{{.Label "com.docker.compose.service"}}',
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def main_pid(self, container: str) -> int:
        """The host pid of a container's first process, for the profiler."""
        out = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Pid}}", container],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(out.strip())
