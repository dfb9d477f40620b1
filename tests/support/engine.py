"""What the cp-engine's unit tests build an EngineRuntime from, without Kafka."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cp_engine.settings import Settings
from cp_engine.simulation import Charger
from evcharging.messages import Message
from evcharging.topics import Topic

SETTINGS = Settings("unused:9092", 0, Charger(Decimal(22)), None, 1.0, Path("/nonexistent"))
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
