"""A charger's health from its StatusNotifications: KO while any connector is Faulted."""

from __future__ import annotations

from ocpp.v16.enums import ChargePointStatus

from evcharging.messages import EngineHealth
from ocpp_gateway.status import ConnectorStatuses

OK, KO = EngineHealth.OK, EngineHealth.KO


def test_a_charger_is_ok_until_a_connector_faults() -> None:
    statuses = ConnectorStatuses()
    assert statuses.health is OK
    assert statuses.record(1, ChargePointStatus.charging) is OK
    assert statuses.record(2, ChargePointStatus.faulted) is KO


def test_it_recovers_only_once_every_faulted_connector_is_not_faulted_any_more() -> None:
    statuses = ConnectorStatuses()
    statuses.record(0, ChargePointStatus.faulted)
    statuses.record(1, ChargePointStatus.faulted)
    assert statuses.record(0, ChargePointStatus.available) is KO
    assert statuses.record(1, ChargePointStatus.unavailable) is OK


def test_no_status_but_faulted_is_a_fault() -> None:
    statuses = ConnectorStatuses()
    for status in ChargePointStatus:
        if status is not ChargePointStatus.faulted:
            assert statuses.record(1, status) is OK, status
