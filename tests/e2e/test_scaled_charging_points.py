"""Scaled charging points on the compose stack (issue: cp-engine and cp-monitor):
N replicas are N distinct available CPs, scaling down disconnects the rest,
scaling up again reuses the same ids, and a person drives a CP with `charger`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.e2e import Stack
from tests.support.stack import make
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def scale(count: int) -> None:
    result = make("scale", f"CP={count}")
    assert result.returncode == 0, result.stdout + result.stderr


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
