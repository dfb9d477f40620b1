"""One charger's OCPP 1.6J conversation: what each message it sends means to the network.

The `ocpp` library routes each call to the handler below that names its action,
checks its payload against the OCPP JSON schema first (a malformed call gets a
CallError naming the problem, and the conversation goes on), and answers an action
without a handler with a NotImplemented CallError. docs/ocpp.md has the whole mapping.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, ChargePointStatus, RegistrationStatus

from ocpp_gateway.central import CpSession
from ocpp_gateway.status import ConnectorStatuses

log = logging.getLogger(__name__)


class Charger(ChargePoint):  # type: ignore[misc]  # the ocpp library has no type hints
    """The central system's side of one charger's WebSocket."""

    def __init__(self, connection: Any, link: CpSession, heartbeat_interval: int) -> None:
        super().__init__(link.cp_id, connection)
        self._link = link
        self._heartbeat_interval = heartbeat_interval
        self._statuses = ConnectorStatuses()

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


def _now() -> str:
    return datetime.now(UTC).isoformat()
