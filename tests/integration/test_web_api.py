"""central-web's JSON API on the real broker and database, under gunicorn."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from evcharging.kafka import ContractProducer
from evcharging.messages import CpState, OperatorAction, SupplyRequest, utc_now
from evcharging.topics import SUPPLY_REQUESTS
from tests.support.scripted_central import Plan, ScriptedCentral
from tests.support.stack import ROOT, Infra
from tests.support.waiting import wait_until
from tests.support.web import (
    Client,
    WebServer,
    delete_cps,
    insert_cp,
    next_state,
    stream_events,
)

pytestmark = pytest.mark.integration

RESULTS = ROOT / "test-results"


def uid(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def web(infra: Infra) -> Iterator[WebServer]:
    server = WebServer(infra, RESULTS / "logs" / "central-web-api.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cps(infra: Infra) -> Iterator[list[str]]:
    """Two CPs registered in the database for this test only."""
    ids = [uid(), uid()]
    for n, cp_id in enumerate(ids):
        insert_cp(infra.database, cp_id, f"Test street {n}", "0.333")
    try:
        yield ids
    finally:
        delete_cps(infra.database, ids)


def cp_of(client: Client, cp_id: str) -> dict[str, object] | None:
    status, body = client.get(f"/api/cps/{cp_id}")
    return body if status == 200 else None


def login(client: Client, password: str) -> str:
    _status, session = client.get("/api/session")
    status, body = client.post(
        "/api/login", {"password": password, "operator": "tester"}, {"X-CSRFToken": session["csrf_token"]}
    )
    assert status == 200, body
    return str(body["csrf_token"])


def test_healthz(web: WebServer) -> None:
    # Each gunicorn worker has its own feed: wait until the one answering has caught up too.
    status, body = wait_until(
        lambda: answer if (answer := Client(web.url).get("/healthz"))[1]["feed"]["caught_up"] else None,
        30,
        "a caught-up feed",
    )
    assert status == 200
    assert body["status"] == "ok"
    assert body["feed"] == {"connected": True, "caught_up": True}


def test_a_cp_only_in_the_database_is_shown_from_there(web: WebServer, cps: list[str]) -> None:
    client = Client(web.url)
    tile = wait_until(lambda: cp_of(client, cps[0]), 15, "the DB-only CP on the page")
    assert tile["source"] == "database"
    assert tile["state"] == "desconectado"
    assert tile["location"] == "Test street 0"
    assert tile["price_per_kwh"] == "0.333"


def test_a_status_change_reaches_the_stream_within_a_second(web: WebServer, central: ScriptedCentral) -> None:
    cp_id = uid()
    central.plans[cp_id] = Plan(location="Stream street")
    stream = stream_events(web.url)
    try:
        next_state(stream)  # the state as it was
        sent = time.monotonic()
        central.status(cp_id, CpState.FAULTY)
        while True:
            state = next_state(stream)
            tiles = {cp["cp_id"]: cp for cp in state["cps"]}
            if cp_id in tiles:
                break
        latency = time.monotonic() - sent
    finally:
        stream.close()
    assert tiles[cp_id]["state"] == "averiado"
    assert tiles[cp_id]["label"] == "Faulty"
    assert latency < 1.0, f"the page learnt of the change after {latency:.2f} s"


def test_requests_in_progress_and_events(web: WebServer, central: ScriptedCentral, infra: Infra) -> None:
    cp_id, driver_id = uid(), uid()
    central.plans[cp_id] = Plan(updates=3, hold_ticket=True)
    central.status(cp_id, CpState.ACTIVE)
    producer = ContractProducer(infra.kafka_bootstrap, "web-test-driver")
    request = SupplyRequest(cp_id=cp_id, driver_id=driver_id, expires_at=utc_now().replace(year=2100))
    producer.send(SUPPLY_REQUESTS, request)
    producer.flush(10)
    client = Client(web.url)

    def mine() -> list[dict[str, object]]:
        return [r for r in client.get("/api/requests")[1] if r["request_id"] == request.request_id]

    supplying = wait_until(
        lambda: [r for r in mine() if r["status"] == "supplying" and r["kwh"] == "0.375"], 15, "supply"
    )
    assert supplying[0]["driver_id"] == driver_id
    central.release_ticket(cp_id)
    wait_until(lambda: not mine(), 15, "the request to leave the list after its ticket")
    texts = [e["text"] for e in client.get("/api/events")[1]]
    assert f"{driver_id} asked to charge at {cp_id}" in texts
    assert f"{driver_id} authorised at {cp_id}" in texts
    assert f"Ticket for {driver_id} at {cp_id}: 0.375 kWh, 0.13 € (vehicle unplugged)" in texts


def test_operator_stop_and_resume(web: WebServer, central: ScriptedCentral, cps: list[str]) -> None:
    for cp_id in cps:
        central.plans[cp_id] = Plan()
        central.status(cp_id, CpState.ACTIVE)
    client = Client(web.url)
    wait_until(lambda: all((cp_of(client, c) or {}).get("state") == "activado" for c in cps), 15, "CPs live")
    csrf = login(client, web.password)

    status, body = client.post(f"/api/cps/{cps[0]}/stop", headers={"X-CSRFToken": csrf})
    assert status == 202, body
    assert body["cp_ids"] == [cps[0]]
    wait_until(lambda: (cp_of(client, cps[0]) or {}).get("state") == "parado", 15, "the CP to turn parado")
    [command] = central.commands
    assert (command.action, command.operator) == (OperatorAction.STOP, "tester")

    status, body = client.post("/api/resume-all", headers={"X-CSRFToken": csrf})
    assert status == 202
    assert set(cps) <= set(body["cp_ids"])
    wait_until(lambda: len(central.commands) == 3, 15, "a resume for each of the test CPs")
    resumes = central.commands[1:]
    assert {c.cp_id for c in resumes} == set(cps)
    assert len({c.batch_id for c in resumes}) == 1, "one batch"
    wait_until(lambda: (cp_of(client, cps[0]) or {}).get("state") == "activado", 15, "resumed")


def test_refused_actions_change_nothing(web: WebServer, central: ScriptedCentral, cps: list[str]) -> None:
    target = cps[0]
    central.plans[target] = Plan()
    client = Client(web.url)
    _status, session = client.get("/api/session")

    status, body = client.post("/api/login", {"password": "wrong"}, {"X-CSRFToken": session["csrf_token"]})
    assert (status, body["error"]) == (401, "wrong_password")
    status, body = client.post(f"/api/cps/{target}/stop", headers={"X-CSRFToken": session["csrf_token"]})
    assert (status, body["error"]) == (401, "login_required")

    csrf = login(client, web.password)
    forged = {"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    status, body = client.post(f"/api/cps/{target}/stop", headers=forged)
    assert (status, body["error"]) == (400, "csrf")
    assert "Nothing was changed" in body["message"]
    status, body = client.post(f"/cps/{target}/stop", headers={**forged, "X-CSRFToken": "forged"})
    assert status == 400

    unknown = uid("NOPE")
    status, body = client.post(f"/api/cps/{unknown}/stop", headers={"X-CSRFToken": csrf})
    assert (status, body["message"]) == (404, f"There is no charging point '{unknown}'.")

    # A good command afterwards is the first and only one the central receives.
    status, _body = client.post(f"/api/cps/{target}/resume", headers={"X-CSRFToken": csrf})
    assert status == 202
    wait_until(lambda: central.commands, 15, "the one valid command")
    assert [(c.cp_id, c.action) for c in central.commands] == [(target, OperatorAction.RESUME)]


def test_price_is_a_decimal_string(web: WebServer, central: ScriptedCentral) -> None:
    cp_id = uid()
    central.plans[cp_id] = Plan(price=Decimal("0.405"))
    central.status(cp_id, CpState.ACTIVE)
    client = Client(web.url)
    tile = wait_until(lambda: cp_of(client, cp_id), 10, "the CP")
    assert tile["price_per_kwh"] == "0.405"
