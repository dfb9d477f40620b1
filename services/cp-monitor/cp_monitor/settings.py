"""cp-monitor's settings: environment variables, overridden by the seed's form
`python -m cp_monitor [ENGINE_ADDRESS] [CENTRAL_ADDRESS] [CP_ID] [LOCATION] [PRICE]`.

Without a CP id the monitor's CP is a scaled replica: it takes the identity its
engine already holds, or claims the lowest free auto-provisioned id.

CENTRAL_TLS_CA names the project CA (the central's pki/ca.crt): the monitor then
speaks TLS to central-auth's TLS port and verifies its certificate, for a CP site on
another host than the central. Unset, it speaks plain TCP, as inside the central's
compose network.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from evcharging.central_tls import CentralTls, TlsSetupError
from evcharging.config import env, env_float


@dataclass(frozen=True)
class Settings:
    engine_host: str
    engine_port: int
    central_address: str
    cp_id: str | None
    location: str
    price_per_kwh: Decimal
    enrolment_key: str
    credential_file: Path | None
    check_timeout: float
    check_period: float
    central_tls: CentralTls | None = None
    """Verify central-auth against this CA over TLS; None: plain TCP."""


def split_address(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":") if ":" in address else (address, "", str(default_port))
    try:
        return host, int(port)
    except ValueError:
        raise SystemExit(f"configuration error: {address!r} is not HOST:PORT") from None


def price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SystemExit(f"configuration error: price {text!r} is not a number") from None
    if value <= 0:
        raise SystemExit(f"configuration error: price {text!r} must be above zero")
    return value


def parse(argv: list[str] | None = None) -> Settings:
    default_engine = f"{env('ENGINE_HOST', 'cp-engine')}:{env('ENGINE_HEALTH_PORT', '7100')}"
    parser = argparse.ArgumentParser(prog="cp_monitor", description="Watch one CP engine.")
    parser.add_argument("engine_address", nargs="?", default=env("ENGINE_ADDRESS", default_engine))
    parser.add_argument("central_address", nargs="?", default=env("CENTRAL_ADDRESS", "central-auth:7000"))
    parser.add_argument("cp_id", nargs="?", default=env("CP_ID", "") or None)
    parser.add_argument("location", nargs="?", default=env("CP_LOCATION", "Alicante, scaled charging point"))
    parser.add_argument("price", nargs="?", type=price, default=price(env("CP_PRICE_KWH", "0.350")))
    args = parser.parse_args(argv)
    engine_host, engine_port = split_address(args.engine_address, 7100)
    credential_file = env("CP_CREDENTIAL_FILE", "")
    ca_file = env("CENTRAL_TLS_CA", "")
    return Settings(
        engine_host=engine_host,
        engine_port=engine_port,
        central_address=args.central_address,
        cp_id=args.cp_id,
        location=args.location,
        price_per_kwh=args.price,
        enrolment_key=env("CP_ENROLMENT_KEY"),
        credential_file=Path(credential_file) if credential_file else None,
        check_timeout=env_float("ENGINE_CHECK_TIMEOUT", 1.0),
        check_period=env_float("ENGINE_CHECK_PERIOD", 1.0),
        central_tls=central_tls(ca_file) if ca_file else None,
    )


def central_tls(ca_file: str) -> CentralTls:
    """CENTRAL_TLS_CA, checked now: a monitor that cannot use its CA says so at start."""
    tls = CentralTls(Path(ca_file))
    try:
        tls.context()
    except TlsSetupError as error:
        raise SystemExit(f"configuration error: {error}") from None
    return tls
