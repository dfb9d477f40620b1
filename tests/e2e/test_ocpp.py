"""An OCPP 1.6J charger on the real compose stack: provisioned with `make ocpp-charger`,
connected to the gateway's published port with the project CA and its password, and
then a CP like any other: on the page, charging a driver who asked from the driver
application or with a card at the charger, billed exactly its meter, stopped by the
operator, and unharmed by a SIGKILL of the gateway in the middle of a transaction."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
)

from tests.support.e2e import Stack, healthy, supplying_energy
from tests.support.ocpp_charger import SimulatedCharger, charger_at
from tests.support.stack import make
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

PRICE = Decimal("0.400")


@pytest.fixture(scope="module")
def account(stack: Stack) -> tuple[str, str]:
    """A charger provisioned at the central as users do it: its CP id and password."""
    cp_id = f"OCPP{uuid.uuid4().hex[:6].upper()}"
    provisioned = make("ocpp-charger", f"ID={cp_id}", "LOCATION=Test bay, OCPP", f"PRICE={PRICE}")
    assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
    line = next(line for line in provisioned.stdout.splitlines() if "password (HTTP Basic" in line)
    return cp_id, line.rsplit(" ", 1)[1]


@contextlib.asynccontextmanager
async def connected(
    stack: Stack, account: tuple[str, str], shown: str = "activado"
) -> AsyncIterator[SimulatedCharger]:
    """The charger, connected, booted and available, once the page shows it so (or
    `shown`: suministrando, for a charger back with a transaction in progress)."""
    cp_id, password = account
    url = f"wss://localhost:{stack.settings['OCPP_HOST_PORT']}"
    ca = Path(stack.settings["PKI_DIR"]) / "ca.crt"
    async with charger_at(url, cp_id, password, ca) as charger:
        await charger.boot()
        await charger.status(ChargePointStatus.available)
        await asyncio.to_thread(stack.wait_states, {cp_id: shown})
        yield charger


def ticket_row(stack: Stack, cp_id: str, driver_id: str) -> list[dict[str, Any]]:
    return stack.query(
        "SELECT * FROM suministros WHERE cp_id = %s AND conductor_id = %s AND estado <> 'en_curso'",
        cp_id,
        driver_id,
    )


def test_a_driver_charges_at_an_ocpp_charger_and_the_ticket_bills_its_meter(
    stack: Stack, account: tuple[str, str]
) -> None:
    cp_id = account[0]

    async def charge() -> list[dict[str, Any]]:
        async with connected(stack, account) as charger:
            driver = stack.start_driver("DRV011", "charge", cp_id)
            action, payload = await charger.next_call(timeout=60)
            assert (action, payload["id_tag"]) == (Action.remote_start_transaction, "DRV011")
            started_at = datetime.now(UTC)
            started = await charger.start_transaction("DRV011", 700_000, at=started_at)
            assert started.id_tag_info["status"] == AuthorizationStatus.accepted
            for second, wh in ((1, 701_000), (2, 702_000), (3, 703_000)):
                await charger.meter(started.transaction_id, wh, at=started_at + timedelta(seconds=second))
            await asyncio.to_thread(stack.wait_states, {cp_id: "suministrando"})
            at = started_at + timedelta(seconds=4)
            await charger.stop_transaction(started.transaction_id, 703_456, at=at, reason="EVDisconnected")
            output = await asyncio.to_thread(stack.finish, driver, 120)
            await asyncio.to_thread(stack.wait_states, {cp_id: "activado"})
            return output

    output = asyncio.run(charge())
    (finished,) = [event for event in output if event.get("event") == "finished"]
    ticket = finished["ticket"]
    assert (ticket["cp_id"], ticket["ended_by"], Decimal(ticket["kwh"])) == (
        cp_id,
        "unplugged",
        Decimal("3.456"),
    )
    assert Decimal(ticket["total_eur"]) == Decimal("1.38")
    (row,) = ticket_row(stack, cp_id, "DRV011")
    assert (row["consumo_kwh"], row["importe_total"]) == (Decimal("3.456"), Decimal("1.38"))


def test_a_card_at_the_charger_and_a_sigkill_of_the_gateway_mid_transaction_lose_nothing(
    stack: Stack, account: tuple[str, str]
) -> None:
    cp_id = account[0]
    started_at = datetime.now(UTC)

    async def start() -> int:
        async with connected(stack, account) as charger:
            assert (await charger.authorize("DRV012")).id_tag_info["status"] == AuthorizationStatus.accepted
            started = await charger.start_transaction("DRV012", 10_000, at=started_at)
            await charger.meter(started.transaction_id, 11_000, at=started_at + timedelta(seconds=1))
            await asyncio.to_thread(stack.wait_states, {cp_id: "suministrando"})
            await asyncio.to_thread(stack.crash_container, 1, "ocpp-gateway")
            return int(started.transaction_id)

    async def finish(transaction_id: int) -> None:
        async with connected(stack, account, shown="suministrando") as charger:  # the restarted gateway
            await charger.meter(transaction_id, 12_500, at=started_at + timedelta(seconds=2))
            stopped_at = started_at + timedelta(seconds=3)
            await charger.stop_transaction(transaction_id, 13_250, at=stopped_at, reason="Local")
            await charger.stop_transaction(transaction_id, 13_250, at=stopped_at, reason="Local")
            await asyncio.to_thread(stack.wait_states, {cp_id: "activado"})

    transaction_id = asyncio.run(start())
    stack.wait_states({cp_id: "desconectado"})  # the gateway is gone, and with it the CP's session
    wait_until(lambda: healthy("ocpp-gateway"), 120, "Docker to restart the gateway")
    asyncio.run(finish(transaction_id))
    (row,) = ticket_row(stack, cp_id, "DRV012")
    assert (row["consumo_kwh"], row["estado"]) == (Decimal("3.250"), "unplugged")


def test_the_operator_stops_and_resumes_an_ocpp_charger_in_the_middle_of_a_supply(
    stack: Stack, account: tuple[str, str]
) -> None:
    cp_id = account[0]

    async def stop_and_resume() -> list[tuple[str, dict[str, Any]]]:
        async with connected(stack, account) as charger:
            assert (await charger.authorize("DRV011")).id_tag_info["status"] == AuthorizationStatus.accepted
            started = await charger.start_transaction("DRV011", 0)
            await charger.meter(started.transaction_id, 1_500)
            # The operator's stop bills what the central has applied: wait until the page
            # shows the energy, not just suministrando (which a supply shows from its start).
            energy = partial(wait_until, lambda: supplying_energy(stack, cp_id), 60, f"energy at {cp_id}")
            await asyncio.to_thread(energy)
            await asyncio.to_thread(stack.operate, f"/api/cps/{cp_id}/stop")
            told = [await charger.next_call(timeout=60), await charger.next_call(timeout=60)]
            await asyncio.to_thread(stack.wait_states, {cp_id: "parado"})
            await asyncio.to_thread(stack.operate, f"/api/cps/{cp_id}/resume")
            told.append(await charger.next_call(timeout=60))
            await asyncio.to_thread(stack.wait_states, {cp_id: "activado"})
            assert told[0] == (Action.remote_stop_transaction, {"transaction_id": started.transaction_id})
            return told[1:]

    assert asyncio.run(stop_and_resume()) == [
        (Action.change_availability, {"connector_id": 0, "type": AvailabilityType.inoperative}),
        (Action.change_availability, {"connector_id": 0, "type": AvailabilityType.operative}),
    ]
    rows = [row for row in ticket_row(stack, cp_id, "DRV011") if row["estado"] == "operator_stop"]
    assert [row["consumo_kwh"] for row in rows] == [Decimal("1.500")]


def test_an_unknown_card_is_invalid_and_a_faulted_charger_averiado_until_it_is_available(
    stack: Stack, account: tuple[str, str]
) -> None:
    cp_id = account[0]

    async def fault_and_recover() -> None:
        async with connected(stack, account) as charger:
            unknown = await charger.authorize("NOBODY1")  # central-stream denies it: an unknown driver
            assert unknown.id_tag_info["status"] == AuthorizationStatus.invalid
            await charger.status(ChargePointStatus.faulted, error_code=ChargePointErrorCode.ground_failure)
            await asyncio.to_thread(stack.wait_states, {cp_id: "averiado"})
            await charger.status(ChargePointStatus.available)
            await asyncio.to_thread(stack.wait_states, {cp_id: "activado"})
        await asyncio.to_thread(stack.wait_states, {cp_id: "desconectado"})

    asyncio.run(fault_and_recover())
