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
from typing import Annotated, Any

from pydantic import Field

from cp_engine.simulation import AutoPilot, Charger
from evcharging.config import (
    KAFKA_BOOTSTRAP,
    Flag,
    PositiveDecimal,
    Seconds,
    ServiceSettings,
    is_identifier,
    load,
    variable,
)

USAGE = "python -m cp_engine [-h] [<cp_id> <kafka_broker> | KAFKA_BOOTSTRAP [HEALTH_PORT]]"

TimeFactor = Annotated[Decimal, Field(gt=0, lt=100_000, decimal_places=3, allow_inf_nan=False)]
"""CP_TIME_FACTOR travels in every telemetry record: it must fit the contract (> 0, at
most 3 decimals), or the engine would fail at its first report."""

CONTROL_SOCKET = variable(
    "ENGINE_CONTROL_SOCKET",
    "the Unix socket the `charger` command drives this engine through",
    Path("/tmp/cp-engine.sock"),  # noqa: S108 - one engine per container
)
"""Shared with the `charger` command (ControlSocket), which needs nothing else."""


class ControlSocket(ServiceSettings):
    """Only the control socket: what cp_engine.cli reads."""

    path: Path = CONTROL_SOCKET


class Settings(ServiceSettings):
    """cp-engine's settings."""

    kafka_bootstrap: str = KAFKA_BOOTSTRAP
    health_port: int = variable(
        "ENGINE_HEALTH_PORT",
        "the TCP port the monitor checks this engine's health on (0: any free port)",
        7100,
        ge=0,
        le=65535,
    )
    rated_kw: PositiveDecimal = variable("CP_RATED_KW", "the charger's rated power, kW", Decimal(22))
    time_factor: TimeFactor = variable(
        "CP_TIME_FACTOR",
        "seconds of charging per real second (a demo runs its clock fast); > 0, at most 3 decimals",
        Decimal(1),
    )
    auto_mode: Flag = variable(
        "AUTO_MODE",
        "plug in after an authorisation and unplug after a while, with nobody at the keyboard",
        False,
    )
    auto_plug_delay: Seconds = variable(
        "AUTO_PLUG_DELAY", "with AUTO_MODE: seconds from the authorisation to plugging in", 2.0
    )
    auto_duration: Seconds = variable("AUTO_DURATION", "with AUTO_MODE: seconds of charging", 20.0)
    auto_energy_kwh: PositiveDecimal | None = variable(
        "AUTO_ENERGY_KWH",
        "with AUTO_MODE: unplug after this many kWh instead (unset: after AUTO_DURATION)",
        None,
    )
    telemetry_period: Seconds = variable("TELEMETRY_PERIOD", "seconds between telemetry reports", 1.0)
    control_socket: Path = CONTROL_SOCKET
    cp_id: str | None = None
    """The CP id this engine was started as (the seed's form); None: the one its monitor assigns."""

    @property
    def charger(self) -> Charger:
        return Charger(rated_kw=self.rated_kw, time_factor=self.time_factor)

    @property
    def autopilot(self) -> AutoPilot | None:
        if not self.auto_mode:
            return None
        return AutoPilot(
            plug_delay=self.auto_plug_delay, duration=self.auto_duration, energy=self.auto_energy_kwh
        )


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
    given = {"kafka_bootstrap": args.kafka_bootstrap, "health_port": args.health_port, "cp_id": args.cp_id}
    overrides: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    return load(Settings, **overrides)
