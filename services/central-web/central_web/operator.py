"""Operator actions: who may act, and the commands an action becomes.

The password is compared with `hmac.compare_digest`, so the time taken says
nothing about how much of a guess was right. "Stop all" becomes one
`OperatorCommand` per CP, keyed by that CP, sharing one batch id: each reaches
the central-stream worker that owns its CP (see messages.OperatorCommand).
"""

from __future__ import annotations

import hmac
import threading

from evcharging.kafka import ContractProducer
from evcharging.messages import OperatorAction, OperatorCommand, new_id
from evcharging.topics import OPERATOR_COMMANDS

DEFAULT_OPERATOR = "operator"


class PublishFailed(RuntimeError):
    """Kafka did not acknowledge the commands in time."""


def password_ok(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def operator_name(raw: str | None) -> str:
    """The name recorded on commands: what the operator typed at login, trimmed, or 'operator'."""
    name = " ".join((raw or "").split())[:64]
    return name or DEFAULT_OPERATOR


def commands_for(cp_ids: list[str], action: OperatorAction, operator: str) -> list[OperatorCommand]:
    """The commands of one action; several CPs share a batch id."""
    batch = new_id() if len(cp_ids) > 1 else None
    return [OperatorCommand(cp_id=cp, action=action, operator=operator, batch_id=batch) for cp in cp_ids]


class CommandPublisher:
    """Sends operator commands and waits for the broker's acknowledgement."""

    def __init__(self, bootstrap: str, timeout: float = 5.0) -> None:
        self._bootstrap = bootstrap
        self._timeout = timeout
        self._producer: ContractProducer | None = None
        self._lock = threading.Lock()

    def publish(self, commands: list[OperatorCommand]) -> None:
        with self._lock:
            if self._producer is None:
                self._producer = ContractProducer(
                    self._bootstrap, "central-web", **{"message.timeout.ms": int(self._timeout * 1000)}
                )
            for command in commands:
                self._producer.send(OPERATOR_COMMANDS, command)
            if self._producer.flush(self._timeout + 1) > 0:
                raise PublishFailed(f"Kafka at {self._bootstrap} did not acknowledge the command")
