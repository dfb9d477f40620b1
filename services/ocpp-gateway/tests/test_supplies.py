"""A charger's supplies through the gateway, message by message, over a real TLS
WebSocket with the `ocpp` library's charge-point side; the central's side is played by
the test (its commands and denials handed to the gateway as its feed would), and Kafka
is a recording outbox. tests/integration/test_ocpp_gateway.py runs the real ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16.enums import Action, AuthorizationStatus, AvailabilityType

from evcharging import messages as m
from tests.support.ocpp_charger import SimulatedCharger, charger_at
from tests.support.ocpp_gateway import PASSWORD, Served, serving
from tests.support.pki import make_pki

PRICE = Decimal("0.400")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


def with_charger(
    pki: Path, body: Callable[[Served, SimulatedCharger], Awaitable[Any]], **settings: Any
) -> Any:
    async def run() -> Any:
        async with (
            serving(pki, **settings) as served,
            charger_at(served.url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            await charger.boot()
            return await body(served, charger)

    return asyncio.run(run())


def authorised(request: m.SupplyRequest, session_id: str = "S1") -> m.StartSupply:
    """The central's StartSupply for `request`, as central-stream sends it."""
    return m.StartSupply(
        cp_id=request.cp_id, session_id=session_id, driver_id=request.driver_id, price_per_kwh=PRICE
    )


async def authorise_next_request(served: Served, session_id: str = "S1") -> m.SupplyRequest:
    (request,) = await served.outbox.wait_for(m.SupplyRequest)
    await served.gateway.on_command(authorised(request, session_id))
    assert isinstance(request, m.SupplyRequest)
    return request


async def started_transaction(served: Served, charger: SimulatedCharger, meter_start: int = 1000) -> Any:
    """A driver's card at the charger, authorised, and the transaction it starts."""
    authorising = asyncio.create_task(charger.authorize("D1"))
    request = await authorise_next_request(served)
    assert (request.cp_id, request.driver_id, request.origin) == ("OCPP01", "D1", m.RequestOrigin.CP)
    assert (await authorising).id_tag_info["status"] == AuthorizationStatus.accepted
    return await charger.start_transaction("D1", meter_start)


