"""Every Kafka topic: its name, what it carries, what keys it, how it is partitioned.

All CP-keyed topics share one partition count, so one central-stream worker owns
every event of a CP, in order (ARCHITECTURE.md, "Key by CP"). Changing
PARTITIONS after topics exist needs new topics: Kafka cannot re-partition keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

from evcharging import messages as m

PARTITIONS = 6
"""Up to this many central-stream workers can share the load."""

KeyField = Literal["cp_id", "driver_id"]


@dataclass(frozen=True)
class Topic:
    name: str
    schema: Any
    key: KeyField | None
    produced_by: str
    consumed_by: str
    purpose: str
    partitions: int = PARTITIONS
    compacted: bool = False
    retention_ms: int | None = None
    """Delete records older than this (None: the broker's default)."""

    @property
    def adapter(self) -> TypeAdapter[Any]:
        return _adapters[self.name]

    @property
    def is_union(self) -> bool:
        """True when the topic carries several record types, told apart by `type`."""
        return not (isinstance(self.schema, type) and issubclass(self.schema, m.Message))


SUPPLY_REQUESTS = Topic(
    "solicitudes_suministro",
    m.SupplyRequest,
    "cp_id",
    "driver, cp-engine and ocpp-gateway (supply started at the CP)",
    "central-stream",
    "Requests to charge at a CP.",
)
DRIVER_RESPONSES = Topic(
    "respuestas_conductor",
    m.DriverResponse,
    "driver_id",
    "central-stream",
    "driver",
    "Authorisations, denials, live supply updates and interruptions, for one driver.",
)
CP_COMMANDS = Topic(
    "comandos_cp",
    m.CpCommand,
    "cp_id",
    "central-stream",
    "cp-engine (only its own partition), ocpp-gateway (for its chargers)",
    "Start or end a supply, stop or resume the CP; the denial of a supply asked for at the CP.",
)
TELEMETRY = Topic(
    "telemetria_cp",
    m.Telemetry,
    "cp_id",
    "cp-engine, ocpp-gateway",
    "central-stream",
    "Power, energy and cost of the supply in progress, every second.",
)
SUPPLY_ENDED = Topic(
    "fin_suministro",
    m.EngineReport,
    "cp_id",
    "cp-engine, ocpp-gateway",
    "central-stream",
    "The vehicle was unplugged or the supply cut: final figures; or the engine started"
    " afresh, so any supply it had is over.",
)
FAULTS = Topic(
    "averias",
    m.Fault,
    "cp_id",
    "central-auth (for the monitor)",
    "central-stream",
    "The CP's engine answers KO or not at all.",
)
RECOVERIES = Topic(
    "recuperacion_cp",
    m.Recovery,
    "cp_id",
    "central-auth (for the monitor)",
    "central-stream",
    "The CP's engine answers OK again.",
)
TICKETS = Topic(
    "tickets",
    m.Ticket,
    "driver_id",
    "central-stream",
    "driver, central-web",
    "The final bill of a session.",
)
CP_CONNECTIONS = Topic(
    "conexiones_cp",
    m.CpConnectionEvent,
    "cp_id",
    "central-auth",
    "central-stream",
    "A CP's monitor authenticated, or its connection or heartbeats were lost.",
)
OPERATOR_COMMANDS = Topic(
    "comandos_operador",
    m.OperatorCommand,
    "cp_id",
    "central-web",
    "central-stream",
    "Stop or resume a CP, from the operator.",
)
CP_STATUS = Topic(
    "estado_cp",
    m.CpStatus,
    "cp_id",
    "central-stream",
    "driver, central-web",
    "The latest state of every CP (compacted: the last record per CP is kept).",
    compacted=True,
)
DEAD_LETTERS = Topic(
    "mensajes_rechazados",
    m.DeadLetter,
    None,
    "every consumer",
    "operators",
    "Messages that did not parse or could not be applied, with the reason.",
    partitions=1,
)
CENTRAL_AUTH_BEACONS = Topic(
    "latidos_central_auth",
    m.CentralAuthBeacon,
    None,
    "central-auth, every second",
    "central-web",
    "central-auth is alive and serving; silence means no state is vouched for.",
    partitions=1,
    retention_ms=3_600_000,
)
OCPP_TRANSACTIONS = Topic(
    "transacciones_ocpp",
    m.OcppTransaction,
    "cp_id",
    "ocpp-gateway",
    "ocpp-gateway (when it starts)",
    "Each OCPP charger's last transaction and its supply (compacted: the last record per CP is kept).",
    compacted=True,
)

ALL: tuple[Topic, ...] = (
    SUPPLY_REQUESTS,
    DRIVER_RESPONSES,
    CP_COMMANDS,
    TELEMETRY,
    SUPPLY_ENDED,
    FAULTS,
    RECOVERIES,
    TICKETS,
    CP_CONNECTIONS,
    OPERATOR_COMMANDS,
    CP_STATUS,
    DEAD_LETTERS,
    CENTRAL_AUTH_BEACONS,
    OCPP_TRANSACTIONS,
)
BY_NAME: dict[str, Topic] = {topic.name: topic for topic in ALL}

_adapters: dict[str, TypeAdapter[Any]] = {topic.name: TypeAdapter(topic.schema) for topic in ALL}
