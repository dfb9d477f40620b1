"""What the cp-engine's unit tests build an EngineRuntime from, without Kafka."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cp_engine.settings import Settings
from evcharging.messages import Message
from evcharging.topics import Topic

SETTINGS = Settings(
    kafka_bootstrap="unused:9092",
    health_port=0,
    rated_kw=Decimal(22),
    time_factor=Decimal(1),
    auto_mode=False,
    telemetry_period=1.0,
    control_socket=Path("/nonexistent"),
)
"""A manual engine (no autopilot) that reaches no broker and serves no control socket."""


class Outbox:
    """Stands in for the Kafka producer: keeps what the engine sends."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, _topic: Topic, message: Message) -> None:
        self.sent.append(message)

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return 0
