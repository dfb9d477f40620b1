"""A project CA for tests, made the way users get theirs: by scripts/pki.sh."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_pki(directory: Path, central_host: str = "", env_file: Path | None = None) -> Path:
    """A fresh CA and the central's certificate (names: localhost, kafka, central-auth,
    127.0.0.1 and `central_host`) in `directory`. The broker keystore's password comes
    from `env_file` (a stack's secrets), else it is a throwaway one."""
    shutil.rmtree(directory, ignore_errors=True)
    password = "" if env_file is not None else secrets.token_urlsafe(16)
    made = subprocess.run(
        [ROOT / "scripts" / "pki.sh", directory],
        env={
            **os.environ,
            "EVCHARGING_ENV_FILE": str(env_file or os.devnull),
            "CENTRAL_HOST": central_host,
            "KAFKA_KEYSTORE_PASSWORD": password,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return directory
