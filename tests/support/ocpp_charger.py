"""A simulated OCPP 1.6J charger for the tests: the `ocpp` library's charge-point side over
a real WebSocket (TLS, the `ocpp1.6` sub-protocol, HTTP Basic authentication), the way
a real charger or an OCPP simulator talks to the gateway."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

OCPP16 = Subprotocol("ocpp1.6")


class SimulatedCharger(ChargePoint):  # type: ignore[misc]  # the ocpp library has no type hints
    """The charger's side: each method is one call, returning the central system's answer."""

    def __init__(self, charger_id: str, connection: ClientConnection) -> None:
        super().__init__(charger_id, connection, response_timeout=10)
        self.connection = connection

    async def boot(self) -> Any:
        return await self.call(
            call.BootNotification(charge_point_model="Test", charge_point_vendor="EVCharging")
        )

    async def heartbeat(self) -> Any:
        return await self.call(call.Heartbeat())

    async def status(
        self,
        status: ChargePointStatus,
        connector_id: int = 1,
        error_code: ChargePointErrorCode = ChargePointErrorCode.no_error,
    ) -> Any:
        return await self.call(
            call.StatusNotification(connector_id=connector_id, error_code=error_code, status=status)
        )

    async def unchecked(self, payload: Any) -> Any:
        """Send `payload` without the schema check, as a faulty charger would; a CallError
        in answer raises the library's OCPPError for it."""
        return await self.call(payload, suppress=False, skip_schema_validation=True)


def trusting(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def charger_at(
    url: str,
    charger_id: str,
    password: str | None,
    ca_file: Path,
    *,
    user: str | None = None,
    subprotocols: list[Subprotocol] | None = None,
) -> AsyncIterator[SimulatedCharger]:
    """A connected charger whose answers are read in the background; closed on exit."""
    headers = basic(user or charger_id, password) if password is not None else {}
    async with connect(
        f"{url}/ocpp/{charger_id}",
        ssl=trusting(ca_file),
        subprotocols=[OCPP16] if subprotocols is None else subprotocols,
        additional_headers=headers,
        open_timeout=20,
    ) as connection:
        charger = SimulatedCharger(charger_id, connection)
        reading = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
