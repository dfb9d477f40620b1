"""Entry point of cp-monitor: `python -m cp_monitor <cp_id> <location> <central_ip:port> <kafka_broker>`
(the seed's form) or `python -m cp_monitor [ENGINE] [CENTRAL] [CP_ID] [LOCATION] [PRICE]`
(cp_monitor.settings says how they are told apart).

SIGTERM (`docker compose stop`) or SIGINT stops it cleanly: it closes its connection
to central-auth, which at once reports the CP disconnected (the protocol has no
goodbye frame: a closed connection is the goodbye), detaches from its engine, and
exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib

from cp_monitor.monitor import Monitor
from cp_monitor.settings import parse
from evcharging.logs import setup
from evcharging.shutdown import run_until_stopped


def main() -> None:
    settings = parse()
    log = setup("cp-monitor")
    tls = settings.central_tls
    log.info(
        "cp-monitor is alive; engine %s:%d, central %s (%s)",
        settings.engine_host,
        settings.engine_port,
        settings.central_address,
        f"TLS, verified with the CA in {tls.ca_file}" if tls else "plain TCP",
    )
    if settings.kafka_broker is not None:
        log.info("Kafka broker %s: not used, the monitor reports through central-auth", settings.kafka_broker)
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C before the loop runs
        asyncio.run(run_until_stopped(Monitor(settings).run()))
    log.info("cp-monitor stopped")


if __name__ == "__main__":
    main()
