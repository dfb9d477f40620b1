"""Who is asking: a logged-in operator (signed session cookie) or a script (bearer token).

The session is Flask's, signed with WEB_SECRET_KEY: it cannot be forged or
edited without the key. Scripts may send the operator password as
`Authorization: Bearer …` instead of logging in.
"""

from __future__ import annotations

from flask import current_app, request, session

from central_web.operator import operator_name, password_ok


def _password() -> str:
    return str(current_app.config["OPERATOR_PASSWORD"])


def bearer_operator() -> str | None:
    """'api' when the request carries the right bearer token, else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and password_ok(token.strip(), _password()):
        return "api"
    return None


def uses_bearer() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def current_operator() -> str | None:
    operator = session.get("operator")
    if isinstance(operator, str):
        return operator
    return bearer_operator()


def log_in(password: str, name: str | None) -> bool:
    """Start an operator session; False (and nothing changes) for a wrong password."""
    if not password_ok(password, _password()):
        return False
    session.clear()  # a fresh session (and CSRF token) after login: no session fixation
    session.permanent = True
    session["operator"] = operator_name(name)
    return True


def log_out() -> None:
    session.clear()
