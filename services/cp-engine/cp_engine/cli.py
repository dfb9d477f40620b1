"""`charger`: drive the engine in this container from a shell or a script.

    charger status            the CP's id, phase, health, live supply and Kafka link problem
    charger plug | unplug     plug the vehicle in / unplug it
    charger fault | clear     inject a fault (KO) / clear it (OK)
    charger request DRIVER    ask the central for a supply here, for DRIVER
    charger screen            the live screen: the same actions on keys (q quits)
Add --json for machine-readable output. Exit status 1 when the action was refused,
2 when the engine is not answering (or `screen` has no terminal).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cp_engine import screen
from cp_engine.control import Reply, Snapshot, ask
from cp_engine.settings import ControlSocket
from evcharging import simtime
from evcharging.config import load

ACTIONS = ["status", "plug", "unplug", "fault", "clear", "request", "screen"]
NO_TERMINAL = "charger screen needs a terminal: docker compose exec -it cp-engine charger screen"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="charger", description="Drive this charging point.")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("driver_id", nargs="?", help="for 'request': the driver to charge for")
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    args = parser.parse_args(argv)
    if args.action == "request" and not args.driver_id:
        parser.error("request needs a DRIVER id")
    if args.action == "screen" and args.json:
        parser.error("screen draws on the terminal: it has no --json")
    path = load(ControlSocket).path
    if args.action == "screen":
        return show_screen(path)
    try:
        reply = ask(path, {"action": args.action, "driver_id": args.driver_id})
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"charger: the engine is not running here ({path}: {reason})", file=sys.stderr)
        return 2
    print(reply.model_dump_json() if args.json else describe(reply))
    return 0 if reply.ok else 1


def show_screen(path: Path) -> int:
    """The live screen reads keys one at a time: without a terminal (a pipe, `exec -T`)
    it could not, so it says how to get one instead of failing obscurely."""
    if not sys.stdin.isatty():
        print(NO_TERMINAL, file=sys.stderr)
        return 2
    return screen.run_on_terminal(path)


def describe(reply: Reply) -> str:
    lines = [reply.message] if reply.message else []
    lines += reply.errors
    if reply.status is not None:
        lines.append(summary(reply.status))
        if reply.status.kafka_problem is not None:
            lines.append(f"Kafka link: {reply.status.kafka_problem}")
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
