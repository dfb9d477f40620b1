"""The web app without Kafka: pages, API, login, CSRF, headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central_web.app import create_app
from central_web.board import Board
from central_web.live import LiveBoard
from central_web.operator import commands_for, operator_name, password_ok
from evcharging import health
from evcharging.messages import CpState, CpStatus, OperatorAction, OperatorCommand
from tests.support.web import offline_settings

PASSWORD = "correct horse"  # noqa: S105 - a test password


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[OperatorCommand] = []

    def publish(self, commands: list[OperatorCommand]) -> None:
        self.sent.extend(commands)


def apply(board: Board, message: CpStatus) -> bool:
    return board.apply(message, datetime.now(UTC))


@pytest.fixture
def app() -> Flask:
    board = LiveBoard()
    for cp, state in (("CP1", CpState.ACTIVE), ("CP2", CpState.FAULTY)):
        record = CpStatus(cp_id=cp, state=state, location="Alicante", price_per_kwh=Decimal("0.35"))
        board.change(partial(apply, message=record))
    settings = offline_settings(PASSWORD)
    application = create_app(settings, board)
    application.extensions["controls"].publisher = FakePublisher()
    return application


def sent(app: Flask) -> list[OperatorCommand]:
    publisher: FakePublisher = app.extensions["controls"].publisher
    return publisher.sent


def token(client: FlaskClient) -> str:
    return str(client.get("/api/session").get_json()["csrf_token"])


def logged_in(client: FlaskClient) -> str:
    csrf = token(client)
    response = client.post(
        "/api/login", json={"password": PASSWORD, "operator": "ana"}, headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 200
    return str(response.get_json()["csrf_token"])


def test_the_page_shows_every_cp_in_its_state(app: Flask) -> None:
    page = app.test_client().get("/").get_data(as_text=True)
    assert re.search(r'data-cp="CP1" data-state="activado"', page)
    assert re.search(r'data-cp="CP2" data-state="averiado"', page)
    assert "Operator login" in page
    assert "<script>" not in page, "no inline script (CSP)"


def test_state_api_and_one_cp(app: Flask) -> None:
    client = app.test_client()
    state = client.get("/api/state").get_json()
    assert [cp["cp_id"] for cp in state["cps"]] == ["CP1", "CP2"]
    assert client.get("/api/cps/CP2").get_json()["label"] == "Faulty"
    missing = client.get("/api/cps/NOPE")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "unknown_cp"


def test_security_headers(app: Flask) -> None:
    response = app.test_client().get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_actions_need_a_login(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/api/cps/CP1/stop", headers={"X-CSRFToken": token(client)})
    assert response.status_code == 401
    assert sent(app) == []


def test_a_wrong_password_is_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/api/login", json={"password": "nope"}, headers={"X-CSRFToken": token(client)})
    assert response.status_code == 401
    assert response.get_json()["message"] == "Wrong operator password."
    form = client.post("/login", data={"password": "nope", "csrf_token": token(client)})
    assert form.status_code == 401
    assert "Wrong password" in form.get_data(as_text=True)


def test_stop_one_cp(app: Flask) -> None:
    client = app.test_client()
    csrf = logged_in(client)
    response = client.post("/api/cps/CP1/stop", headers={"X-CSRFToken": csrf})
    assert response.status_code == 202
    [command] = sent(app)
    assert (command.cp_id, command.action, command.operator, command.batch_id) == ("CP1", "stop", "ana", None)


def test_resume_all_shares_a_batch(app: Flask) -> None:
    client = app.test_client()
    csrf = logged_in(client)
    assert client.post("/api/resume-all", headers={"X-CSRFToken": csrf}).status_code == 202
    commands = sent(app)
    assert [c.cp_id for c in commands] == ["CP1", "CP2"]
    assert len({c.batch_id for c in commands}) == 1
    assert commands[0].batch_id


def test_a_post_without_the_csrf_token_changes_nothing(app: Flask) -> None:
    client = app.test_client()
    logged_in(client)
    response = client.post("/api/cps/CP1/stop")
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"
    page = client.post("/cps/CP1/stop", data={"csrf_token": "forged"})
    assert page.status_code == 400
    assert "Nothing was changed" in page.get_data(as_text=True)
    assert sent(app) == []


def test_unknown_cp_and_action(app: Flask) -> None:
    client = app.test_client()
    csrf = logged_in(client)
    unknown = client.post("/api/cps/CP9/stop", headers={"X-CSRFToken": csrf})
    assert unknown.status_code == 404
    assert unknown.get_json()["message"] == "There is no charging point 'CP9'."
    assert client.post("/api/cps/CP1/explode", headers={"X-CSRFToken": csrf}).status_code == 404
    assert sent(app) == []


def test_a_cp_that_cannot_be_looked_up_is_a_503_not_an_unknown_cp(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*_: object) -> list[object]:
        raise ConnectionRefusedError("MariaDB is not answering")

    app.extensions["controls"].database = object()  # any settings: load_cp fails
    monkeypatch.setattr("central_web.controls.load_cp", database_down)
    client = app.test_client()
    answer = client.post("/api/cps/CP9/stop", headers={"X-CSRFToken": logged_in(client)})
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "database_unavailable"
    assert "the database is not answering" in answer.get_json()["message"]
    assert sent(app) == []


def test_a_script_may_use_the_password_as_a_bearer_token(app: Flask) -> None:
    client = app.test_client()
    ok = client.post("/api/cps/CP2/resume", headers={"Authorization": f"Bearer {PASSWORD}"})
    assert ok.status_code == 202
    assert ok.get_json()["operator"] == "api"
    wrong = client.post("/api/cps/CP2/resume", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401


def test_the_form_fallback_redirects_with_a_message(app: Flask) -> None:
    client = app.test_client()
    logged_in(client)
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert csrf is not None
    response = client.post("/all/stop", data={"csrf_token": csrf.group(1)}, follow_redirects=True)
    assert "Stop sent to every charging point." in response.get_data(as_text=True)


def test_login_redirects_only_to_local_paths(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/login", data={"password": PASSWORD, "next": "//evil.example", "csrf_token": token(client)}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_password_and_names() -> None:
    assert password_ok("a", "a")
    assert not password_ok("a", "b")
    assert not password_ok("", "")
    assert operator_name("  Ana   García ") == "Ana García"
    assert operator_name(None) == "operator"
    assert commands_for(["CP1"], OperatorAction.STOP, "x")[0].batch_id is None


def test_healthz(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's own problem file may hold what another process of the test run said.
    monkeypatch.setattr(health, "PROBLEM_PATH", tmp_path / "problem")
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["cps"] == 2
