"""The driver app's settings: environment variables that its options default to
(`--driver`, `--broker`, `--timeout` override them)."""

from __future__ import annotations

from evcharging.config import KAFKA_BOOTSTRAP, Seconds, ServiceSettings, variable
from evcharging.messages import Identifier


class DriverSettings(ServiceSettings):
    """The driver app's settings."""

    driver_id: Identifier | None = variable(
        "DRIVER_ID", "your driver id; unset: pass --driver (only `driver list` needs none)", None
    )
    kafka_bootstrap: str = KAFKA_BOOTSTRAP
    timeout: Seconds = variable(
        "DRIVER_TIMEOUT", "seconds a request stays valid and the central has to answer", 10.0
    )
