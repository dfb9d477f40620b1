"""central-stream's settings, from environment variables with defaults that suit
the compose stack. The database's are DatabaseSettings (evcharging.config), read
beside these at start-up."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from evcharging.config import (
    KAFKA_BOOTSTRAP,
    TOPIC_REPLICATION,
    Count,
    Seconds,
    ServiceSettings,
    variable,
)
from evcharging.topics import PARTITIONS


class StreamSettings(ServiceSettings):
    """central-stream's settings."""

    kafka_bootstrap: str = KAFKA_BOOTSTRAP
    app_id: str = variable(
        "STREAM_APP_ID",
        "Faust's app id: the consumer group and the prefix of its table topics. Every worker of "
        "one deployment shares it; a test gives each run its own",
        "evcharging-central-stream",
    )
    store: str = variable(
        "STREAM_STORE",
        "where tables live between changelog writes; memory:// rebuilds them from the changelog "
        "at start (docs/central-stream.md gives the recovery time)",
        "memory://",
    )
    partitions: Count = variable(
        "STREAM_PARTITIONS", "partitions of the table changelogs: must equal the source topics'", PARTITIONS
    )
    replication: int = TOPIC_REPLICATION
    standby_replicas: int = variable(
        "STREAM_STANDBY_REPLICAS",
        "warm copies of each table partition on other workers. A standby reads the owner's whole "
        "changelog through Faust's per-event path, and with two workers on two cores that cost "
        "more than the second worker added (docs/performance.md); without one, a worker taking "
        "partitions over rebuilds them from their compacted changelog",
        0,
        ge=0,
    )
    offset_reset: Literal["earliest", "latest"] = variable(
        "STREAM_OFFSET_RESET",
        "where a brand-new consumer group starts: 'earliest' answers requests made before the "
        "first start; tests sharing a broker use 'latest'",
        "earliest",
    )
    session_timeout: Seconds = variable(
        "STREAM_SESSION_TIMEOUT",
        "seconds without heartbeats before the broker gives a silent worker's partitions to the "
        "others: it bounds the recovery time after a SIGKILL (Faust's 60 s made a restart wait a minute)",
        10.0,
    )
    commit_interval: Seconds = variable(
        "STREAM_COMMIT_INTERVAL",
        "seconds between offset commits: what a crashed worker reprocesses, at most",
        1.0,
    )
    registry_refresh: Seconds = variable(
        "REGISTRY_REFRESH",
        "seconds between full registry reloads: only removals and price changes wait for one "
        "(new ids are looked up at once)",
        30.0,
    )
    registry_miss_ttl: Seconds = variable(
        "REGISTRY_MISS_TTL", "an id found unregistered is not looked up again for this many seconds", 1.0
    )
    cp_prefix: str = variable(
        "STREAM_CP_PREFIX",
        "serve only CPs whose id starts with this (empty: all); lets test runs share one broker "
        "and database without answering each other's CPs",
        "",
    )
    data_folder: Path | None = variable(
        "STREAM_DATA_DIR",
        "Faust's data directory; unset: central-stream in the temporary folder",
        None,
    )
    stall_limit: Seconds = variable(
        "STREAM_STALL_LIMIT",
        "seconds without processing an event, while events wait on owned partitions, after which "
        "the worker ends itself to be restarted (watchdog.py)",
        30.0,
    )
    housekeeping_interval: Seconds = 1.0
    """Seconds between housekeeping rounds: liveness, registry, newly owned CPs."""

    @property
    def data_dir(self) -> Path:
        return self.data_folder or Path(tempfile.gettempdir()) / "central-stream"

    @property
    def telemetry_group(self) -> str:
        """The consumer group of the telemetry intake (intake.py): Faust's own reads the rest."""
        return f"{self.app_id}-telemetry"
