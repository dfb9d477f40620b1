"""The gateway's handshake and OCPP conversation, over a real TLS WebSocket, with the
`ocpp` library's charge-point side as the charger and a stand-in for central-auth
(tests/integration/test_ocpp_gateway.py runs the real one)."""

from __future__ import annotations

import asyncio
import http
from pathlib import Path

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, RegistrationStatus
from websockets import InvalidStatus
from websockets.typing import Subprotocol

from evcharging.messages import EngineHealth
from ocpp_gateway.server import charger_id_of
from tests.support.ocpp_charger import charger_at
from tests.support.ocpp_gateway import PASSWORD, served
from tests.support.pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def _refusal(
    pki: Path, charger_id: str = "OCPP01", password: str | None = PASSWORD, **options: object
) -> int:
    async with served(pki) as (url, _sessions):
        with pytest.raises(InvalidStatus) as refused:
            async with charger_at(url, charger_id, password, pki / "ca.crt", **options):  # type: ignore[arg-type]
                pass
        return refused.value.response.status_code


def test_a_charger_with_its_password_boots_and_is_told_the_time_and_its_heartbeat(pki: Path) -> None:
    async def body() -> None:
        async with (
            served(pki) as (url, sessions),
            charger_at(url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            booted = await charger.boot()
            beat = await charger.heartbeat()
        assert booted.status == RegistrationStatus.accepted
        assert booted.interval == 60
        assert beat.current_time
        assert [session.cp_id for session in sessions] == ["OCPP01"]

    asyncio.run(body())


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ({"password": "wrong-password-16"}, http.HTTPStatus.UNAUTHORIZED),
        ({"password": None}, http.HTTPStatus.UNAUTHORIZED),
        ({"user": "OCPP02"}, http.HTTPStatus.UNAUTHORIZED),
        ({"password": "unreachable"}, http.HTTPStatus.SERVICE_UNAVAILABLE),
        ({"charger_id": "not%20an%20id"}, http.HTTPStatus.NOT_FOUND),
        ({"subprotocols": [Subprotocol("ocpp2.0.1")]}, http.HTTPStatus.BAD_REQUEST),
    ],
    ids=[
        "wrong password",
        "no credentials",
        "another charger's user",
        "central-auth silent",
        "bad id",
        "not 1.6",
    ],
)
def test_a_charger_that_cannot_be_a_cp_is_refused_at_the_handshake(
    pki: Path, options: dict[str, object], status: http.HTTPStatus
) -> None:
    assert asyncio.run(_refusal(pki, **options)) == status  # type: ignore[arg-type]


def test_a_faulted_connector_is_the_engine_ko_and_available_again_the_recovery(pki: Path) -> None:
    async def body() -> list[EngineHealth]:
        async with (
            served(pki) as (url, sessions),
            charger_at(url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            await charger.boot()
            await charger.status(ChargePointStatus.available)
            await charger.status(ChargePointStatus.faulted, error_code=ChargePointErrorCode.ground_failure)
            await charger.status(ChargePointStatus.available, connector_id=2)
            await charger.status(ChargePointStatus.available)
        return sessions[0].health

    assert asyncio.run(body()) == [EngineHealth.OK, EngineHealth.KO, EngineHealth.KO, EngineHealth.OK]


def test_a_malformed_call_gets_a_call_error_and_the_conversation_goes_on(pki: Path) -> None:
    async def body() -> None:
        async with served(pki) as (url, _), charger_at(url, "OCPP01", PASSWORD, pki / "ca.crt") as charger:
            with pytest.raises(OCPPError) as refused:
                await charger.unchecked(
                    call.StatusNotification(connector_id=1, error_code="NoError", status="Exploded")
                )
            assert refused.value.code == "FormatViolation"
            assert "'Exploded' is not one of" in refused.value.details["cause"]
            with pytest.raises(OCPPError) as unknown:
                await charger.unchecked(call.DataTransfer(vendor_id="acme"))
            assert unknown.value.code == "NotImplemented"
            assert (await charger.heartbeat()).current_time

    asyncio.run(body())


def test_the_cp_session_ends_with_the_websocket(pki: Path) -> None:
    async def body() -> None:
        async with served(pki) as (url, sessions):
            async with charger_at(url, "OCPP01", PASSWORD, pki / "ca.crt") as charger:
                await charger.boot()
            async with asyncio.timeout(10):
                await sessions[0].closed.wait()

    asyncio.run(body())


def test_a_charger_central_auth_refuses_later_is_closed_as_a_policy_violation(pki: Path) -> None:
    async def body() -> int | None:
        async with (
            served(pki) as (url, sessions),
            charger_at(url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            assert (await charger.boot()).status == RegistrationStatus.accepted
            sessions[0].refuse_from_now_on()
            async with asyncio.timeout(10):
                await charger.connection.wait_closed()
            return charger.connection.close_code

    assert asyncio.run(body()) == 1008


@pytest.mark.parametrize(
    ("path", "charger_id"),
    [
        ("/ocpp/OCPP01", "OCPP01"),
        ("/OCPP01/", "OCPP01"),
        ("/a/b/CP-7?x=1", "CP-7"),
        ("/ocpp/CP%2001", "CP 01"),
        ("/", ""),
    ],
)
def test_the_charger_id_is_the_last_part_of_the_path(path: str, charger_id: str) -> None:
    assert charger_id_of(path) == charger_id


def test_a_charger_that_stops_answering_pings_loses_its_session_at_once(pki: Path) -> None:
    async def body() -> None:
        async with (
            served(pki, ping_interval=0.2, ping_timeout=0.3) as (url, sessions),
            charger_at(url, "OCPP01", PASSWORD, pki / "ca.crt") as charger,
        ):
            await charger.boot()
            charger.connection.transport.pause_reading()  # a cut cable: no pong any more
            async with asyncio.timeout(5):  # not the library's 10 s closing handshake
                await sessions[0].closed.wait()
            charger.connection.transport.abort()  # the cut cable's end of it

    asyncio.run(body())
