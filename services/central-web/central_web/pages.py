"""The HTML pages: the status page, the login form, and form fallbacks for the
operator buttons (the page's script uses the JSON API; without script, the
forms still work and redirect back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from central_web import auth
from central_web.api import controls, live
from central_web.board import STATE_LABELS, STATE_ORDER
from central_web.controls import ActionError

pages = Blueprint("pages", __name__)

BLANK_TILE: dict[str, Any] = {
    "cp_id": "",
    "state": "desconectado",
    "label": "",
    "location": "",
    "price_per_kwh": None,
    "since": "",
    "source": "live",
    "verified": True,
    "driver_id": None,
    "kw": None,
    "kwh": None,
    "eur": None,
    "time_factor": "1",
    "duration_s": None,
    "charging_time": "",
    "time_note": "",
}
STATES = [(state.value, STATE_LABELS[state]) for state in STATE_ORDER]


def render_index(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "index.html",
            state=live().snapshot().data,
            operator=auth.current_operator(),
            blank={**BLANK_TILE, "since": datetime.now(UTC).isoformat()},
            states=STATES,
            query=request.args.get("q", ""),
            error=error,
        ),
        status,
    )


@pages.get("/")
def index() -> ResponseReturnValue:
    return render_index()


@pages.get("/login")
def login() -> ResponseReturnValue:
    return render_template("login.html", operator=auth.current_operator(), next_url=_next(), name="")


@pages.post("/login")
def do_login() -> ResponseReturnValue:
    name = request.form.get("operator")
    if not auth.log_in(request.form.get("password", ""), name):
        page = render_template(
            "login.html",
            operator=None,
            next_url=_next(),
            name=name,
            login_error="Wrong password. Nothing was changed.",
        )
        return page, 401
    return redirect(_next(), 303)


@pages.post("/logout")
def logout() -> ResponseReturnValue:
    auth.log_out()
    return redirect(url_for("pages.index"), 303)


@pages.post("/cps/<cp_id>/<action>")
def act(cp_id: str, action: str) -> ResponseReturnValue:
    return _act(action, cp_id)


@pages.post("/all/<action>")
def act_all(action: str) -> ResponseReturnValue:
    return _act(action, None)


def _act(action: str, cp_id: str | None) -> ResponseReturnValue:
    operator = auth.current_operator()
    if operator is None:
        return redirect(url_for("pages.login"), 303)
    try:
        sent = controls().act(action, cp_id, operator)
    except ActionError as refused:
        return render_index(refused.message, refused.status)
    target = sent[0].cp_id if cp_id else "every charging point"
    flash(f"{action.capitalize()} sent to {target}.", "ok")
    return redirect(url_for("pages.index"), 303)


def _next() -> str:
    """Where to go after login: a local path only (no open redirect)."""
    target = request.values.get("next") or url_for("pages.index")
    return target if target.startswith("/") and not target.startswith("//") else url_for("pages.index")
