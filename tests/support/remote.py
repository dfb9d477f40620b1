"""A site's or a driver's compose project, as docs/deploy.md starts one on a machine of
its own: from the kit the central wrote (`scripts/role.sh kit`), with nothing of the
central's environment — no shared compose network, no service names, only the
central's published address and the project CA."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.stack import ROOT, read_env_file

CARRIED = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG")
"""What a fresh shell on another machine would have too."""


def write_kit(role: str, directory: Path) -> Path:
    """The central's kit for `role`, written by the test stack's settings."""
    subprocess.run(
        [ROOT / "scripts" / "role.sh", "kit", role, directory],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return directory


@dataclass(frozen=True)
class RemoteProject:
    role: str
    """`site` or `driver`: infra/<role>.yml."""
    project: str
    kit: Path
    overrides: tuple[tuple[str, str], ...] = ()
    """Settings changed from the kit's, e.g. a wrong password."""

    @property
    def env(self) -> dict[str, str]:
        images = ROOT / "infra" / "images.env"
        return {
            **{name: os.environ[name] for name in CARRIED if name in os.environ},
            **(read_env_file(images) if images.exists() else {}),
            **read_env_file(self.kit / ".env"),
            "COMPOSE_FILE": f"infra/{self.role}.yml",
            "COMPOSE_PROJECT_NAME": self.project,
            "CA_FILE": str(self.kit / "ca.crt"),
            **dict(self.overrides),
        }

    def compose(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def up(self, *args: str, wait: bool = True) -> subprocess.CompletedProcess[str]:
        waiting = ("--wait", "--wait-timeout", "180") if wait else ()
        return self.compose("up", "-d", *waiting, *args, check=False)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", check=False)

    def logs(self) -> str:
        return self.compose("logs", "--no-log-prefix").stdout

    def networks(self) -> set[str]:
        """Every network this project's containers are attached to."""
        ids = self.compose("ps", "-q").stdout.split()
        found: set[str] = set()
        for container in ids:
            out = subprocess.run(
                [
                    "docker",
                    "inspect",
                    "-f",
                    "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
                    container,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found |= set(out.split())
        return found
