"""A simulated OCPP 1.6J charger for the tests: the `ocpp` library's charge-point side over
a real WebSocket (TLS, the `ocpp1.6` sub-protocol, HTTP Basic authentication), the way
a real charger or an OCPP simulator talks to the gateway."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    RemoteStartStopStatus,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

OCPP16 = Subprotocol("ocpp1.6")


class SimulatedCharger(ChargePoint):  # type: ignore[misc]  # the ocpp library has no type hints
    """The charger's side: each method is one call, returning the central system's answer."""

    def __init__(self, charger_id: str, connection: ClientConnection) -> None:
        super().__init__(charger_id, connection, response_timeout=10)
        self.connection = connection
        self.told: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        """The central system's calls, (action, payload), in the order they came."""
        self.accept_remote_start = True

    async def next_call(self, timeout: float = 20.0) -> tuple[str, dict[str, Any]]:
        async with asyncio.timeout(timeout):
            return await self.told.get()

    @on(Action.remote_start_transaction)  # type: ignore[untyped-decorator]
    def on_remote_start(self, **payload: Any) -> Any:
        self.told.put_nowait((Action.remote_start_transaction, payload))
        accepted = self.accept_remote_start
        status = RemoteStartStopStatus.accepted if accepted else RemoteStartStopStatus.rejected
        return call_result.RemoteStartTransaction(status=status)

    @on(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]
    def on_remote_stop(self, **payload: Any) -> Any:
        self.told.put_nowait((Action.remote_stop_transaction, payload))
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.change_availability)  # type: ignore[untyped-decorator]
    def on_change_availability(self, **payload: Any) -> Any:
        self.told.put_nowait((Action.change_availability, payload))
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    async def authorize(self, id_tag: str) -> Any:
        return await self.call(call.Authorize(id_tag=id_tag))

    async def start_transaction(self, id_tag: str, meter_start: int, at: datetime | None = None) -> Any:
        return await self.call(
            call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=meter_start, timestamp=_iso(at))
        )

    async def meter(
        self, transaction_id: int, wh: int, at: datetime | None = None, watts: int | None = None
    ) -> Any:
        samples: list[dict[str, Any]] = [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        ]
        if watts is not None:
            samples.append({"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"})
        return await self.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": _iso(at), "sampledValue": samples}],
            )
        )

    async def stop_transaction(
        self, transaction_id: int, meter_stop: int, at: datetime | None = None, reason: str | None = None
    ) -> Any:
        return await self.call(
            call.StopTransaction(
                transaction_id=transaction_id, meter_stop=meter_stop, timestamp=_iso(at), reason=reason
            )
        )

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


def _iso(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).isoformat()


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
