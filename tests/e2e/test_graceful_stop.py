"""`docker compose stop` on the real compose stack: every service stops by itself on
SIGTERM, at once, with exit status 0 — and an engine stopped in the middle of a
supply reports its end first, so the supply is billed once, for what it reported.

Compare tests/e2e/test_failures.py, where the same parts die by SIGKILL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from evcharging import messages as m
from evcharging.topics import CP_CONNECTIONS, SUPPLY_ENDED, TELEMETRY, TICKETS, Topic
from tests.support.e2e import Stack, containers, healthy, save_figures
from tests.support.kafka import TopicTail
from tests.support.stack import compose, infra_addresses
from tests.support.waiting import wait_until
from tests.support.web import next_state, stream_events

pytestmark = pytest.mark.e2e

STOP_LIMIT = 3.0
"""Seconds `docker compose stop SERVICE` may take; without a SIGTERM handler it takes
the 10 s grace period, then SIGKILL (exit status 137)."""

T = TypeVar("T", m.Telemetry, m.SupplyEnded, m.Ticket)

APPLICATION_SERVICES = ("cp-engine", "driver", "central-auth", "central-web", "central-stream")


STOP_TIMES: dict[str, float] = {}
"""Seconds each `docker compose stop` took, written to test-results/stop-times.json."""


@pytest.fixture(scope="module", autouse=True)
def stop_times_report() -> Iterator[None]:
    yield
    save_figures("stop-times", STOP_TIMES)


def all_healthy() -> bool:
    return all(healthy(service) for service in (*APPLICATION_SERVICES, "kafka", "mariadb"))


def timed_stop(service: str, label: str | None = None) -> float:
    """`docker compose stop SERVICE`, as a user types it; returns how long it took,
    after checking that every container of the service exited by itself (status 0)."""
    started = time.monotonic()
    compose("stop", service)
    took = time.monotonic() - started
    STOP_TIMES[label or service] = round(took, 2)
    statuses = {c["Name"]: (c["State"], c["ExitCode"]) for c in containers(service, all_states=True)}
    assert all(status == ("exited", 0) for status in statuses.values()), statuses
    last_words = compose("logs", "--no-log-prefix", "--tail", "40", service).stdout
    assert "Traceback" not in last_words, last_words
    return took


def start_again(service: str) -> None:
    compose("start", service)
    wait_until(lambda: healthy(service), 180, f"{service} to be healthy again", interval=0.5)


def of_session(observer: TopicTail, key: str, topic: Topic, kind: type[T], session: str) -> list[T]:
    """The messages of `kind` about `session` seen so far under `key` on `topic`."""
    found = [message for message in observer.of(key, topic) if isinstance(message, kind)]
    return [message for message in found if session_of(message) == session]


def session_of(message: m.Telemetry | m.SupplyEnded | m.Ticket) -> str:
    return message.ticket_id if isinstance(message, m.Ticket) else message.session_id


def closed_rows(stack: Stack, session: str) -> list[dict[str, Any]]:
    rows = stack.query("SELECT * FROM suministros WHERE id = %s", session)
    return [row for row in rows if row["estado"] != "en_curso"]


def test_an_engine_stopped_mid_supply_reports_the_end_and_is_billed_once(stack: Stack, cp_id: str) -> None:
    observer = TopicTail(infra_addresses().kafka_bootstrap, [TELEMETRY, SUPPLY_ENDED, TICKETS])
    charging = stack.start_driver("DRV007", "charge", cp_id)
    try:

        def energy_reported() -> list[m.Telemetry]:
            return [t for t in observer.of(cp_id, TELEMETRY) if isinstance(t, m.Telemetry) and t.kwh > 0]

        # The automatic mode unplugs AUTO_DURATION s after plugging in: stop as soon as
        # energy flows, seen in the engine's own reports, to stop in the middle of the supply.
        session = wait_until(energy_reported, 60, f"{cp_id} to report energy", interval=0.05)[0].session_id
        took = timed_stop("cp-engine", "cp-engine, mid-supply")
        assert took < STOP_LIMIT, f"docker compose stop cp-engine took {took:.1f} s"
        output = stack.finish(charging, timeout=120)
    finally:
        charging.kill()

    # What the engine said before it went: its end, and every report of the session before it.
    ends = wait_until(
        lambda: of_session(observer, cp_id, SUPPLY_ENDED, m.SupplyEnded, session), 30, f"the end of {session}"
    )
    assert len({end.message_id for end in ends}) == 1, ends
    ended = ends[0]
    assert ended.reason is m.EndReason.DISCONNECTED

    def every_report() -> list[m.Telemetry] | None:
        seen = of_session(observer, cp_id, TELEMETRY, m.Telemetry, session)
        return seen if len({t.seq for t in seen}) >= ended.seq else None

    telemetry = wait_until(every_report, 30, f"the {ended.seq} reports of {session}")
    assert sorted({t.seq for t in telemetry}) == list(range(ended.seq)), "no report may follow the end"
    reported = max(t.kwh for t in telemetry)
    assert ended.kwh == reported

    # Billed once, for exactly that energy: in MariaDB, on Kafka, and at the driver.
    (row,) = wait_until(lambda: closed_rows(stack, session), 60, f"the supply {session} to be closed")
    assert (row["consumo_kwh"], row["estado"], row["conductor_id"]) == (reported, "disconnected", "DRV007")
    tickets = wait_until(
        lambda: of_session(observer, "DRV007", TICKETS, m.Ticket, session), 60, f"the ticket of {session}"
    )
    observer.close()
    # A message may be delivered twice (at least once), always with its id: one ticket.
    assert {(t.message_id, t.kwh, t.ended_by) for t in tickets} == {
        (tickets[0].message_id, reported, "disconnected")
    }
    finished = [event for event in output if event.get("event") == "finished"]
    assert len(finished) == 1, output
    assert finished[0]["result"] == "charged", finished
    shown = finished[0]["ticket"]
    assert (shown["ticket_id"], Decimal(shown["kwh"]), shown["ended_by"]) == (
        session,
        reported,
        "disconnected",
    )

    # Started again, the engine is re-assigned its CP by its monitor and is available.
    start_again("cp-engine")
    stack.wait_states({cp_id: "activado"}, timeout=120)
    assert len(stack.query("SELECT id FROM suministros WHERE id = %s", session)) == 1


def test_a_monitor_stopped_alone_closes_its_session_at_once(stack: Stack, cp_id: str) -> None:
    """The monitor, stopped inside its CP's container, closes its session: central-auth
    sees the connection end, not a heartbeat timeout, and the engine goes on."""
    connections = TopicTail(infra_addresses().kafka_bootstrap, [CP_CONNECTIONS])
    try:
        started = time.monotonic()
        stack.supervisorctl(1, "stop", "cp:monitor")
        STOP_TIMES["monitor process"] = took = round(time.monotonic() - started, 2)
        gone = wait_until(
            lambda: [e for e in connections.of(cp_id) if isinstance(e, m.CpDisconnected)],
            30,
            f"central-auth to announce {cp_id} disconnected",
        )
    finally:
        connections.close()
    assert gone[0].detail == "connection closed by the peer", gone
    assert took < STOP_LIMIT, f"stopping the monitor took {took:.1f} s"
    said = compose("logs", "--no-log-prefix", "--since", "2m", "cp-engine").stdout
    assert "stopped: monitor (exit status 0)" in said, said[-3000:]
    assert "Traceback" not in said, said[-3000:]
    assert "RUNNING" in stack.supervisorctl(1, "status", "cp:engine")
    stack.supervisorctl(1, "start", "cp:monitor")
    stack.wait_states({cp_id: "activado"}, timeout=60)


def test_every_application_service_stops_at_once_and_starts_again(stack: Stack, cp_id: str) -> None:
    wait_until(all_healthy, 180, "every service to be healthy", interval=1)
    took: dict[str, float] = {}
    for service in APPLICATION_SERVICES:
        if service == "central-web":
            # A live viewer must not hold the stop: its stream ends at once.
            viewer = stream_events(stack.web.base, timeout=30)
            next_state(viewer)
            took[service] = timed_stop(service)
            viewer.close()
        else:
            took[service] = timed_stop(service)
        start_again(service)
    slow = {service: round(seconds, 1) for service, seconds in took.items() if seconds >= STOP_LIMIT}
    assert not slow, f"docker compose stop took {STOP_LIMIT:g} s or more: {slow} (all: {took})"
    wait_until(all_healthy, 180, "every service to be healthy again", interval=1)
    stack.wait_states({cp_id: "activado"}, timeout=120)
