"""cp-engine's settings: environment variables, overridden by a command line in
either of two forms:

    python -m cp_engine <cp_id> <kafka_broker>             the seed's form
    python -m cp_engine [KAFKA_BOOTSTRAP [HEALTH_PORT]]    this project's form

Two arguments are the project's form when the second is a whole number (a health
port), and the seed's form otherwise; the seed's CP id must then be a CP id, which
never holds ':' — so `kafka:9092 7100` and `CP001 kafka:9092` cannot be mistaken for
each other. One argument is always KAFKA_BOOTSTRAP.

In the seed's form the health port is ENGINE_HEALTH_PORT (7100), and the CP id is the
one the engine expects: the engine still learns its identity from its monitor (after
central-auth accepted it), but refuses a monitor that assigns it another id
(cp_engine.monitor_link). Without a CP id it takes whichever its monitor assigns,
which is how scaled CPs get theirs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cp_engine.simulation import AutoPilot, Charger
from evcharging.config import env, env_float, env_int, is_identifier

USAGE = "python -m cp_engine [-h] [<cp_id> <kafka_broker> | KAFKA_BOOTSTRAP [HEALTH_PORT]]"


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    health_port: int
    charger: Charger
    autopilot: AutoPilot | None
    telemetry_period: float
    control_socket: Path
    cp_id: str | None = None
    """The CP id this engine was started as (the seed's form); None: the one its monitor assigns."""


@dataclass(frozen=True)
class Arguments:
    """What a command line says; None where it says nothing (the environment decides)."""

    cp_id: str | None = None
    kafka_bootstrap: str | None = None
    health_port: int | None = None


def read_arguments(values: list[str]) -> Arguments:
    """The positional arguments, in the seed's form or the project's (module docstring).

    Pure, so the rule that tells the forms apart is tested on its own. Raises ValueError
    with a sentence that names the argument at fault."""
    if len(values) > 2:
        raise ValueError(f"at most two arguments, not {len(values)}: {' '.join(values)}")
    if any(not value.strip() for value in values):
        raise ValueError("an argument is empty: give the CP id, the Kafka broker or the health port")
    if len(values) < 2:
        return Arguments(kafka_bootstrap=values[0] if values else None)
    first, second = values
    if second.isdigit():
        return Arguments(kafka_bootstrap=first, health_port=int(second))
    if not is_identifier(first):
        raise ValueError(
            f"<cp_id> {first!r} is not a CP id (1–32 letters, digits, '_', '.' or '-'), and "
            f"HEALTH_PORT {second!r} is not a whole number: give <cp_id> <kafka_broker> "
            "or KAFKA_BOOTSTRAP HEALTH_PORT"
        )
    return Arguments(cp_id=first, kafka_bootstrap=second)


def parse(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="cp_engine",
        usage=USAGE,
        description="A charging point's engine. Arguments override KAFKA_BOOTSTRAP and ENGINE_HEALTH_PORT.",
        epilog="Two arguments are KAFKA_BOOTSTRAP HEALTH_PORT when the second is a whole number, "
        "else the seed's <cp_id> <kafka_broker>: the engine then refuses a monitor that assigns "
        "it another CP id.",
    )
    parser.add_argument("arguments", nargs="*", metavar="ARGUMENT", help=argparse.SUPPRESS)
    try:
        args = read_arguments(parser.parse_args(argv).arguments)
    except ValueError as error:
        parser.error(str(error))
    automatic = env("AUTO_MODE", "false").lower() in ("1", "true", "yes", "on")
    energy = env("AUTO_ENERGY_KWH", "")
    time_factor = _time_factor(parser, env("CP_TIME_FACTOR", "1"))
    return Settings(
        kafka_bootstrap=args.kafka_bootstrap or env("KAFKA_BOOTSTRAP", "kafka:9092"),
        health_port=env_int("ENGINE_HEALTH_PORT", 7100) if args.health_port is None else args.health_port,
        charger=Charger(rated_kw=Decimal(env("CP_RATED_KW", "22")), time_factor=time_factor),
        autopilot=AutoPilot(
            plug_delay=env_float("AUTO_PLUG_DELAY", 2.0),
            duration=env_float("AUTO_DURATION", 20.0),
            energy=Decimal(energy) if energy else None,
        )
        if automatic
        else None,
        telemetry_period=env_float("TELEMETRY_PERIOD", 1.0),
        control_socket=Path(env("ENGINE_CONTROL_SOCKET", "/tmp/cp-engine.sock")),  # noqa: S108
        cp_id=args.cp_id,
    )


def _time_factor(parser: argparse.ArgumentParser, text: str) -> Decimal:
    """CP_TIME_FACTOR travels in every telemetry record: it must fit the contract
    (> 0, at most 3 decimals), or the engine would fail at its first report."""
    try:
        factor = Decimal(text)
        fits = factor.is_finite() and 0 < factor < 100_000 and factor == factor.quantize(Decimal("0.001"))
    except ArithmeticError:
        fits = False
    if not fits:
        parser.error(f"CP_TIME_FACTOR must be a number > 0 with at most 3 decimals, not {text!r}")
    return factor
