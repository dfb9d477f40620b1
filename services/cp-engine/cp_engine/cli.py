"""`charger`: drive the engine in this container from a shell or a script.

    charger status            the CP's id, phase, health and live supply
    charger plug | unplug     plug the vehicle in / unplug it
    charger fault | clear     inject a fault (KO) / clear it (OK)
    charger request DRIVER    ask the central for a supply here, for DRIVER
Add --json for machine-readable output. Exit status 1 when the action was refused.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

from cp_engine.control import Reply, Snapshot
from evcharging import simtime
from evcharging.config import env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="charger", description="Drive this charging point.")
    parser.add_argument("action", choices=["status", "plug", "unplug", "fault", "clear", "request"])
    parser.add_argument("driver_id", nargs="?", help="for 'request': the driver to charge for")
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    args = parser.parse_args(argv)
    if args.action == "request" and not args.driver_id:
        parser.error("request needs a DRIVER id")
    path = Path(env("ENGINE_CONTROL_SOCKET", "/tmp/cp-engine.sock"))  # noqa: S108
    try:
        reply = send(path, {"action": args.action, "driver_id": args.driver_id})
    except OSError as error:
        print(f"charger: the engine is not running here ({path}: {error.strerror})", file=sys.stderr)
        return 2
    print(reply.model_dump_json() if args.json else describe(reply))
    return 0 if reply.ok else 1


def send(path: Path, request: dict[str, str | None]) -> Reply:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect(str(path))
        connection.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            data += chunk
    return Reply.model_validate_json(data)


def describe(reply: Reply) -> str:
    lines = [reply.message] if reply.message else []
    lines += reply.errors
    if reply.status is not None:
        lines.append(summary(reply.status))
    return "\n".join(lines)


def summary(status: Snapshot) -> str:
    text = f"{status.cp_id or '(no id yet)'}: {status.phase}, health {status.health}"
    if status.session_id:
        text += f"; session {status.session_id} for {status.driver_id}"
        if status.kwh is not None:
            text += f": {status.kw} kW, {status.kwh} kWh, {status.eur} €"
        if status.duration_s is not None:
            note = simtime.note(status.time_factor)
            text += f" in {simtime.clock(status.duration_s)} of charging" + (f" ({note})" if note else "")
    return text


if __name__ == "__main__":
    sys.exit(main())
