"""What an authenticated connection tells Kafka: the pure rules of one CP session.

A session turns what happens on a connection (authenticated, a heartbeat with the
engine's health, closed, silent too long) into the contract's events, in order:

    authenticated      -> CpConnected (+ Fault when the engine is already KO)
    heartbeat OK -> KO -> Fault
    heartbeat KO -> OK -> Recovery
    closed or silent   -> CpDisconnected, exactly once

central-stream derives the CP's state from these (SPEC.md, "How the state follows").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evcharging import topics
from evcharging.messages import CpConnected, CpDisconnected, EngineHealth, Fault, Message, Recovery
from evcharging.topics import Topic

Event = tuple[Topic, Message]

ENGINE_KO_DETAIL = "engine reported KO to its monitor"


@dataclass
class CpSession:
    cp_id: str
    connection_id: str
    engine_health: EngineHealth
    last_heard: float
    """Monotonic time of the last heartbeat (or of the authentication)."""
    closed: bool = field(default=False, init=False)

    def opened(self) -> list[Event]:
        events: list[Event] = [
            (
                topics.CP_CONNECTIONS,
                CpConnected(
                    cp_id=self.cp_id, connection_id=self.connection_id, engine_health=self.engine_health
                ),
            )
        ]
        if self.engine_health is EngineHealth.KO:
            events.append((topics.FAULTS, Fault(cp_id=self.cp_id, detail=ENGINE_KO_DETAIL)))
        return events

    def heartbeat(self, health: EngineHealth, now: float) -> list[Event]:
        self.last_heard = now
        if self.closed or health is self.engine_health:
            return []
        self.engine_health = health
        if health is EngineHealth.KO:
            return [(topics.FAULTS, Fault(cp_id=self.cp_id, detail=ENGINE_KO_DETAIL))]
        return [(topics.RECOVERIES, Recovery(cp_id=self.cp_id))]

    def deadline(self, timeout: float) -> float:
        """When the session expires unless another heartbeat arrives."""
        return self.last_heard + timeout

    def close(self, detail: str) -> list[Event]:
        """The connection ended, for the reason in `detail`. Only the first call counts."""
        if self.closed:
            return []
        self.closed = True
        return [
            (
                topics.CP_CONNECTIONS,
                CpDisconnected(cp_id=self.cp_id, connection_id=self.connection_id, detail=detail[:200]),
            )
        ]
