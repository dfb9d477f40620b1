"""cp-monitor's settings: environment variables, overridden by a command line in
either of two forms:

    python -m cp_monitor <cp_id> <location> <central_ip:port> <kafka_broker>   the seed's form
    python -m cp_monitor [ENGINE_ADDRESS] [CENTRAL_ADDRESS] [CP_ID] [LOCATION] [PRICE]

Four arguments are the seed's form when the first is not an address (a CP id never
holds ':') and the third or the fourth is one (HOST:PORT); in this project's form
the third is a CP id, so it never is. The seed's form is then checked strictly: a CP
id, and the central as HOST:PORT.

In the seed's form the monitor finds its engine at ENGINE_ADDRESS, or at ENGINE_HOST
(127.0.0.1 here: the seed ran the engine on the monitor's PC) and ENGINE_HEALTH_PORT
(7100); the price is CP_PRICE_KWH. Its `<kafka_broker>` is accepted and unused: a
monitor has no Kafka client, it reports faults and recoveries through central-auth
(which publishes them), so it needs no Kafka address or credentials.

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
from evcharging.config import env, env_float, is_host_port, is_identifier

USAGE = (
    "python -m cp_monitor [-h] [<cp_id> <location> <central_ip:port> <kafka_broker> | "
    "[ENGINE_ADDRESS] [CENTRAL_ADDRESS] [CP_ID] [LOCATION] [PRICE]]"
)
ID_RULE = "1–32 letters, digits, '_', '.' or '-'"
SEED_ENGINE_HOST = "127.0.0.1"
"""Where the seed's form looks for its engine unless ENGINE_HOST or ENGINE_ADDRESS says."""


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
    kafka_broker: str | None = None
    """The seed's `<kafka_broker>`: accepted and unused (module docstring)."""


@dataclass(frozen=True)
class Arguments:
    """What a command line says; None where it says nothing (the environment decides)."""

    engine_address: str | None = None
    central_address: str | None = None
    cp_id: str | None = None
    location: str | None = None
    price: str | None = None
    kafka_broker: str | None = None

    @property
    def seed_form(self) -> bool:
        return self.kafka_broker is not None


def is_seed_form(values: list[str]) -> bool:
    """`<cp_id> <location> <central_ip:port> <kafka_broker>`, told from this project's
    form by where the addresses are (module docstring)."""
    return len(values) == 4 and ":" not in values[0] and (":" in values[2] or ":" in values[3])


def read_arguments(values: list[str]) -> Arguments:
    """The positional arguments, in the seed's form or the project's.

    Pure, so the rule that tells the forms apart is tested on its own. Raises ValueError
    with a sentence that names the argument at fault."""
    if len(values) > 5:
        raise ValueError(f"at most five arguments, not {len(values)}")
    return _seed_form(values) if is_seed_form(values) else _project_form(values)


def _seed_form(values: list[str]) -> Arguments:
    cp_id, location, central, broker = values
    if not is_identifier(cp_id):
        raise ValueError(f"<cp_id> {cp_id!r} is not a CP id ({ID_RULE})")
    if not location.strip():
        raise ValueError("<location> is empty: say where the CP is, e.g. 'Alicante, Calle Mayor 3'")
    if not is_host_port(central):
        raise ValueError(f"<central_ip:port> {central!r} is not HOST:PORT (central-auth's address and port)")
    if not broker.strip():
        raise ValueError("<kafka_broker> is empty")
    return Arguments(central_address=central, cp_id=cp_id, location=location, kafka_broker=broker)


def _project_form(values: list[str]) -> Arguments:
    """`[ENGINE_ADDRESS] [CENTRAL_ADDRESS] [CP_ID] [LOCATION] [PRICE]`; an empty one is not given."""
    given = [value or None for value in values] + [None] * (5 - len(values))
    engine, central, cp_id, location, price_text = given
    if central is not None and not is_host_port(central):
        raise ValueError(f"CENTRAL_ADDRESS {central!r} is not HOST:PORT")
    if cp_id is not None and not is_identifier(cp_id):
        raise ValueError(f"CP_ID {cp_id!r} is not a CP id ({ID_RULE})")
    return Arguments(engine, central, cp_id, location, price_text)


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
    parser = argparse.ArgumentParser(
        prog="cp_monitor",
        usage=USAGE,
        description="Watch one CP engine and keep its CP authenticated with central-auth.",
        epilog="Four arguments are the seed's form when the first has no ':' and the third or "
        "fourth is HOST:PORT. Its <kafka_broker> is accepted and unused: the monitor reports "
        "through central-auth. The engine is then at ENGINE_ADDRESS, or ENGINE_HOST (default "
        "127.0.0.1):ENGINE_HEALTH_PORT (default 7100); the price is CP_PRICE_KWH.",
    )
    parser.add_argument("arguments", nargs="*", metavar="ARGUMENT", help=argparse.SUPPRESS)
    try:
        args = read_arguments(parser.parse_args(argv).arguments)
    except ValueError as error:
        parser.error(str(error))
    engine_host, engine_port = split_address(args.engine_address or engine_address(args.seed_form), 7100)
    credential_file = env("CP_CREDENTIAL_FILE", "")
    ca_file = env("CENTRAL_TLS_CA", "")
    return Settings(
        engine_host=engine_host,
        engine_port=engine_port,
        central_address=args.central_address or env("CENTRAL_ADDRESS", "central-auth:7000"),
        cp_id=args.cp_id if args.cp_id is not None else env("CP_ID", "") or None,
        location=args.location or env("CP_LOCATION", "Alicante, scaled charging point"),
        price_per_kwh=price(args.price or env("CP_PRICE_KWH", "0.350")),
        enrolment_key=env("CP_ENROLMENT_KEY"),
        credential_file=Path(credential_file) if credential_file else None,
        check_timeout=env_float("ENGINE_CHECK_TIMEOUT", 1.0),
        check_period=env_float("ENGINE_CHECK_PERIOD", 1.0),
        central_tls=central_tls(ca_file) if ca_file else None,
        kafka_broker=args.kafka_broker,
    )


def engine_address(seed_form: bool) -> str:
    """The engine's address when no argument gives it: ENGINE_ADDRESS, or ENGINE_HOST and
    ENGINE_HEALTH_PORT. ENGINE_HOST defaults to the compose service `cp-engine`, and in
    the seed's form to this PC, where the seed ran its engine beside its monitor."""
    host = env("ENGINE_HOST", SEED_ENGINE_HOST if seed_form else "cp-engine")
    return env("ENGINE_ADDRESS", f"{host}:{env('ENGINE_HEALTH_PORT', '7100')}")


def central_tls(ca_file: str) -> CentralTls:
    """CENTRAL_TLS_CA, checked now: a monitor that cannot use its CA says so at start."""
    tls = CentralTls(Path(ca_file))
    try:
        tls.context()
    except TlsSetupError as error:
        raise SystemExit(f"configuration error: {error}") from None
    return tls
