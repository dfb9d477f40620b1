"""The Faust application: broker, store, delivery guarantee, and the CP table.

Kept apart from the agents so that what Faust is told — and why — reads in one
place. Topics are declared with raw keys and values: the contract's codec
(evcharging.codec) parses and validates every message, and the keys stay the
plain CP id so that Faust's murmur2 partitioner and everybody else's agree.
"""

from __future__ import annotations

from typing import Any

import faust

from central_stream.settings import StreamSettings

CHANGELOG_CONFIG = {
    # Faust creates changelogs compacted. A segment is only compacted once closed,
    # so roll them often: the changelog stays near one record per CP, and a
    # restarted worker has little to read back (memory:// store).
    "segment.ms": "60000",
    "min.cleanable.dirty.ratio": "0.1",
}


METADATA_MAX_AGE_MS = 5000
"""How old the consumer's view of the topics may get (see create_app)."""


def create_app(settings: StreamSettings, **overrides: Any) -> faust.App:
    """A Faust app for central-stream; `overrides` are extra Faust settings (tests)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "broker": ";".join(f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")),
        "store": settings.store,
        "datadir": str(settings.data_dir),
        # At least once, with idempotent sinks (deterministic ids, upserts): a
        # crash replays the events since the last commit and they change nothing.
        "processing_guarantee": "at_least_once",
        "broker_commit_interval": settings.commit_interval,
        "broker_session_timeout": settings.session_timeout,
        "broker_heartbeat_interval": max(settings.session_timeout / 4, 0.5),
        "producer_acks": -1,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication,
        "table_standby_replicas": settings.standby_replicas,
        "consumer_auto_offset_reset": settings.offset_reset,
        # The rebalance leader assigns only the topics its metadata knows. The table's
        # changelog is created by the first worker after its consumer read the metadata,
        # and the default refresh (5 min) left a second worker joining soon after with
        # no changelog partitions: no recovery, so the CPs that moved showed desconectado.
        "consumer_metadata_max_age_ms": METADATA_MAX_AGE_MS,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "web_enabled": False,
        "autodiscover": False,
    }
    return faust.App(settings.app_id, **(config | overrides))
