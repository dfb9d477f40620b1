"""Scaled charging points on the compose stack: the user's own
`docker compose up --scale cp-engine=N` gives N whole CPs (engine and monitor in
each container) that fail and recover apart; scaling down disconnects the rest,
scaling up again reuses the same ids, and a person drives a CP with `charger`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evcharging import messages as m
from evcharging.topics import CP_STATUS
from tests.support.e2e import Stack
from tests.support.kafka import TopicTail
from tests.support.stack import compose, infra_addresses, make
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def scale(count: int) -> None:
    result = make("scale", f"CP={count}")
    assert result.returncode == 0, result.stdout + result.stderr


def states_published(tail: TopicTail, cp_id: str) -> list[str]:
    """Every state the central published for `cp_id` since `tail` began, in order."""
    return [status.state.value for status in tail.of(cp_id, CP_STATUS) if isinstance(status, m.CpStatus)]


def went_and_came_back(tail: TopicTail, cp_id: str, state: str) -> bool:
    seen = states_published(tail, cp_id)
    return state in seen and seen[-1] == "activado" and seen.index(state) < len(seen) - 1


def untouched_changed(tail: TopicTail, cps: list[str]) -> dict[str, list[str]]:
    """The CPs among `cps` that were published in any state but activado, with their states."""
    seen = {cp: states_published(tail, cp) for cp in cps}
    return {cp: states for cp, states in seen.items() if set(states) - {"activado"}}


def test_the_users_scale_command_gives_five_cps_that_fail_and_recover_apart(stack: Stack) -> None:
    up = compose("up", "-d", "--wait", "--scale", "cp-engine=5", check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    five = stack.wait_engine_ids(5)
    assert len(set(five)) == 5, f"CPs share ids: {five}"
    stack.wait_states(dict.fromkeys(five, "activado"))

    tail = TopicTail(infra_addresses().kafka_bootstrap, [CP_STATUS])
    try:
        engine_dies, monitor_dies, others = five[1], five[3], [five[0], five[2], five[4]]
        stack.kill_process(2, "engine")
        stack.kill_process(4, "monitor")
        # Nobody starts them again: supervisord does, and each CP is activado once more.
        wait_until(
            lambda: went_and_came_back(tail, engine_dies, "averiado"), 60, f"{engine_dies} averiado, back"
        )
        wait_until(
            lambda: went_and_came_back(tail, monitor_dies, "desconectado"),
            60,
            f"{monitor_dies} desconectado, back",
        )
        assert "desconectado" not in states_published(tail, engine_dies), "the engine's monitor never left"
        assert "averiado" not in states_published(tail, monitor_dies), "the monitor's engine never failed"
        assert not untouched_changed(tail, others), "the other CPs must not notice"
        stack.wait_states(dict.fromkeys(five, "activado"))
    finally:
        tail.close()


def test_a_crashed_cp_container_is_disconnected_and_comes_back_by_itself(stack: Stack) -> None:
    (first, *others) = stack.wait_engine_ids(5)
    tail = TopicTail(infra_addresses().kafka_bootstrap, [CP_STATUS])
    try:
        stack.crash_container(1)
        wait_until(
            lambda: went_and_came_back(tail, first, "desconectado"), 120, f"{first} desconectado, back"
        )
        assert not untouched_changed(tail, others), "the other CPs must not notice"
    finally:
        tail.close()
    assert stack.wait_engine_ids(1) == [first], "the restarted container is the same CP"


def test_scale_to_five_then_two_then_five_again(stack: Stack) -> None:
    scale(5)
    five = stack.wait_engine_ids(5)
    assert len(set(five)) == 5, f"engines share ids: {five}"
    stack.wait_states(dict.fromkeys(five, "activado"))

    scale(2)

    def two_left() -> dict[str, str] | None:
        states = {cp: stack.cps()[cp]["state"] for cp in five}
        active = [cp for cp, state in states.items() if state == "activado"]
        gone = [cp for cp, state in states.items() if state == "desconectado"]
        return states if (len(active), len(gone)) == (2, 3) else None

    wait_until(two_left, 60, "two CPs available and three disconnected", interval=1)

    scale(5)
    again = stack.wait_engine_ids(5)
    assert set(again) == set(five), "scaling up again must reuse the same ids"
    stack.wait_states(dict.fromkeys(again, "activado"))


def test_a_person_drives_a_cp_with_the_charger_command(stack: Stack) -> None:
    (cp_id,) = stack.wait_engine_ids(1)
    stack.wait_states({cp_id: "activado"})

    assert stack.charger(1, "fault")["ok"]
    stack.wait_states({cp_id: "averiado"}, timeout=10)
    assert stack.charger(1, "clear")["ok"]
    stack.wait_states({cp_id: "activado"}, timeout=10)

    assert stack.charger(1, "request", "DRV003")["ok"]
    tiles = stack.wait_states({cp_id: "suministrando"}, timeout=30)
    assert tiles[cp_id]["driver_id"] == "DRV003"
    stack.wait_states({cp_id: "activado"}, timeout=60)  # automatic mode unplugs after a while

    tickets = wait_until(
        lambda: [t for t in stack.driver("DRV003", "tickets") if t.get("cp_id") == cp_id],
        60,
        "DRV003's ticket for the supply started at the CP",
        interval=1,
    )
    assert Decimal(tickets[-1]["kwh"]) > 0
