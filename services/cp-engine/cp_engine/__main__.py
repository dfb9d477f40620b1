"""Entry point of cp-engine: `python -m cp_engine <cp_id> <kafka_broker>` (the seed's
form) or `python -m cp_engine [KAFKA_BOOTSTRAP] [HEALTH_PORT]` (cp_engine.settings says
how they are told apart).

SIGTERM (`docker compose stop`) or SIGINT stops it cleanly: the loops are cancelled,
then a supply in progress is ended and reported, the producer is flushed (at most
2 s), and the process exits 0 (EngineRuntime.close).

The engine draws nothing on a terminal: it shares its container with its monitor and
logs to stderr. A person drives it with `charger screen` (the live screen) or
`charger <action>`, both clients of its control socket.
"""

from __future__ import annotations

import asyncio
import contextlib

from cp_engine import control
from cp_engine.monitor_link import MonitorLink
from cp_engine.runtime import EngineRuntime
from cp_engine.settings import Settings, parse
from evcharging.kafka import ContractProducer
from evcharging.logs import setup
from evcharging.shutdown import run_until_stopped


async def serve(settings: Settings) -> None:
    # A supply goes on while Kafka is away: its messages wait in the producer
    # (no local timeout) and are delivered when the broker is back.
    producer = ContractProducer(settings.kafka_bootstrap, "cp-engine", **{"message.timeout.ms": 0})
    runtime = EngineRuntime(settings, producer)
    try:
        await asyncio.gather(
            runtime.run(),
            MonitorLink(runtime).serve(settings.health_port),
            control.serve(runtime, settings.control_socket),
        )
    finally:
        runtime.close()


def main() -> None:
    settings = parse()
    log = setup("cp-engine")
    log.info(
        "cp-engine is alive; health checks on port %d%s",
        settings.health_port,
        f"; started as CP {settings.cp_id}, it takes no other id" if settings.cp_id else "",
    )
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C before the loop runs
        asyncio.run(run_until_stopped(serve(settings)))
    log.info("cp-engine stopped")


if __name__ == "__main__":
    main()
