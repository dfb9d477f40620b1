"""The events a CP session produces, in order, from what happens on its connection."""

from __future__ import annotations

from central_auth.liveness import CpSession
from evcharging import topics
from evcharging.messages import CpConnected, CpDisconnected, EngineHealth, Fault, Recovery

OK, KO = EngineHealth.OK, EngineHealth.KO


def _session(health: EngineHealth = OK) -> CpSession:
    return CpSession("CP001", "conn-1", health, last_heard=100.0)


def test_authenticating_with_a_healthy_engine_announces_the_connection_only() -> None:
    ((topic, message),) = _session(OK).opened()
    assert topic is topics.CP_CONNECTIONS
    assert isinstance(message, CpConnected)
    assert (message.cp_id, message.connection_id, message.engine_health) == ("CP001", "conn-1", OK)


def test_authenticating_with_a_faulty_engine_also_reports_the_fault() -> None:
    events = _session(KO).opened()
    assert [type(message) for _, message in events] == [CpConnected, Fault]
    assert events[1][0] is topics.FAULTS


def test_health_changes_become_fault_then_recovery_and_repeats_say_nothing() -> None:
    session = _session(OK)
    assert session.heartbeat(OK, 101.0) == []
    ((fault_topic, fault),) = session.heartbeat(KO, 102.0)
    assert session.heartbeat(KO, 103.0) == []
    ((recovery_topic, recovery),) = session.heartbeat(OK, 104.0)
    assert (fault_topic, type(fault)) == (topics.FAULTS, Fault)
    assert (recovery_topic, type(recovery)) == (topics.RECOVERIES, Recovery)


def test_each_heartbeat_pushes_the_deadline() -> None:
    session = _session()
    assert session.deadline(3.0) == 103.0
    session.heartbeat(OK, 102.5)
    assert session.deadline(3.0) == 105.5


def test_the_disconnection_is_announced_exactly_once() -> None:
    session = _session()
    ((topic, message),) = session.close("heartbeat timeout")
    assert topic is topics.CP_CONNECTIONS
    assert isinstance(message, CpDisconnected)
    assert (message.connection_id, message.detail) == ("conn-1", "heartbeat timeout")
    assert session.close("connection closed") == []
    assert session.heartbeat(KO, 200.0) == []


def test_every_event_is_keyed_by_the_cp() -> None:
    session = _session(KO)
    events = [*session.opened(), *session.heartbeat(OK, 101.0), *session.close("bye")]
    assert {getattr(message, "cp_id", None) for _, message in events} == {"CP001"}
    assert all(topic.key == "cp_id" for topic, _ in events)
