"""The JSON API: the page's data and the operator actions, for scripts and for the page.

Errors are always `{"error": code, "message": sentence}` with a fitting status.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]

from central_web import auth
from central_web.controls import ActionError, Controls
from central_web.live import LiveBoard

api = Blueprint("api", __name__, url_prefix="/api")

STREAM_SECONDS = 300.0
"""A stream ends after this long and the browser reconnects: no thread is held forever."""
KEEPALIVE_SECONDS = 15.0


def live() -> LiveBoard:
    board: LiveBoard = current_app.extensions["live"]
    return board


def controls() -> Controls:
    value: Controls = current_app.extensions["controls"]
    return value


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error=code, message=message), status


@api.get("/state")
def state() -> ResponseReturnValue:
    return Response(live().snapshot().text, mimetype="application/json")


@api.get("/central")
def central() -> ResponseReturnValue:
    """Whether central-auth is heard from now: while it is not, no state is vouched for."""
    return jsonify(central_auth=live().central_auth())


@api.get("/cps")
def cps() -> ResponseReturnValue:
    return Response(live().snapshot().cps_text, mimetype="application/json")


@api.get("/cps/<cp_id>")
def cp(cp_id: str) -> ResponseReturnValue:
    found = [tile for tile in live().snapshot().data["cps"] if tile["cp_id"] == cp_id]
    if not found:
        return error(404, "unknown_cp", f"There is no charging point '{cp_id}'.")
    return jsonify(found[0])


@api.get("/requests")
def requests_in_progress() -> ResponseReturnValue:
    return jsonify(live().snapshot().data["requests"])


@api.get("/events")
def events() -> ResponseReturnValue:
    return jsonify(live().snapshot().data["events"])


@api.get("/stream")
def stream() -> ResponseReturnValue:
    """Server-sent events: the whole state at once, then again on every change."""
    slots: threading.BoundedSemaphore = current_app.extensions["stream_slots"]
    if not slots.acquire(blocking=False):
        return error(503, "busy", "Too many live viewers on this worker; poll /api/state instead.")
    board = live()

    def events() -> Iterator[str]:
        try:
            version = -1
            remaining = STREAM_SECONDS
            yield "retry: 1000\n\n"
            while remaining > 0:
                snapshot = board.wait_newer(version, KEEPALIVE_SECONDS)
                if board.closed:
                    return  # the worker is stopping; the browser reconnects ("retry" above)
                remaining -= KEEPALIVE_SECONDS if snapshot is None else 0.05
                if snapshot is None:
                    yield ": keep-alive\n\n"
                    continue
                version = snapshot.version
                yield f"id: {version}\nevent: state\ndata: {snapshot.text}\n\n"
        finally:
            slots.release()

    return Response(
        events(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@api.get("/session")
def who() -> ResponseReturnValue:
    return jsonify(operator=auth.current_operator(), csrf_token=generate_csrf())


@api.post("/login")
def login() -> ResponseReturnValue:
    body = _body()
    if not auth.log_in(str(body.get("password", "")), body.get("operator")):
        return error(401, "wrong_password", "Wrong operator password.")
    return jsonify(operator=auth.current_operator(), csrf_token=generate_csrf())


@api.post("/logout")
def logout() -> ResponseReturnValue:
    auth.log_out()
    return jsonify(operator=None)


@api.post("/cps/<cp_id>/<action>")
def act_one(cp_id: str, action: str) -> ResponseReturnValue:
    return _act(action, cp_id)


@api.post("/stop-all")
def stop_all() -> ResponseReturnValue:
    return _act("stop", None)


@api.post("/resume-all")
def resume_all() -> ResponseReturnValue:
    return _act("resume", None)


def _act(action: str, cp_id: str | None) -> ResponseReturnValue:
    operator = auth.current_operator()
    if operator is None:
        return error(401, "login_required", "Log in as the operator first.")
    try:
        sent = controls().act(action, cp_id, operator)
    except ActionError as refused:
        return error(refused.status, refused.code, refused.message)
    return (
        jsonify(
            action=action,
            cp_ids=[c.cp_id for c in sent],
            batch_id=sent[0].batch_id,
            operator=operator,
            message_ids=[c.message_id for c in sent],
        ),
        202,
    )


def _body() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return dict(request.form)
