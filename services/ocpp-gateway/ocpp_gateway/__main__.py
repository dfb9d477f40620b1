"""Entry point of ocpp-gateway: `python -m ocpp_gateway` (settings: docs/configuration.md).

Healthy means serving: the liveness file is touched by the event loop that serves the
chargers, once the chargers' transactions are read and the port is open (evcharging.health).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from evcharging import health
from evcharging.config import load
from evcharging.logs import setup
from ocpp_gateway.ledger import Ledger, read_transactions
from ocpp_gateway.network import START_WITHIN, CentralFeed, Network
from ocpp_gateway.server import Gateway, server_context
from ocpp_gateway.settings import GatewaySettings

log = logging.getLogger("ocpp-gateway")

BEAT_PERIOD = 1.0


async def serve(settings: GatewaySettings) -> None:
    """Run the gateway until SIGTERM or SIGINT; every charger's session ends with it."""
    tls = server_context(settings.tls_cert, settings.tls_key)
    transactions = await asyncio.to_thread(read_transactions, settings.kafka_bootstrap)
    network = Network(settings.kafka_bootstrap, settings.deliver_within)
    gateway = Gateway(settings, network, Ledger(network, transactions))
    loop = asyncio.get_running_loop()
    feed = CentralFeed(settings.kafka_bootstrap, loop, gateway.serves, gateway.on_command)
    feed.start()
    if not await asyncio.to_thread(feed.following.wait, START_WITHIN + 10):
        raise SystemExit("Kafka did not say where the central's commands start: see the log above")
    server = await gateway.start(tls)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    while not stopped.is_set():
        health.beat()
        try:
            async with asyncio.timeout(BEAT_PERIOD):
                await stopped.wait()
        except TimeoutError:
            pass
    log.info("stopping")
    server.close()
    await server.wait_closed()
    await asyncio.to_thread(feed.stop)
    await asyncio.to_thread(network.close)


def main() -> int:
    setup("ocpp-gateway")
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # a line per message otherwise
    logging.getLogger("websockets").setLevel(logging.WARNING)
    asyncio.run(serve(load(GatewaySettings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
