"""central-stream's settings, from environment variables with defaults that suit
the compose stack. The database's are read by evcharging.config at start-up."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from evcharging.config import KafkaSettings, env, env_float, env_int
from evcharging.topics import PARTITIONS


@dataclass(frozen=True)
class StreamSettings:
    kafka_bootstrap: str
    app_id: str = "evcharging-central-stream"
    """Faust's app id: the consumer group and the prefix of its table topics. Every
    worker of one deployment shares it; a test gives each run its own."""
    store: str = "memory://"
    """Where tables live between changelog writes; memory:// rebuilds them from
    the changelog at start (see docs/central-stream.md for the recovery time)."""
    partitions: int = PARTITIONS
    """Partitions of the table changelogs: must equal the source topics'."""
    replication: int = 1
    standby_replicas: int = 0
    """Warm copies of each table partition on other workers. A standby reads the
    owner's whole changelog — a record per applied telemetry — through Faust's
    per-event path, and with two workers on two cores that cost more than the
    second worker added (docs/performance.md). Without one, a worker taking partitions over rebuilds them from
    their compacted changelog, as every worker does at start (memory://)."""
    offset_reset: str = "earliest"
    """Where a brand-new consumer group starts. 'earliest' answers requests made
    before the first start; tests sharing a broker use 'latest'."""
    session_timeout: float = 10.0
    """Seconds without heartbeats before the broker gives a silent worker's
    partitions to the others. A SIGKILLed worker holds them this long: it bounds
    the recovery time (Faust's default, 60 s, made a restart wait a minute)."""
    commit_interval: float = 1.0
    """Seconds between offset commits: what a crashed worker reprocesses, at most."""
    registry_refresh: float = 30.0
    """Seconds between full registry reloads: only removals and price changes wait
    for one (new ids are looked up at once), and with thousands of drivers and CPs a
    reload every few seconds cost the agent a noticeable share of its time."""
    registry_miss_ttl: float = 1.0
    """An id found unregistered is not looked up again for this many seconds."""
    cp_prefix: str = ""
    """Serve only CPs whose id starts with this (empty: all). Lets test runs share
    one broker and database without answering each other's CPs."""
    data_dir: Path = Path(tempfile.gettempdir()) / "central-stream"
    stall_limit: float = 30.0
    """Seconds without processing an event, while events wait on owned partitions,
    after which the worker ends itself to be restarted (watchdog.py)."""
    housekeeping_interval: float = 1.0
    """Seconds between housekeeping rounds: liveness, registry, newly owned CPs."""

    @property
    def telemetry_group(self) -> str:
        """The consumer group of the telemetry intake (intake.py): Faust's own reads the rest."""
        return f"{self.app_id}-telemetry"

    @classmethod
    def from_env(cls) -> StreamSettings:
        return cls(
            kafka_bootstrap=KafkaSettings.from_env().bootstrap,
            app_id=env("STREAM_APP_ID", cls.app_id),
            store=env("STREAM_STORE", cls.store),
            partitions=env_int("STREAM_PARTITIONS", cls.partitions),
            replication=env_int("TOPIC_REPLICATION", cls.replication),
            standby_replicas=env_int("STREAM_STANDBY_REPLICAS", cls.standby_replicas),
            offset_reset=env("STREAM_OFFSET_RESET", cls.offset_reset),
            session_timeout=env_float("STREAM_SESSION_TIMEOUT", cls.session_timeout),
            commit_interval=env_float("STREAM_COMMIT_INTERVAL", cls.commit_interval),
            registry_refresh=env_float("REGISTRY_REFRESH", cls.registry_refresh),
            registry_miss_ttl=env_float("REGISTRY_MISS_TTL", cls.registry_miss_ttl),
            cp_prefix=env("STREAM_CP_PREFIX", cls.cp_prefix),
            stall_limit=env_float("STREAM_STALL_LIMIT", cls.stall_limit),
            data_dir=Path(env("STREAM_DATA_DIR", str(cls.data_dir))),
        )
