"""What a charger's StatusNotifications say about its health, as a monitor reports an
engine's: KO while any connector — or the charger itself, connector 0 — is Faulted.

Every other status (Available, Preparing, Charging, Unavailable after an operator's
stop...) is a working charger: OCPP reports faults with `Faulted` alone, whatever the
error code says, so the error code does not decide the health.
"""

from __future__ import annotations

from ocpp.v16.enums import ChargePointStatus

from evcharging.messages import EngineHealth


class ConnectorStatuses:
    """The connectors that said Faulted last, and so the charger's health."""

    def __init__(self) -> None:
        self._faulted: set[int] = set()

    def record(self, connector_id: int, status: str) -> EngineHealth:
        """Take a StatusNotification; returns the charger's health after it."""
        if status == ChargePointStatus.faulted:
            self._faulted.add(connector_id)
        else:
            self._faulted.discard(connector_id)
        return self.health

    @property
    def health(self) -> EngineHealth:
        return EngineHealth.KO if self._faulted else EngineHealth.OK
