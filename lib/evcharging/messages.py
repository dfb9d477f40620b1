"""Every message that travels on Kafka, as typed, versioned, validated records.

Each record carries `type` (which record it is), `version` (its schema version),
`message_id` (so every sink can drop a redelivered copy) and `sent_at`.
Money and energy are `Decimal` and travel as JSON strings, so no float ever
rounds a bill. Records are frozen: a received message is a fact, not a draft.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION: Final = 1

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"),
    Field(description="1–32 letters, digits, '_', '.' or '-', starting with a letter or digit"),
]
"""CP and driver ids: short, printable, safe in a log line, a key and a URL."""

Kwh = Annotated[Decimal, Field(ge=0, max_digits=11, decimal_places=3, description="energy, kWh")]
Kw = Annotated[Decimal, Field(ge=0, max_digits=8, decimal_places=3, description="power, kW")]
Euros = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, description="money, €")]
PricePerKwh = Annotated[Decimal, Field(gt=0, max_digits=6, decimal_places=3, description="price, € per kWh")]
Sequence = Annotated[int, Field(ge=0, description="per-session counter, starts at 0")]
TimeFactor = Annotated[
    Decimal,
    Field(
        gt=0,
        max_digits=8,
        decimal_places=3,
        description="seconds of charging that each real second stands for: 1, or more when a demo CP "
        "runs its clock fast (CP_TIME_FACTOR); shown as 'simulated time ×N'",
    ),
]
SupplySeconds = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=12,
        decimal_places=3,
        description="seconds of charging, in the CP's time",
    ),
]
_CHARGING_TIME = (
    "seconds of charging that `kwh` covers, in the CP's time (real seconds × `time_factor`), so "
    "kwh = average kW × duration_s / 3600; ≥ 0; 3 decimals at most; absent from older senders"
)


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class CpState(StrEnum):
    """The states of SPEC.md, spelled as stored in `charging_points.estado`."""

    DISCONNECTED = "desconectado"
    ACTIVE = "activado"
    STOPPED = "parado"
    SUPPLYING = "suministrando"
    FAULTY = "averiado"


class DenialReason(StrEnum):
    UNKNOWN_DRIVER = "unknown_driver"
    UNKNOWN_CP = "unknown_cp"
    CP_BUSY = "cp_busy"
    CP_STOPPED = "cp_stopped"
    CP_FAULTY = "cp_faulty"
    CP_DISCONNECTED = "cp_disconnected"
    REQUEST_EXPIRED = "request_expired"


class EndReason(StrEnum):
    """How a supply ended; printed on the ticket."""

    UNPLUGGED = "unplugged"
    FAULT = "fault"
    OPERATOR_STOP = "operator_stop"
    DISCONNECTED = "disconnected"


class EngineHealth(StrEnum):
    OK = "OK"
    KO = "KO"


class RequestOrigin(StrEnum):
    DRIVER = "driver"
    CP = "cp"


class OperatorAction(StrEnum):
    STOP = "stop"
    RESUME = "resume"


class Message(BaseModel):
    """Fields every record has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = SCHEMA_VERSION
    message_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    sent_at: datetime = Field(default_factory=utc_now)


# --- driver (or CP) -> central ------------------------------------------------


class SupplyRequest(Message):
    """A driver asks to charge at a CP (or a person asks at the CP itself)."""

    type: Literal["supply_request"] = "supply_request"
    request_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    cp_id: Identifier
    driver_id: Identifier
    origin: RequestOrigin = RequestOrigin.DRIVER
    expires_at: datetime = Field(description="after this instant the request is answered 'expired'")


# --- central -> driver ----------------------------------------------------------


class SupplyAuthorised(Message):
    type: Literal["supply_authorised"] = "supply_authorised"
    request_id: str
    session_id: str
    cp_id: Identifier
    driver_id: Identifier
    price_per_kwh: PricePerKwh


