"""The `driver` command line.

argparse (standard library) was chosen over click/typer: the app needs
sub-commands plus the seed's positional form, which is easiest to recognise before
parsing, and argparse adds no dependency to an image whose users only ever see `--help`.

The seed's form is `driver <driver_id> <kafka_broker> [file]`; the order this project
documented before, `driver <kafka_broker> <driver_id> [file]`, works too. The broker is
whichever of the first two arguments holds ':' (HOST:PORT, or a list of them): a driver
id never does. Without a file the app asks for CP ids one after another.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driver import commands, texts
from driver.batch import BatchFileError, parse_batch
from driver.bus import BrokerUnreachable, DriverBus, Inbox
from driver.commands import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Timing
from driver.output import JsonOutput, Output
from driver.screen import RichOutput
from driver.settings import DriverSettings
from evcharging import health
from evcharging.config import load
from evcharging.kafka_security import is_sign_in_problem
from evcharging.logs import setup

COMMANDS = ("list", "charge", "run", "tickets", "standby", "interactive")

EPILOG = """\
examples:
  driver list                      charging points, their state and price
  driver charge CP001              request a charge and follow it live
  driver run requests.txt          one request per line, 4 s after each service ends
  driver tickets                   your past tickets
  driver --json charge CP001       JSON Lines for scripts
  python -m driver DRV001 kafka:9092 [file]   the seed's form (the broker as HOST:PORT)

exit status: 0 done, 1 broker unreachable, 2 bad usage, 3 denied, 4 central not answering
"""


def build_parser() -> argparse.ArgumentParser:
    defaults = load(DriverSettings)
    parser = argparse.ArgumentParser(
        prog="driver",
        description="EVCharging driver app: find a charging point, charge, get your ticket.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--driver", "-d", default=defaults.driver_id, help="your driver id [DRIVER_ID]")
    parser.add_argument(
        "--broker",
        "-b",
        default=defaults.kafka_bootstrap,
        help="Kafka bootstrap server [KAFKA_BOOTSTRAP]",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON / JSON Lines)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        help="seconds a request stays valid and the central has to answer (default 10)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", help="list the charging points with their state and price")
    charge = sub.add_parser("charge", help="request a charge at a CP and follow it live")
    charge.add_argument("cp_id", help="the charging point, e.g. CP001")
    run = sub.add_parser("run", help="run a file of CP ids, one request per line")
    run.add_argument("file", type=Path)
    sub.add_parser("tickets", help="show your past tickets")
    sub.add_parser("interactive", help="ask for CP ids one after another")
    sub.add_parser("standby", help="keep the container alive (its default command)")
    return parser


def translate_legacy(argv: list[str]) -> list[str]:
    """The seed's positional form as sub-command arguments (module docstring); anything
    else unchanged. Raises ValueError when the broker cannot be told from the driver id."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS or len(argv) not in (2, 3):
        return argv
    first, second, *rest = argv
    driver_id, broker = driver_and_broker(first, second)
    tail = ["run", rest[0]] if rest else ["interactive"]
    return ["--broker", broker, "--driver", driver_id, *tail]


def driver_and_broker(first: str, second: str) -> tuple[str, str]:
    """(driver id, broker) from the first two arguments, in either order: the broker holds
    ':', a driver id never does."""
    if ":" in second and ":" not in first:
        return first, second
    if ":" in first and ":" not in second:
        return second, first
    raise ValueError(
        f"cannot tell the Kafka broker from the driver id in '{first} {second}': give "
        "<driver_id> <kafka_broker> [file] with the broker as HOST:PORT (e.g. DRV001 localhost:9092)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        arguments = translate_legacy(list(sys.argv[1:] if argv is None else argv))
    except ValueError as error:
        parser.error(str(error))
    args = parser.parse_args(arguments)
    if args.command in (None, "standby"):
        return _standby(args.command is None)
    out: Output = JsonOutput() if args.json else RichOutput()
    if not args.driver and args.command != "list":
        out.error("No driver id: pass --driver DRV001 or set DRIVER_ID.")
        return EXIT_USAGE
    if args.timeout <= 0:
        out.error("--timeout must be a positive number of seconds.")
        return EXIT_USAGE
    bus = DriverBus(args.broker, args.driver or "anonymous", timeout=args.timeout)
    try:
        return _dispatch(args, bus, out, Timing(answer=args.timeout))
    except BrokerUnreachable as unreachable:
        out.error(texts.kafka_unreachable(args.broker, sign_in_problem(), unreachable.detail))
        return EXIT_ERROR
    except KeyboardInterrupt:
        out.error(
            "Stopped following. A supply already authorised goes on; its ticket will be shown "
            "the next time you run driver."
        )
        return 130
    finally:
        bus.close()


def sign_in_problem() -> str | None:
    """Why the broker refused this app's sign-in, if its Kafka client said so (it says it
    in the health problem file: evcharging.kafka_security), or None."""
    problem = health.problem()
    return problem if is_sign_in_problem(problem) else None


def _dispatch(args: argparse.Namespace, bus: DriverBus, out: Output, timing: Timing) -> int:
    if args.command == "list":
        return commands.list_cps(bus, out)
    if args.command == "tickets":
        return commands.show_tickets(bus, out)
    lines = []
    if args.command == "run":
        try:
            lines = parse_batch(commands.read_file(args.file))
        except (OSError, BatchFileError) as error:
            out.error(f"{args.file}: {error.strerror if isinstance(error, OSError) else error}")
            return EXIT_USAGE
        if not lines:
            out.error(f"{args.file} has no CP ids.")
            return EXIT_USAGE
    inbox = bus.inbox()
    try:
        commands.show_missed_tickets(bus, inbox, out)
        if args.command == "charge":
            return commands.exit_status(commands.charge(bus, inbox, out, args.cp_id, timing))
        if args.command == "run":
            summary = commands.run_file(bus, inbox, out, lines, timing)
            return EXIT_OK if summary.failed == 0 else EXIT_ERROR
        return _interactive(bus, inbox, out, timing)
    finally:
        inbox.close()


def _interactive(bus: DriverBus, inbox: Inbox, out: Output, timing: Timing) -> int:
    """The seed's behaviour without a file: ask for a CP id, charge, ask again."""
    while True:
        try:
            answer = input("CP id to charge at ('list', 'tickets' or 'quit'): ").strip()
        except EOFError:
            return EXIT_OK
        if answer.lower() in ("quit", "exit", "q"):
            return EXIT_OK
        if answer.lower() == "list":
            commands.list_cps(bus, out)
        elif answer.lower() == "tickets":
            commands.show_tickets(bus, out)
        elif answer:
            commands.charge(bus, inbox, out, answer, timing)


def _standby(hint: bool) -> int:
    """Keep the container alive and healthy so people can `docker compose exec driver driver …`.

    It is the container's PID 1, so it must stop by itself on SIGTERM (`docker compose
    stop`) or SIGINT: PID 1 gets no signal it has no handler for.
    """
    from evcharging.health import keep_alive
    from evcharging.shutdown import stop_requested

    stop = stop_requested()
    log = setup("driver")
    if hint:
        build_parser().print_help()
    driver_id = load(DriverSettings).driver_id or "?"
    log.info("driver %s ready: docker compose exec driver driver --help", driver_id)
    keep_alive(stop=stop)
    log.info("driver stopped")
    return EXIT_OK
