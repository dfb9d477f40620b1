"""central-auth's proof of life: a CentralAuthBeacon every second on `latidos_central_auth`.

Without it, a reader of `estado_cp` cannot tell a quiet central-auth from a dead
one: the compacted topic keeps saying `activado` for CPs whose monitors nobody is
listening to (issue 13). The beacons are sent from the event loop that serves the
monitors, so a hung loop falls silent too, and they start only once the restart
has been announced and the port is open: a beacon means "I am serving".
"""

from __future__ import annotations

import asyncio
import logging

from central_auth.service import AuthService
from evcharging import topics
from evcharging.messages import CentralAuthBeacon

log = logging.getLogger(__name__)


def beacon_of(service: AuthService) -> CentralAuthBeacon:
    """What a reader needs to judge this run: who it is, since when, how many CPs it holds."""
    return CentralAuthBeacon(
        incarnation=service.incarnation,
        started_at=service.started_at,
        connected_cps=len(service.registry),
    )


async def send_beacons(service: AuthService, interval: float) -> None:
    """Run until cancelled: one beacon now, then one every `interval` seconds."""
    log.info("beacons every %g s on %s", interval, topics.CENTRAL_AUTH_BEACONS.name)
    while True:
        service.publisher.signal(topics.CENTRAL_AUTH_BEACONS, beacon_of(service))
        await asyncio.sleep(interval)