class SupplyDenied(Message):
    type: Literal["supply_denied"] = "supply_denied"
    request_id: str
    cp_id: Identifier
    driver_id: Identifier
    reason: DenialReason


class SupplyUpdate(Message):
    """Live figures of the driver's own supply, relayed from the CP's telemetry."""

    type: Literal["supply_update"] = "supply_update"
    session_id: str
    cp_id: Identifier
    driver_id: Identifier
    seq: Sequence
    kw: Kw
    kwh: Kwh
    eur: Euros
    time_factor: TimeFactor = Decimal(1)
    duration_s: SupplySeconds | None = Field(default=None, description=_CHARGING_TIME)


class SupplyInterrupted(Message):
    """The supply ended before the driver unplugged (fault, operator stop)."""

    type: Literal["supply_interrupted"] = "supply_interrupted"
    session_id: str
    cp_id: Identifier
    driver_id: Identifier
    reason: EndReason


DriverResponse = Annotated[
    SupplyAuthorised | SupplyDenied | SupplyUpdate | SupplyInterrupted,
    Field(discriminator="type"),
]


class Ticket(Message):
    """The final bill of one session; `ticket_id` equals the session id."""

    type: Literal["ticket"] = "ticket"
    ticket_id: str
    cp_id: Identifier
    driver_id: Identifier
    started_at: datetime
    ended_at: datetime
    kwh: Kwh
    price_per_kwh: PricePerKwh
    total_eur: Euros
    ended_by: EndReason
    time_factor: TimeFactor = Decimal(1)
    duration_s: SupplySeconds | None = Field(
        default=None,
        description=_CHARGING_TIME + " (then the charging time is (ended_at − started_at) × time_factor)",
    )


# --- central -> CP engine -------------------------------------------------------


class StartSupply(Message):
    """The supply is authorised: wait for the vehicle to be plugged in."""

    type: Literal["start_supply"] = "start_supply"
    cp_id: Identifier
    session_id: str
    driver_id: Identifier
    price_per_kwh: PricePerKwh


class EndSupply(Message):
    """Stop supplying now and report the final figures."""

    type: Literal["end_supply"] = "end_supply"
    cp_id: Identifier
    session_id: str
    reason: EndReason


class StopCp(Message):
    type: Literal["stop_cp"] = "stop_cp"
    cp_id: Identifier


class ResumeCp(Message):
    type: Literal["resume_cp"] = "resume_cp"
    cp_id: Identifier


CpCommand = Annotated[StartSupply | EndSupply | StopCp | ResumeCp | SupplyDenied, Field(discriminator="type")]


# --- CP engine -> central -------------------------------------------------------


class Telemetry(Message):
    """Sent every second while supplying; `seq` orders them within a session."""

    type: Literal["telemetry"] = "telemetry"
    cp_id: Identifier
    session_id: str
    seq: Sequence
    kw: Kw
    kwh: Kwh
    eur: Euros
    time_factor: TimeFactor = Decimal(1)
    duration_s: SupplySeconds | None = Field(default=None, description=_CHARGING_TIME)


class SupplyEnded(Message):
    """The vehicle was unplugged (or the supply was cut): final figures."""

    type: Literal["supply_ended"] = "supply_ended"
    cp_id: Identifier
    session_id: str
    seq: Sequence
    kwh: Kwh
    eur: Euros
    reason: EndReason = EndReason.UNPLUGGED
    time_factor: TimeFactor = Decimal(1)
    duration_s: SupplySeconds | None = Field(default=None, description=_CHARGING_TIME)


class EngineStarted(Message):
    """The engine started afresh and was given its CP id. Whatever supply it had in
    a previous life (the engine or its whole container crashed) is over: it holds
    none now, and no report of it will ever come. The central bills such a supply
    up to its last report."""

    type: Literal["engine_started"] = "engine_started"
    cp_id: Identifier


