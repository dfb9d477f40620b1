"""One charger's OCPP 1.6J conversation: what each message it sends means to the network.

The `ocpp` library routes each call to the handler below that names its action,
checks its payload against the OCPP JSON schema first (a malformed call gets a
CallError naming the problem, and the conversation goes on), and answers an action
without a handler with a NotImplemented CallError; a handler that fails (Kafka did not
take a transaction message) is answered with an InternalError CallError, and the
charger sends the message again. docs/ocpp.md has the whole mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result, datatypes
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointStatus,
    RegistrationStatus,
    RemoteStartStopStatus,
)

from evcharging import messages as m
from ocpp_gateway.central import CpSession
from ocpp_gateway.ledger import Ledger
from ocpp_gateway.network import Outbox
from ocpp_gateway.status import ConnectorStatuses
from ocpp_gateway.supply import Supplies

CONNECTOR = 1
"""The connector a remote start asks for: a CP of the network supplies one vehicle at a time."""
WHOLE_CHARGER = 0

log = logging.getLogger(__name__)


class Charger(ChargePoint):  # type: ignore[misc]  # the ocpp library has no type hints
    """The central system's side of one charger's WebSocket."""

    def __init__(
        self,
        connection: Any,
        link: CpSession,
        heartbeat_interval: int,
        supplies: tuple[Outbox, Ledger, float],
    ) -> None:
        """`supplies`: where its records go, the chargers' transactions, and how long the
        central has to answer a driver's authorisation at the charger."""
        super().__init__(link.cp_id, connection)
        self._link = link
        self._heartbeat_interval = heartbeat_interval
        self._statuses = ConnectorStatuses()
        outbox, ledger, authorize_within = supplies
        self.supplies = Supplies(link.cp_id, outbox, ledger, self, authorize_within)
        self._commands: asyncio.Queue[m.Message] = asyncio.Queue()

    async def converse(self) -> None:
        """Serve the charger's calls and carry out the central's commands, in order."""
        obeying = asyncio.create_task(self._obey())
        try:
            await self.start()
        finally:
            obeying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await obeying

    def command(self, command: m.Message) -> None:
        """A command of the central for this charger, carried out after those before it."""
        self._commands.put_nowait(command)

    async def _obey(self) -> None:
        while True:
            command = await self._commands.get()
            try:
                await self.supplies.obey(command)
            except Exception:
                log.exception("%s: could not carry out %s", self.id, type(command).__name__)

    @on(Action.boot_notification)  # type: ignore[untyped-decorator]
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        """Accepted: the charger's CP session is open (its password was checked at the
        handshake); Rejected once central-auth has refused the CP since."""
        status = RegistrationStatus.rejected if self._link.refused else RegistrationStatus.accepted
        log.info("%s: boot of a %s %s: %s", self.id, charge_point_vendor, charge_point_model, status.value)
        return call_result.BootNotification(
            current_time=_now(), interval=self._heartbeat_interval, status=status
        )

    @on(Action.heartbeat)  # type: ignore[untyped-decorator]
    def on_heartbeat(self) -> Any:
        """The charger's clock check; its liveness is the WebSocket's pings (docs/ocpp.md)."""
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)  # type: ignore[untyped-decorator]
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **_: Any) -> Any:
        """Faulted on any connector is the engine's KO (averiado); the CP's health goes to
        central-auth with a heartbeat sent at once."""
        health = self._statuses.record(connector_id, status)
        if status == ChargePointStatus.faulted:
            log.warning("%s: connector %d faulted (%s)", self.id, connector_id, error_code)
        self._link.report(health)
        return call_result.StatusNotification()

    @on(Action.authorize)  # type: ignore[untyped-decorator]
    async def on_authorize(self, id_tag: str) -> Any:
        """A driver's card at the charger (idTag = driver id): a supply request here."""
        status = await self.supplies.authorize(id_tag)
        return call_result.Authorize(id_tag_info=datatypes.IdTagInfo(status=status))

    @on(Action.start_transaction)  # type: ignore[untyped-decorator]
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        """The supply starts: its transaction is kept (the Ledger) before it is answered."""
        transaction_id, status = await self.supplies.start(id_tag, meter_start, timestamp)
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=datatypes.IdTagInfo(status=status)
        )

    @on(Action.meter_values)  # type: ignore[untyped-decorator]
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], transaction_id: int | None = None
    ) -> Any:
        """The supply's telemetry, answered once Kafka has it."""
        await self.supplies.meter(transaction_id, meter_value)
        return call_result.MeterValues()

    @on(Action.stop_transaction)  # type: ignore[untyped-decorator]
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, reason: str | None = None, **_: Any
    ) -> Any:
        """The supply's end, with the meter's final figure: the ticket bills exactly it."""
        await self.supplies.stop(transaction_id, meter_stop, timestamp, reason)
        return call_result.StopTransaction()

    # --- the central system's calls (supply.Remote) ---------------------------------

    async def remote_start(self, driver_id: str) -> bool:
        answer = await self._ask(call.RemoteStartTransaction(id_tag=driver_id, connector_id=CONNECTOR))
        return answer is not None and answer.status == RemoteStartStopStatus.accepted

    async def remote_stop(self, transaction_id: int) -> bool:
        answer = await self._ask(call.RemoteStopTransaction(transaction_id=transaction_id))
        return answer is not None and answer.status == RemoteStartStopStatus.accepted

    async def set_available(self, available: bool) -> bool:
        kind = AvailabilityType.operative if available else AvailabilityType.inoperative
        answer = await self._ask(call.ChangeAvailability(connector_id=WHOLE_CHARGER, type=kind))
        return answer is not None and answer.status != AvailabilityStatus.rejected

    async def _ask(self, request: Any) -> Any:
        """The charger's answer to a call; None (logged) when it gives none in time."""
        try:
            answer = await self.call(request)
        except TimeoutError:
            log.warning("%s: no answer to %s", self.id, type(request).__name__)
            return None
        log.info("%s: %s answered %s", self.id, type(request).__name__, getattr(answer, "status", answer))
        return answer


def _now() -> str:
    return datetime.now(UTC).isoformat()
