"""central-auth against the real Kafka and MariaDB: registration, authentication,
liveness events in order, half-open connections, refusals, restart announcement."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evcharging import db
from evcharging.framing import encode_frame
from evcharging.messages import CpConnected, CpDisconnected, EngineHealth, Fault, Recovery
from evcharging.wire import Authenticated, Error, FrameType, Heartbeat, HeartbeatAck, Reason, Register
from tests.support.central_auth import (
    AuthProcess,
    CpEvents,
    TestRun,
    WireClient,
    central_auth,
    refusal_reason,
)
from tests.support.stack import Infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

OK, KO = EngineHealth.OK, EngineHealth.KO
HEARTBEAT_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def run(infra: Infra) -> Iterator[TestRun]:
    run = TestRun()
    yield run
    run.forget_cps(infra)


@pytest.fixture(scope="module")
def server(infra: Infra, run: TestRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthProcess]:
    log = tmp_path_factory.mktemp("central-auth") / "central-auth.log"
    with central_auth(infra, run, log, AUTH_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT)) as process:
        yield process


def test_a_cp_lifecycle_publishes_its_events_in_order_keyed_by_cp(
    server: AuthProcess, run: TestRun, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as client:
        credential = client.register(run, cp_id)
        reply = client.authenticate(cp_id, credential, OK)
        assert isinstance(reply, Authenticated)
        assert (reply.cp_id, reply.heartbeat_interval, reply.heartbeat_timeout) == (
            cp_id,
            1.0,
            HEARTBEAT_TIMEOUT,
        )
        for health in (OK, OK, KO, KO, OK):
            assert isinstance(client.request(Heartbeat(engine_health=health)), HeartbeatAck)
    connected, fault, recovery, disconnected = events.wait_for(cp_id, 4)
    assert isinstance(connected, CpConnected)
    assert connected.engine_health is OK
    assert connected.connection_id == reply.connection_id
    assert isinstance(fault, Fault)
    assert isinstance(recovery, Recovery)
    assert isinstance(disconnected, CpDisconnected)
    assert disconnected.connection_id == reply.connection_id
    assert "closed" in disconnected.detail
    assert len(events.of(cp_id)) == 4, "a repeated health or a second disconnection was published"


def test_authenticating_with_a_faulty_engine_reports_the_fault_at_once(
    server: AuthProcess, run: TestRun, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as client:
        assert isinstance(client.authenticate(cp_id, client.register(run, cp_id), KO), Authenticated)
        connected, fault = events.wait_for(cp_id, 2)
    assert isinstance(connected, CpConnected)
    assert connected.engine_health is KO
    assert isinstance(fault, Fault)


def test_a_half_open_connection_is_reported_disconnected_within_the_timeout(
    server: AuthProcess, run: TestRun, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as client:
        assert isinstance(client.authenticate(cp_id, client.register(run, cp_id)), Authenticated)
        last_heartbeat = time.monotonic()
        assert isinstance(client.request(Heartbeat(engine_health=OK)), HeartbeatAck)
        # Then silence, with the socket left open: the server must give up on its own.
        told = client.receive_until_closed()
        closed_after = time.monotonic() - last_heartbeat
        assert [refusal_reason(record) for record in told] == [Reason.HEARTBEAT_TIMEOUT.value]
        assert HEARTBEAT_TIMEOUT - 0.2 <= closed_after <= HEARTBEAT_TIMEOUT + 1.5
        _connected, disconnected = events.wait_for(cp_id, 2, timeout=5)
    assert isinstance(disconnected, CpDisconnected)
    assert "heartbeat" in disconnected.detail


def test_wrong_and_unknown_credentials_are_refused(
    server: AuthProcess, run: TestRun, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as client:
        credential = client.register(run, cp_id)
        assert refusal_reason(client.authenticate(cp_id, credential[::-1])) == "bad_credential"
        assert refusal_reason(client.authenticate(run.new_cp_id(), credential)) == "unknown_cp"
        assert refusal_reason(client.request(Heartbeat(engine_health=OK))) == "unexpected_request"
        # the connection survives refusals: the right credential still works on it
        assert isinstance(client.authenticate(cp_id, credential), Authenticated)
        connected = events.wait_for(cp_id, 1)[0]
    assert isinstance(connected, CpConnected), "a refused attempt published an event"


def test_a_registration_whose_answer_was_lost_is_repeated_until_its_credential_is_used(
    server: AuthProcess, run: TestRun
) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as client:
        lost = client.register(run, cp_id)  # as if this answer never reached the monitor
    with WireClient(server.port) as client:
        credential = client.register(run, cp_id)  # its retry: registered again, not refused for good
        assert credential != lost
        assert refusal_reason(client.authenticate(cp_id, lost)) == "bad_credential"
        assert isinstance(client.authenticate(cp_id, credential), Authenticated)
    with WireClient(server.port) as client:
        taken_over = client.request(
            Register(enrolment_key=run.enrolment_key, cp_id=cp_id, location="x", price_per_kwh=Decimal(1))
        )
        assert refusal_reason(taken_over) == "already_registered"
        assert isinstance(client.authenticate(cp_id, credential), Authenticated)


def test_a_second_live_connection_for_one_cp_is_refused(server: AuthProcess, run: TestRun) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as first, WireClient(server.port) as second:
        credential = first.register(run, cp_id)
        assert isinstance(first.authenticate(cp_id, credential), Authenticated)
        assert refusal_reason(second.authenticate(cp_id, credential)) == "already_connected"
        first.close()
        wait_until(
            lambda: isinstance(second.authenticate(cp_id, credential), Authenticated),
            5,
            "the id to be free once its connection closed",
        )


def test_registration_needs_the_operator_key_and_never_overwrites_a_credential(
    server: AuthProcess, run: TestRun, infra: Infra
) -> None:
    cp_id = run.new_cp_id()
    with WireClient(server.port) as client:
        refused = client.request(
            Register(
                enrolment_key="not-the-operators-key", cp_id=cp_id, location="x", price_per_kwh=Decimal(1)
            )
        )
        assert refusal_reason(refused) == "bad_enrolment_key"
        credential = client.register(run, cp_id, price="0.415")
        assert isinstance(client.authenticate(cp_id, credential), Authenticated)
    with WireClient(server.port) as client:
        again = client.request(
            Register(
                enrolment_key=run.enrolment_key, cp_id=cp_id, location="elsewhere", price_per_kwh=Decimal(1)
            )
        )
        assert refusal_reason(again) == "already_registered"
        reserved = client.request(
            Register(
                enrolment_key=run.enrolment_key,
                cp_id=f"{run.auto_prefix}123",
                location="x",
                price_per_kwh=Decimal(1),
            )
        )
        assert refusal_reason(reserved) == "reserved_id"
    row = _row(infra, cp_id)
    assert (row["ubicacion"], str(row["precio_kwh"]), row["estado"]) == (
        "Test bench",
        "0.415",
        "desconectado",
    )
    assert not row["auto_provisioned"]
    assert row["credential_hash"].startswith("scrypt$")
    assert credential not in row["credential_hash"]


def test_sql_looking_ids_are_refused_and_change_nothing(
    server: AuthProcess, run: TestRun, infra: Infra
) -> None:
    hostile = {
        FrameType.REGISTER: {
            "enrolment_key": run.enrolment_key,
            "cp_id": f"{run.prefix}'; DELETE FROM charging_points; --",  # noqa: S608 - the attack, as sent
            "location": "x",
            "price_per_kwh": "1",
        },
        FrameType.AUTHENTICATE: {"cp_id": "' OR '1'='1", "credential": "c" * 43, "engine_health": "OK"},
    }
    before = _count(infra)
    with WireClient(server.port) as client:
        for frame_type, payload in hostile.items():
            client.send_raw(encode_frame(frame_type, json.dumps(payload).encode()))
            reply = client.receive()
            assert isinstance(reply, Error)
            assert reply.reason is Reason.BAD_PAYLOAD
            assert "cp_id" in reply.detail
    assert _count(infra) >= before, "rows vanished"


def test_a_restart_announces_every_registered_cp_disconnected_before_serving(
    infra: Infra, run: TestRun, events: CpEvents, tmp_path: Path
) -> None:
    with central_auth(infra, run, tmp_path / "first.log") as first:
        cp_id = run.new_cp_id()
        with WireClient(first.port) as client:
            assert isinstance(client.authenticate(cp_id, client.register(run, cp_id)), Authenticated)
            events.wait_for(cp_id, 1)
            first.kill()  # no goodbye: the CP looked online when it died
    with central_auth(infra, run, tmp_path / "second.log"):
        connected, restarted = events.wait_for(cp_id, 2)
    assert isinstance(connected, CpConnected)
    assert isinstance(restarted, CpDisconnected)
    assert restarted.detail == "central-auth restarted"


def _row(infra: Infra, cp_id: str) -> dict[str, Any]:
    connection = db.connect(infra.database)
    try:
        with db.cursor(connection) as cur:
            cur.execute("SELECT * FROM charging_points WHERE id = %s", (cp_id,))
            row: dict[str, Any] = cur.fetchone()
            return row
    finally:
        connection.close()


def _count(infra: Infra) -> int:
    connection = db.connect(infra.database)
    try:
        with db.cursor(connection) as cur:
            cur.execute("SELECT COUNT(*) AS n FROM charging_points")
            return int(cur.fetchone()["n"])
    finally:
        connection.close()
