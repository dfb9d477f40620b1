"""cp-engine's settings: environment variables, overridden by the seed's
command-line form `python -m cp_engine [KAFKA_BOOTSTRAP] [HEALTH_PORT]`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cp_engine.simulation import AutoPilot, Charger
from evcharging.config import env, env_float, env_int


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    health_port: int
    charger: Charger
    autopilot: AutoPilot | None
    telemetry_period: float
    control_socket: Path


def parse(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="cp_engine", description="A charging point's engine.")
    parser.add_argument("kafka_bootstrap", nargs="?", default=env("KAFKA_BOOTSTRAP", "kafka:9092"))
    parser.add_argument("health_port", nargs="?", type=int, default=env_int("ENGINE_HEALTH_PORT", 7100))
    args = parser.parse_args(argv)
    automatic = env("AUTO_MODE", "false").lower() in ("1", "true", "yes", "on")
    energy = env("AUTO_ENERGY_KWH", "")
    time_factor = _time_factor(parser, env("CP_TIME_FACTOR", "1"))
    return Settings(
        kafka_bootstrap=args.kafka_bootstrap,
        health_port=args.health_port,
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
