"""The Flask application, created by gunicorn through `central_web.app:create_app()`.

gunicorn runs the app without `preload_app`, so this factory runs once in every
worker process, after the fork: each worker gets its own board and its own
Kafka feed thread (a consumer cannot be shared across a fork).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]

from central_web import auth
from central_web.api import api, live
from central_web.board import Board
from central_web.controls import Controls
from central_web.feed import Feed, database_threads
from central_web.live import LiveBoard
from central_web.operator import CommandPublisher
from central_web.pages import pages, render_index
from central_web.security import csrf, secure
from central_web.settings import WebSettings
from central_web.ticker import Ticker
from central_web.witness import Witness
from evcharging import health
from evcharging.config import load

MAX_STREAMS_PER_WORKER = 6
"""Server-sent-event streams each hold a thread; leave some for ordinary requests."""


def create_app(settings: WebSettings | None = None, board: LiveBoard | None = None) -> Flask:
    settings = settings or load(WebSettings)
    app = Flask(__name__)
    app.config["OPERATOR_PASSWORD"] = settings.operator_password
    secure(app, settings.secret_key, settings.secure_cookies)
    witness = Witness(timedelta(seconds=settings.central_auth_timeout))
    live_board = board or LiveBoard(Board(witness=witness))
    app.extensions["live"] = live_board
    database = database_threads(settings.database) if settings.database is not None else None
    app.extensions["controls"] = Controls(live_board, CommandPublisher(settings.kafka_bootstrap), database)
    app.extensions["stream_slots"] = threading.BoundedSemaphore(MAX_STREAMS_PER_WORKER)
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.add_template_filter(_num, "num")
    app.add_template_filter(_clock, "clock")

    @app.before_request
    def check_csrf() -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not auth.uses_bearer():
            csrf.protect()

    @app.errorhandler(CSRFError)
    def forged(error: CSRFError) -> ResponseReturnValue:
        message = f"Request refused: {error.description} Reload the page and try again. Nothing was changed."
        if request.path.startswith("/api/"):
            return jsonify(error="csrf", message=message), 400
        return render_index(message, 400)

    @app.errorhandler(404)
    def not_found(_error: Exception) -> ResponseReturnValue:
        if request.path.startswith("/api/"):
            return jsonify(error="not_found", message=f"No such resource: {request.path}"), 404
        return render_index("That page does not exist.", 404)

    @app.errorhandler(405)
    def wrong_method(_error: Exception) -> ResponseReturnValue:
        return jsonify(error="method_not_allowed", message=f"{request.method} is not allowed here."), 405

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        board = live()
        reported = health.problem()
        if reported:
            return jsonify(status="unhealthy", problem=reported), 503
        return jsonify(
            status="ok",
            feed={"connected": board.feed_connected, "caught_up": board.feed_caught_up},
            cps=len(board.cp_ids()),
        )

    if settings.start_feed:
        Feed(live_board, settings.kafka_bootstrap, database, db_every=settings.db_refresh).start()
        Ticker(live_board).start()
    return app


def _num(value: object, places: int) -> str:
    """A decimal string with a fixed number of places; '–' when there is none."""
    if value is None or value == "":
        return "–"
    try:
        return f"{Decimal(str(value)):.{places}f}"
    except InvalidOperation:
        return "–"


def _clock(value: object) -> str:
    """HH:MM:SS of an ISO timestamp (UTC); the page's script shows local time."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%H:%M:%S")
    except ValueError:
        return ""
