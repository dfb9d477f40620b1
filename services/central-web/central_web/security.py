"""HTTP hardening shared by every response: headers, cookies, CSRF wiring.

Flask-WTF's CSRFProtect was chosen for CSRF because it is the maintained,
widely used implementation for Flask (signed, per-session tokens checked on
every unsafe method). It runs for every POST made with the session cookie;
scripts that authenticate with an `Authorization: Bearer` header instead are
not exposed to CSRF (a browser never adds that header cross-site) and skip it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

csrf = CSRFProtect()


def secure(app: Flask, secret_key: str, secure_cookies: bool) -> None:
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="evcharging_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in app.before_request, skipping bearer-token calls
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session: a page left open still works
        WTF_CSRF_SSL_STRICT=secure_cookies,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    csrf.init_app(app)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
