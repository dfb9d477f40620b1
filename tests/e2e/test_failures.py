"""SPEC's failure table on the real compose stack: kill (SIGKILL) a component in
the middle of a supply, start it again, and count what was stored afterwards:
every ticket exactly once, billed kWh equal to what the engine reported, and
every service back to healthy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from evcharging import messages as m
from evcharging.topics import CP_STATUS, SUPPLY_ENDED, TELEMETRY, TICKETS, Topic
from tests.support.e2e import Stack, containers, healthy, save_figures, supplying_energy
from tests.support.kafka import TopicTail
from tests.support.stack import compose, infra_addresses
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

T = TypeVar("T", m.SupplyEnded, m.Telemetry)


RECOVERY: dict[str, float] = {}
"""Seconds from the SIGKILL until the component serves again, per component."""


@pytest.fixture(scope="module", autouse=True)
def recovery_report() -> Iterator[None]:
    yield
    save_figures("recovery", RECOVERY)


def crash(service: str) -> Callable[[], None]:
    def kill_and_start() -> None:
        killed = time.monotonic()
        compose("kill", "-s", "SIGKILL", service)
        compose("start", service)
        wait_until(lambda: healthy(service), 180, f"{service} to be healthy again", interval=0.5)
        RECOVERY[service] = round(time.monotonic() - killed, 1)

    return kill_and_start


def all_healthy() -> bool:
    running = containers()
    return bool(running) and all(c["Health"] in ("healthy", "") for c in running)


@dataclass(frozen=True)
class Billed:
    ticket_id: str
    kwh: Decimal
    ended_by: str


def supply_through(
    stack: Stack, cp: str, driver_id: str, disruption: Callable[[], None]
) -> tuple[Billed, Decimal]:
    """Charge at `cp`, disrupt the system mid-supply, and return what was billed
    and the energy the engine reported, once the supply has ended."""
    observer = TopicTail(infra_addresses().kafka_bootstrap, [TELEMETRY, SUPPLY_ENDED, TICKETS])
    earlier = {row["id"] for row in supplies(stack, cp, driver_id)}
    charging = stack.start_driver(driver_id, "charge", cp)
    try:
        wait_until(lambda: supplying_energy(stack, cp), 30, f"{cp} to supply energy")
        disruption()
        row = wait_until(
            lambda: ended_supply(stack, cp, driver_id, earlier),
            180,
            f"{driver_id}'s supply at {cp} to be billed",
            1,
        )
    finally:
        charging.kill()
    session = row["id"]
    reported = reported_energy(observer, cp, session, engine_ended=row["estado"] != "fault")

    def tickets_of_session() -> list[m.Ticket]:
        return [
            t for t in observer.of(driver_id, TICKETS) if isinstance(t, m.Ticket) and t.ticket_id == session
        ]

    # The observer may still be reconnecting after a Kafka crash: wait for what was stored.
    tickets = wait_until(tickets_of_session, 60, f"the ticket of {session} on Kafka")
    observer.close()
    # At-least-once delivery may repeat a message after a crash, with the same message id,
    # which every consumer drops: what must be unique is the ticket itself.
    distinct = {(t.message_id, t.kwh, t.total_eur) for t in tickets}
    assert len(distinct) == 1, f"{len(distinct)} different tickets on Kafka for session {session}: {tickets}"
    assert tickets[0].kwh == row["consumo_kwh"]
    return Billed(session, row["consumo_kwh"], row["estado"]), reported


def supplies(stack: Stack, cp: str, driver_id: str) -> list[dict[str, Any]]:
    return stack.query("SELECT * FROM suministros WHERE cp_id = %s AND conductor_id = %s", cp, driver_id)


def ended_supply(stack: Stack, cp: str, driver_id: str, earlier: set[str]) -> dict[str, Any] | None:
    """The supply of this request once it has ended: the one row that was not there
    before it (a start-time window also caught the previous test's, when that one
    had ended only seconds before)."""
    rows = [row for row in supplies(stack, cp, driver_id) if row["id"] not in earlier]
    assert len(rows) <= 1, f"{len(rows)} supplies stored for one request: {rows}"
    return rows[0] if rows and rows[0]["estado"] != "en_curso" else None


def reported_energy(observer: TopicTail, cp: str, session: str, engine_ended: bool) -> Decimal:
    """The final figure the engine sent: its SupplyEnded when it ended the supply
    (unplugged, stopped), or else — it died — its last telemetry."""

    def of_session(topic: Topic, kind: type[T]) -> list[T]:
        return [e for e in observer.of(cp, topic) if isinstance(e, kind) and e.session_id == session]

    if engine_ended:
        ended = wait_until(
            lambda: of_session(SUPPLY_ENDED, m.SupplyEnded), 60, f"the end report of {session}"
        )
        return ended[-1].kwh
    telemetry = wait_until(lambda: of_session(TELEMETRY, m.Telemetry), 60, f"the telemetry of {session}")
    return max(t.kwh for t in telemetry)


def back_to_normal(stack: Stack, cp: str) -> None:
    wait_until(all_healthy, 180, "every service to be healthy again", interval=2)
    stack.wait_states({cp: "activado"}, timeout=120)


@pytest.mark.parametrize(
    "service",
    ["central-auth", "central-stream", "central-web", "kafka", "mariadb"],
)
def test_a_central_or_infrastructure_crash_loses_nothing(stack: Stack, cp_id: str, service: str) -> None:
    billed, reported = supply_through(stack, cp_id, "DRV009", crash(service))
    assert billed.kwh == reported
    assert billed.ended_by == "unplugged"
    back_to_normal(stack, cp_id)


def comes_back_after(stack: Stack, cp_id: str, state: str, component: str, crash: Callable[[], None]) -> None:
    """Crash `component` of the CP, see the CP published in `state`, then activado
    again with nobody's help: its container's supervisor or restart policy."""
    states = TopicTail(infra_addresses().kafka_bootstrap, [CP_STATUS])
    killed = time.monotonic()
    try:
        crash()
        wait_until(lambda: state in published_states(states, cp_id), 10, f"{cp_id} to be {state}")
    finally:
        states.close()
    stack.wait_states({cp_id: "activado"}, timeout=120)
    RECOVERY[component] = round(time.monotonic() - killed, 1)


def published_states(tail: TopicTail, cp_id: str) -> list[str]:
    return [status.state.value for status in tail.of(cp_id, CP_STATUS) if isinstance(status, m.CpStatus)]


def test_an_engine_crash_is_a_fault_billed_up_to_its_last_report(stack: Stack, cp_id: str) -> None:
    def kill_engine() -> None:
        comes_back_after(stack, cp_id, "averiado", "engine process", lambda: stack.kill_process(1, "engine"))

    billed, reported = supply_through(stack, cp_id, "DRV010", kill_engine)
    assert (billed.kwh, billed.ended_by) == (reported, "fault")
    back_to_normal(stack, cp_id)


def test_a_monitor_crash_disconnects_the_cp_but_not_the_supply(stack: Stack, cp_id: str) -> None:
    def kill_monitor() -> None:
        comes_back_after(
            stack, cp_id, "desconectado", "monitor process", lambda: stack.kill_process(1, "monitor")
        )

    billed, reported = supply_through(stack, cp_id, "DRV011", kill_monitor)
    assert billed.kwh == reported
    back_to_normal(stack, cp_id)


def test_a_cp_container_crash_is_billed_up_to_its_last_report(stack: Stack, cp_id: str) -> None:
    def crash_cp() -> None:
        comes_back_after(stack, cp_id, "desconectado", "CP container", lambda: stack.crash_container(1))

    billed, reported = supply_through(stack, cp_id, "DRV008", crash_cp)
    assert billed.kwh == reported
    back_to_normal(stack, cp_id)


def test_a_driver_crash_leaves_the_ticket_waiting_for_it(stack: Stack, cp_id: str) -> None:
    billed, reported = supply_through(stack, cp_id, "DRV012", crash("driver"))
    assert (billed.kwh, billed.ended_by) == (reported, "unplugged")
    shown = wait_until(
        lambda: [t for t in stack.driver("DRV012", "tickets") if t["ticket_id"] == billed.ticket_id],
        60,
        "the driver to show the ticket when it comes back",
        interval=1,
    )
    assert Decimal(shown[0]["kwh"]) == billed.kwh
    back_to_normal(stack, cp_id)
