"""Container healthcheck: `python -m central_auth.healthcheck [HOST:PORT]`.

Healthy means serving, not merely running: the check connects, sends a Ping
frame and expects a Pong within a few seconds. Exits 0 when healthy, 1 otherwise.
"""

from __future__ import annotations

import socket
import sys

from central_auth.settings import AuthPort
from evcharging import health
from evcharging.config import HostPort, load
from evcharging.framing import FrameDecoder, FramingError
from evcharging.wire import Ping, Pong, WireError, from_frame, to_frame

TIMEOUT = 3.0


def check(host: str, port: int, timeout: float = TIMEOUT) -> str | None:
    """None when the server answered Ping with Pong; otherwise what went wrong."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(to_frame(Ping()))
            decoder = FrameDecoder()
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return "connection closed before a Pong"
                frames = decoder.feed(chunk)
                if frames:
                    reply = from_frame(frames[0])
                    return None if isinstance(reply, Pong) else f"answered {reply!r}"
    except (OSError, FramingError, WireError) as error:
        return str(error) or type(error).__name__


def main(argv: list[str]) -> int:
    reported = health.problem()
    if reported:
        print(f"unhealthy: {reported}", file=sys.stderr)
        return 1
    try:
        address = HostPort.parse(argv[0]) if argv else HostPort("127.0.0.1", load(AuthPort).port)
    except ValueError as error:
        print(f"usage: python -m central_auth.healthcheck [HOST:PORT]: {error}", file=sys.stderr)
        return 2
    problem = check(*address)
    if problem is None:
        return 0
    print(f"unhealthy: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