def test_a_drivers_card_is_a_supply_request_and_the_centrals_word_the_answer(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> tuple[str, str]:
        started = await started_transaction(served, charger)
        denied_answer = asyncio.create_task(charger.authorize("NOBODY"))
        (_, denied) = await served.outbox.wait_for(m.SupplyRequest, 2)
        await served.gateway.on_command(
            m.SupplyDenied(
                request_id=denied.request_id,
                cp_id="OCPP01",
                driver_id="NOBODY",
                reason=m.DenialReason.UNKNOWN_DRIVER,
            )
        )
        return started.id_tag_info["status"], (await denied_answer).id_tag_info["status"]

    assert with_charger(pki, body) == (AuthorizationStatus.accepted, AuthorizationStatus.invalid)


def test_a_central_that_does_not_answer_leaves_the_card_invalid(pki: Path) -> None:
    async def body(_served: Served, charger: SimulatedCharger) -> str:
        return str((await charger.authorize("D1")).id_tag_info["status"])

    assert with_charger(pki, body, authorize_within=0.5) == AuthorizationStatus.invalid


def test_a_transaction_is_the_supply_its_meter_the_telemetry_its_stop_the_end(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> None:
        started = await started_transaction(served, charger, meter_start=50_000)
        transaction_id = started.transaction_id
        (kept,) = served.outbox.of(m.OcppTransaction)
        assert (kept.transaction_id, kept.session_id, kept.meter_start_wh) == (transaction_id, "S1", 50_000)
        now = datetime.now(UTC)
        await charger.meter(transaction_id, 51_250, at=now + timedelta(seconds=10), watts=7400)
        await charger.meter(transaction_id, 52_500, at=now + timedelta(seconds=20), watts=7400)
        await charger.stop_transaction(
            transaction_id, 53_001, at=now + timedelta(seconds=25), reason="EVDisconnected"
        )
        reports = served.outbox.of(m.Telemetry)
        assert [(r.session_id, r.kwh, r.kw) for r in reports] == [
            ("S1", Decimal("1.250"), Decimal("7.400")),
            ("S1", Decimal("2.500"), Decimal("7.400")),
        ]
        assert reports[0].seq < reports[1].seq
        (ended,) = served.outbox.of(m.SupplyEnded)
        assert (ended.session_id, ended.kwh, ended.eur, ended.reason) == (
            "S1",
            Decimal("3.001"),
            Decimal("1.20"),
            m.EndReason.UNPLUGGED,
        )
        assert served.ledger.open("OCPP01") is None

    with_charger(pki, body)


def test_a_stop_sent_again_is_the_same_end(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> list[m.SupplyEnded]:
        transaction_id = (await started_transaction(served, charger)).transaction_id
        at = datetime.now(UTC)
        await charger.stop_transaction(transaction_id, 2000, at=at)
        await charger.stop_transaction(transaction_id, 2000, at=at)
        await charger.stop_transaction(transaction_id + 1, 9000)  # not a transaction of ours
        return served.outbox.of(m.SupplyEnded)

    first, again = with_charger(pki, body)
    assert first == again


def test_a_start_whose_answer_was_lost_gets_the_same_transaction(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> tuple[int, int, int]:
        at = datetime.now(UTC)
        authorising = asyncio.create_task(charger.start_transaction("D1", 1000, at=at))
        await authorise_next_request(served)
        first = (await authorising).transaction_id
        again = (await charger.start_transaction("D1", 1000, at=at)).transaction_id
        return first, again, len(served.outbox.of(m.SupplyRequest))

    first, again, requests = with_charger(pki, body)
    assert (again, requests) == (first, 1)


def test_a_drivers_request_from_the_application_is_a_remote_start(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> None:
        start = m.StartSupply(cp_id="OCPP01", session_id="S9", driver_id="D2", price_per_kwh=PRICE)
        await served.gateway.on_command(start)
        action, payload = await charger.next_call()
        assert (action, payload["id_tag"], payload["connector_id"]) == (
            Action.remote_start_transaction,
            "D2",
            1,
        )
        await served.gateway.on_command(start)  # sent again: nothing new
        started = await charger.start_transaction("D2", 0)
        assert started.id_tag_info["status"] == AuthorizationStatus.accepted
        assert served.outbox.of(m.SupplyRequest) == []
        assert served.outbox.of(m.OcppTransaction)[0].session_id == "S9"
        assert charger.told.empty()

    with_charger(pki, body)


def test_a_remote_start_the_charger_refuses_ends_the_supply_with_nothing_supplied(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> m.SupplyEnded:
        charger.accept_remote_start = False
        await served.gateway.on_command(
            m.StartSupply(cp_id="OCPP01", session_id="S9", driver_id="D2", price_per_kwh=PRICE)
        )
        (ended,) = await served.outbox.wait_for(m.SupplyEnded)
        assert isinstance(ended, m.SupplyEnded)
        return ended

    ended = with_charger(pki, body)
    assert (ended.session_id, ended.kwh) == ("S9", Decimal(0))


def test_an_operator_stop_ends_the_transaction_and_takes_the_charger_out_of_service(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> list[tuple[str, dict[str, Any]]]:
        transaction_id = (await started_transaction(served, charger)).transaction_id
        # What central-stream sends for an operator's stop of a CP that is supplying:
        await served.gateway.on_command(
            m.EndSupply(cp_id="OCPP01", session_id="S1", reason=m.EndReason.OPERATOR_STOP)
        )
        await served.gateway.on_command(m.StopCp(cp_id="OCPP01"))
        stop = await charger.next_call()
        availability = await charger.next_call()
        await served.gateway.on_command(m.ResumeCp(cp_id="OCPP01"))
        resumed = await charger.next_call()
        assert stop == (Action.remote_stop_transaction, {"transaction_id": transaction_id})
        return [availability, resumed]

    assert with_charger(pki, body) == [
        (Action.change_availability, {"connector_id": 0, "type": AvailabilityType.inoperative}),
        (Action.change_availability, {"connector_id": 0, "type": AvailabilityType.operative}),
    ]


def test_the_centrals_end_of_a_supply_is_a_remote_stop(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> tuple[str, dict[str, Any]]:
        transaction_id = (await started_transaction(served, charger)).transaction_id
        await served.gateway.on_command(
            m.EndSupply(cp_id="OCPP01", session_id="OTHER", reason=m.EndReason.FAULT)
        )
        await served.gateway.on_command(
            m.EndSupply(cp_id="OCPP01", session_id="S1", reason=m.EndReason.FAULT)
        )
        told = await charger.next_call()
        assert told[1] == {"transaction_id": transaction_id}
        return told

    assert with_charger(pki, body)[0] == Action.remote_stop_transaction


def test_a_restarted_gateway_takes_the_queued_meter_values_and_stop_of_a_transaction(pki: Path) -> None:
    async def run() -> tuple[list[m.Telemetry], list[m.SupplyEnded]]:
        async with (
            serving(pki) as first,
            charger_at(first.url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            await charger.boot()
            transaction_id = (await started_transaction(first, charger, meter_start=10_000)).transaction_id
        kept = first.outbox.of(m.OcppTransaction)
        async with (
            serving(pki, transactions=kept) as restarted,
            charger_at(restarted.url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            await charger.boot()
            await charger.meter(transaction_id, 14_000)
            await charger.stop_transaction(transaction_id, 15_500)
        return restarted.outbox.of(m.Telemetry), restarted.outbox.of(m.SupplyEnded)

    (report,), (ended,) = asyncio.run(run())
    assert (report.session_id, report.kwh) == ("S1", Decimal("4.000"))
    assert (ended.session_id, ended.kwh) == ("S1", Decimal("5.500"))


def test_commands_for_a_charger_of_the_gateway_wait_for_it_to_connect(pki: Path) -> None:
    async def run() -> tuple[str, dict[str, Any]]:
        async with serving(pki) as first:
            async with charger_at(first.url, "OCPP01", PASSWORD, pki / "ca.crt") as charger:
                await charger.boot()
                await started_transaction(first, charger)
            await first.sessions[0].closed.wait()
            await first.gateway.on_command(m.StopCp(cp_id="OCPP01"))
            await first.gateway.on_command(m.StopCp(cp_id="ENGINE-CP"))  # not one of its chargers
            async with charger_at(first.url, "OCPP01", PASSWORD, pki / "ca.crt") as charger:
                await charger.next_call()  # the remote stop of its transaction
                return await charger.next_call()

    assert asyncio.run(run()) == (
        Action.change_availability,
        {"connector_id": 0, "type": AvailabilityType.inoperative},
    )


def test_the_card_of_the_transaction_in_progress_is_accepted_without_asking_the_central(pki: Path) -> None:
    async def body(served: Served, charger: SimulatedCharger) -> tuple[str, int]:
        await started_transaction(served, charger)
        again = await charger.authorize("D1")
        return again.id_tag_info["status"], len(served.outbox.of(m.SupplyRequest))

    assert with_charger(pki, body) == (AuthorizationStatus.accepted, 1)
