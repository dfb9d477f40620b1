"""Entry point of central-stream: `python -m central_stream [worker options]`.

Starts one Faust worker. Run several (`--scale central-stream=N`, up to the
partition count) and they share the CPs' partitions between them.

On SIGTERM (`docker compose stop`) Faust stops its agents, commits, leaves the
consumer group (so the other workers, or this one restarted, take its partitions
without waiting for the session timeout) and flushes its producer; measured at
about 0.3 s. What `Worker` below changes is the pause after that.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import faust

from central_stream.agents import CentralStream
from central_stream.app import create_app
from central_stream.registry import CachedRegistry
from central_stream.settings import StreamSettings
from central_stream.store import Store
from evcharging import db
from evcharging.config import DatabaseSettings, load
from evcharging.logs import LogSettings
from evcharging.sink import KafkaSink

LOG_FORMAT = "%(asctime)s central-stream %(levelname)s %(name)s: %(message)s"


class Worker(faust.Worker):
    """Faust's worker, with a shorter last pause before the loop closes.

    mode's worker sleeps a fixed second there (`_sentinel_task`), for callbacks
    still in flight. By then Faust has committed, left the group and flushed its
    producer, and the intake and the sink are closed: a tenth of a second lets
    the sockets' last callbacks run, and `docker compose stop` returns in about
    1 s instead of 2.
    """

    async def _sentinel_task(self) -> None:
        await asyncio.sleep(0.1)


def build(settings: StreamSettings, database: DatabaseSettings) -> tuple[faust.App, CentralStream]:
    app = create_app(settings)
    store = Store(database, cp_prefix=settings.cp_prefix)
    # The registry on a connection of its own: a full reload must not hold up a session's rows.
    registry_source = Store(database, cp_prefix=settings.cp_prefix)
    registry = CachedRegistry(registry_source, miss_ttl=settings.registry_miss_ttl)
    sink = KafkaSink(settings.kafka_bootstrap, client_id=f"{settings.app_id}-sink")

    central = CentralStream(app, settings, store, registry, sink)

    async def close_clients(_app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        await central.close()
        sink.close()

    app.on_before_shutdown.connect(close_clients)
    return app, central


def main() -> None:
    settings = load(StreamSettings)
    database = load(DatabaseSettings)
    level = load(LogSettings).level
    db.await_access(database)
    app, _ = build(settings, database)
    logging_config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"format": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {"aiokafka": {"level": "WARNING"}, "mysql.connector": {"level": "WARNING"}},
    }
    worker = Worker(app, loglevel=level, logging_config=logging_config, quiet=True)
    sys.argv[1:] = []
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
