"""central-web's configuration, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from evcharging.config import DatabaseSettings, env, env_float


@dataclass(frozen=True)
class WebSettings:
    kafka_bootstrap: str
    database: DatabaseSettings | None
    operator_password: str
    secret_key: str
    secure_cookies: bool = False
    start_feed: bool = True
    db_refresh: float = 10.0
    """Seconds between reads of `charging_points` for CPs never seen on the status topic."""
    central_auth_timeout: float = 5.0
    """Seconds without a beacon after which central-auth counts as silent and every tile
    shows as last known (central_web.witness says why 5)."""

    @classmethod
    def from_env(cls) -> WebSettings:
        database = DatabaseSettings.from_env() if os.environ.get("DB_PASSWORD") else None
        return cls(
            kafka_bootstrap=env("KAFKA_BOOTSTRAP", "kafka:9092"),
            database=database,
            operator_password=env("OPERATOR_PASSWORD"),
            secret_key=env("WEB_SECRET_KEY"),
            secure_cookies=env("WEB_SECURE_COOKIES", "0") == "1",
            db_refresh=env_float("WEB_DB_REFRESH", 10.0),
            central_auth_timeout=env_float("WEB_CENTRAL_AUTH_TIMEOUT", 5.0),
        )
