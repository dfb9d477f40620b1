"""SPEC's 13 steps of a charge on the real compose stack, driven as users do:
the driver's commands, the engine's `charger`, the status page's API."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from evcharging import messages as m
from evcharging.pricing import cost
from evcharging.topics import DRIVER_RESPONSES
from tests.support.e2e import Stack
from tests.support.kafka import TopicTail
from tests.support.stack import compose, infra_addresses, make
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cps(stack: Stack) -> list[str]:
    """Three available CPs, in the order of their engine replicas."""
    scaled = make("scale", "CP=3")
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    ids = stack.wait_engine_ids(3)
    stack.wait_states(dict.fromkeys(ids, "activado"))
    return ids


@pytest.fixture
def all_resumed(stack: Stack, cps: list[str]) -> Iterator[None]:
    yield
    stack.operate("/api/resume-all")
    stack.wait_states(dict.fromkeys(cps, "activado"))


def events_of(output: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in output if event.get("event") == kind]


def outcome(output: list[dict[str, Any]]) -> dict[str, Any]:
    (finished,) = events_of(output, "finished")
    return finished


def test_request_authorise_supply_unplug_ticket(stack: Stack, cps: list[str]) -> None:
    cp_id = cps[0]
    output = stack.driver("DRV001", "charge", cp_id)
    (authorised,) = events_of(output, "authorised")
    updates = events_of(output, "update")
    assert len(updates) >= 3, output
    assert [u["seq"] for u in updates] == sorted(u["seq"] for u in updates)
    finished = outcome(output)
    assert finished["result"] == "charged", finished
    ticket = finished["ticket"]
    assert (ticket["cp_id"], ticket["driver_id"], ticket["ended_by"]) == (cp_id, "DRV001", "unplugged")
    assert Decimal(ticket["kwh"]) == Decimal(updates[-1]["kwh"])
    assert Decimal(ticket["total_eur"]) == cost(Decimal(ticket["kwh"]), Decimal(authorised["price_per_kwh"]))
    (row,) = stack.query("SELECT * FROM suministros WHERE id = %s", ticket["ticket_id"])
    assert (row["consumo_kwh"], row["importe_total"], row["estado"]) == (
        Decimal(ticket["kwh"]),
        Decimal(ticket["total_eur"]),
        "unplugged",
    )
    stack.wait_states({cp_id: "activado"})


@pytest.mark.usefixtures("all_resumed")
def test_every_denial_says_why(stack: Stack, cps: list[str]) -> None:
    busy, stopped, faulty = cps
    charging = stack.start_driver("DRV002", "charge", busy)
    stack.wait_states({busy: "suministrando"})
    stack.operate(f"/api/cps/{stopped}/stop")
    stack.charger(3, "fault")
    stack.wait_states({stopped: "parado", faulty: "averiado"})

    def denial(driver_id: str, cp_id: str) -> str:
        finished = outcome(stack.driver(driver_id, "charge", cp_id))
        assert finished["result"] == "denied", finished
        return str(finished["denial"])

    try:
        # first, while DRV002's 20 s supply surely lasts; the other reasons do not expire
        assert denial("DRV003", busy) == "cp_busy"
        assert denial("NOBODY-" + uuid.uuid4().hex[:6], cps[0]) == "unknown_driver"
        assert denial("DRV003", "NO-SUCH-CP") == "unknown_cp"
        assert denial("DRV003", stopped) == "cp_stopped"
        assert denial("DRV003", faulty) == "cp_faulty"
        assert denial("DRV003", "CP001") == "cp_disconnected"  # seeded, never connected here
    finally:
        stack.charger(3, "clear")
        assert outcome(stack.finish(charging))["result"] == "charged"


def test_two_drivers_racing_for_one_cp_exactly_one_wins(stack: Stack, cps: list[str]) -> None:
    cp_id = cps[1]
    racers = [stack.start_driver(driver, "charge", cp_id) for driver in ("DRV004", "DRV005")]
    results = sorted(outcome(stack.finish(racer))["result"] for racer in racers)
    assert results == ["charged", "denied"]
    stack.wait_states({cp_id: "activado"})


def test_a_supply_started_at_the_cp_is_authorised_by_the_central(stack: Stack, cps: list[str]) -> None:
    cp_id = cps[2]
    assert stack.charger(3, "request", "DRV006")["ok"]
    tiles = stack.wait_states({cp_id: "suministrando"}, timeout=30)
    assert tiles[cp_id]["driver_id"] == "DRV006"
    stack.wait_states({cp_id: "activado"}, timeout=60)
    tickets = wait_until(
        lambda: [t for t in stack.driver("DRV006", "tickets") if t["cp_id"] == cp_id], 30, "DRV006's ticket"
    )
    assert Decimal(tickets[-1]["kwh"]) > 0


def test_a_file_of_ten_requests_over_three_cps(stack: Stack, cps: list[str]) -> None:
    lines = [cps[n % 3] for n in range(10)]
    stack.write_in_driver("/tmp/requests.txt", "\n".join(lines) + "\n")  # noqa: S108 - inside the container
    output = stack.driver("DRV007", "run", "/tmp/requests.txt", timeout=600)  # noqa: S108
    (summary,) = events_of(output, "summary")
    assert (summary["requests"], summary["charged"], summary["failed"]) == (10, 10, 0), summary
    waits = events_of(output, "waiting")
    assert len(waits) == 9
    assert all(wait["seconds"] == 4.0 for wait in waits)
    tickets = [event["ticket"] for event in events_of(output, "finished")]
    for ticket in tickets:
        (row,) = stack.query("SELECT consumo_kwh FROM suministros WHERE id = %s", ticket["ticket_id"])
        assert row["consumo_kwh"] == Decimal(ticket["kwh"])


@pytest.mark.usefixtures("all_resumed")
def test_operator_stops_one_then_all_and_resumes_all(stack: Stack, cps: list[str]) -> None:
    cp_id = cps[0]
    charging = stack.start_driver("DRV008", "charge", cp_id)
    stack.wait_states({cp_id: "suministrando"})
    stack.operate(f"/api/cps/{cp_id}/stop")
    stack.wait_states({cp_id: "parado"}, timeout=10)
    finished = outcome(stack.finish(charging))
    assert finished["ticket"]["ended_by"] == "operator_stop", finished

    stack.operate("/api/stop-all")
    stack.wait_states(dict.fromkeys(cps, "parado"), timeout=10)
    stack.operate("/api/resume-all")
    stack.wait_states(dict.fromkeys(cps, "activado"), timeout=10)


def test_a_restarted_central_shows_every_cp_disconnected_until_it_returns(
    stack: Stack, cps: list[str]
) -> None:
    every_monitor(stack, len(cps), "stop")
    try:
        compose("restart", "central-auth", "central-stream")
        registered = [row["id"] for row in stack.query("SELECT id FROM charging_points")]
        wait_until(
            lambda: all(
                tile["state"] == "desconectado" for cp, tile in stack.cps().items() if cp in registered
            ),
            60,
            "every registered CP to show desconectado",
            interval=1,
        )
    finally:
        every_monitor(stack, len(cps), "start")
    stack.wait_states(dict.fromkeys(cps, "activado"), timeout=90)


def every_monitor(stack: Stack, replicas: int, verb: str) -> None:
    """`supervisorctl stop|start monitor` in every CP container: the engines stay up."""
    for index in range(1, replicas + 1):
        stack.supervisorctl(index, verb, "cp:monitor")


def test_a_new_cp_registers_and_becomes_available(stack: Stack, cps: list[str]) -> None:
    cp_id = "CP-E2E-NEW"
    stack.query(
        "DELETE FROM charging_points WHERE id = %s AND id NOT IN (SELECT cp_id FROM suministros)", cp_id
    )
    container = "evcharging-e2e-new-cp"
    try:
        compose(
            "run", "-d", "--no-deps", "--name", container,
            "-e", f"CP_ID={cp_id}", "-e", "CP_LOCATION=Villena, Plaza Mayor 3", "-e", "CP_PRICE_KWH=0.310",
            "cp-engine",
        )  # fmt: skip
        tiles = stack.wait_states({cp_id: "activado"}, timeout=60)
        assert (tiles[cp_id]["location"], Decimal(tiles[cp_id]["price_per_kwh"])) == (
            "Villena, Plaza Mayor 3",
            Decimal("0.310"),
        )
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    stack.wait_states({cp_id: "desconectado"}, timeout=30)


def test_a_request_made_while_the_central_is_down_is_never_authorised_late(
    stack: Stack, cps: list[str]
) -> None:
    cp_id = cps[1]
    observer = TopicTail(infra_addresses().kafka_bootstrap, [DRIVER_RESPONSES])
    compose("stop", "central-stream")
    try:
        output = stack.driver("DRV009", "--timeout", "3", "charge", cp_id)
    finally:
        compose("start", "central-stream")
    assert outcome(output)["result"] == "no_answer"
    (requested,) = events_of(output, "requested")

    def answer() -> list[m.SupplyAuthorised | m.SupplyDenied] | None:
        responses = observer.of("DRV009", DRIVER_RESPONSES)
        found = [
            r
            for r in responses
            if isinstance(r, m.SupplyAuthorised | m.SupplyDenied) and r.request_id == requested["request_id"]
        ]
        return found or None

    (response,) = wait_until(answer, 120, "the central's answer to the request made while it was down")
    observer.close()
    assert isinstance(response, m.SupplyDenied)
    assert response.reason is m.DenialReason.REQUEST_EXPIRED
    assert stack.cps()[cp_id]["state"] == "activado"
