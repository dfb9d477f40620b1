"""Entry point of cp-monitor: `python -m cp_monitor [ENGINE] [CENTRAL] [CP_ID] [LOCATION] [PRICE]`."""

from __future__ import annotations

import asyncio
import contextlib

from cp_monitor.monitor import Monitor
from cp_monitor.settings import parse
from evcharging.logs import setup


def main() -> None:
    settings = parse()
    log = setup("cp-monitor")
    log.info(
        "cp-monitor is alive; engine %s:%d, central %s",
        settings.engine_host,
        settings.engine_port,
        settings.central_address,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Monitor(settings).run())


if __name__ == "__main__":
    main()