EngineReport = Annotated[SupplyEnded | EngineStarted, Field(discriminator="type")]
"""What `fin_suministro` carries: the engine's word that a supply is over."""


# --- ocpp-gateway -> ocpp-gateway (its own memory) ------------------------------


class OcppTransaction(Message):
    """An OCPP charger's transaction and the network's supply it carries: the one fact
    the gateway needs to take a charger's queued MeterValues and StopTransaction after
    a restart (the charger names the transaction by the id the gateway gave it)."""

    type: Literal["ocpp_transaction"] = "ocpp_transaction"
    cp_id: Identifier
    transaction_id: int = Field(ge=1, le=2**31 - 1, description="the OCPP transactionId given to the charger")
    session_id: str
    driver_id: Identifier
    price_per_kwh: PricePerKwh
    meter_start_wh: int = Field(ge=0, description="the charger's energy register at the start, Wh")
    started_at: datetime = Field(description="the start, by the charger's clock")
    ended: bool = Field(default=False, description="its StopTransaction was delivered")


# --- CP monitor / central-auth -> central ---------------------------------------


class Fault(Message):
    type: Literal["fault"] = "fault"
    cp_id: Identifier
    detail: str = Field(default="", max_length=200)


class Recovery(Message):
    type: Literal["recovery"] = "recovery"
    cp_id: Identifier


class CpConnected(Message):
    """A monitor authenticated its CP with central-auth."""

    type: Literal["cp_connected"] = "cp_connected"
    cp_id: Identifier
    connection_id: str
    engine_health: EngineHealth


class CpDisconnected(Message):
    """The monitor's connection closed, or its heartbeats stopped."""

    type: Literal["cp_disconnected"] = "cp_disconnected"
    cp_id: Identifier
    connection_id: str
    detail: str = Field(default="", max_length=200)


CpConnectionEvent = Annotated[CpConnected | CpDisconnected, Field(discriminator="type")]


# --- central-auth -> everyone: proof that it is alive -----------------------------


class CentralAuthBeacon(Message):
    """central-auth is serving: published every second, so a reader that stops hearing
    it knows no CP can connect and no state is being vouched for. `started_at` is when
    this run began; a state published before it predates the run's restart announcement."""

    type: Literal["central_auth_beacon"] = "central_auth_beacon"
    incarnation: str = Field(
        min_length=1, max_length=64, description="this run of central-auth; new at every start"
    )
    started_at: datetime = Field(description="when this run started")
    connected_cps: int = Field(ge=0, description="CPs whose monitor is authenticated now")


# --- central-web -> central -----------------------------------------------------


class OperatorCommand(Message):
    """Stop or resume one CP. "All CPs" is sent as one command per CP, keyed by
    each CP, so every command reaches the worker that owns that CP."""

    type: Literal["operator_command"] = "operator_command"
    cp_id: Identifier
    action: OperatorAction
    operator: str = Field(min_length=1, max_length=64)
    batch_id: str | None = Field(default=None, description="shared by the commands of one 'all CPs' action")


# --- central -> everyone: the compacted status of each CP -----------------------


class CpStatus(Message):
    """The latest known state of a CP, with its live supply when it has one."""

    type: Literal["cp_status"] = "cp_status"
    cp_id: Identifier
    state: CpState
    location: str = Field(max_length=120)
    price_per_kwh: PricePerKwh
    driver_id: Identifier | None = None
    session_id: str | None = None
    kw: Kw | None = None
    kwh: Kwh | None = None
    eur: Euros | None = None
    time_factor: TimeFactor = Decimal(1)
    duration_s: SupplySeconds | None = Field(default=None, description=_CHARGING_TIME)


# --- any consumer -> dead letters -----------------------------------------------


class DeadLetter(Message):
    """A message that could not be processed, kept with the reason."""

    type: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    partition: int
    offset: int
    key: str | None
    payload: str = Field(description="the original bytes, decoded as UTF-8 with replacement")
    reason: str
    service: str
