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
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from evcharging.central_tls import CentralTls, TlsSetupError
from evcharging.config import (
    AddressText,
    Expects,
    HostPort,
    Port,
    PositiveDecimal,
    Seconds,
    ServiceSettings,
    is_host_port,
    is_identifier,
    load,
    parse_host_port,
    variable,
)
from evcharging.messages import Identifier

USAGE = (
    "python -m cp_monitor [-h] [<cp_id> <location> <central_ip:port> <kafka_broker> | "
    "[ENGINE_ADDRESS] [CENTRAL_ADDRESS] [CP_ID] [LOCATION] [PRICE]]"
)
ID_RULE = "1–32 letters, digits, '_', '.' or '-'"
SEED_ENGINE_HOST = "127.0.0.1"
"""Where the seed's form looks for its engine unless ENGINE_HOST or ENGINE_ADDRESS says."""
ENGINE_PORT = 7100
"""The engine's health port unless ENGINE_HEALTH_PORT or an address says."""

EngineAddress = Annotated[
    HostPort,
    BeforeValidator(parse_host_port(default_port=ENGINE_PORT)),
    Expects(f"HOST[:PORT], port {ENGINE_PORT} if none"),
]


class Settings(ServiceSettings):
    """cp-monitor's settings."""

    engine_address: EngineAddress | None = variable(
        "ENGINE_ADDRESS",
        "the engine's HOST[:PORT]; unset: ENGINE_HOST and ENGINE_HEALTH_PORT",
        None,
    )
    engine_host_name: str | None = variable(
        "ENGINE_HOST",
        "the engine's host when ENGINE_ADDRESS is unset; unset: the compose service cp-engine, "
        f"and in the seed's form this PC ({SEED_ENGINE_HOST})",
        None,
    )
    engine_health_port: Port = variable(
        "ENGINE_HEALTH_PORT", "the engine's health port when ENGINE_ADDRESS is unset", ENGINE_PORT
    )
    central_address: AddressText = variable(
        "CENTRAL_ADDRESS", "central-auth's HOST:PORT (its TLS port with CENTRAL_TLS_CA)", "central-auth:7000"
    )
    cp_id: Identifier | None = variable(
        "CP_ID",
        "this CP's id; unset: a scaled replica, which takes the id its engine holds or a new one",
        None,
    )
    location: str = variable(
        "CP_LOCATION", "where the CP is, as the operator sees it", "Alicante, scaled charging point"
    )
    price_per_kwh: PositiveDecimal = variable("CP_PRICE_KWH", "the CP's price, € per kWh", Decimal("0.350"))
    enrolment_key: str = variable(
        "CP_ENROLMENT_KEY", "the shared key a new CP proves itself with to central-auth", secret=True
    )
    credential_file: Path | None = variable(
        "CP_CREDENTIAL_FILE",
        "where a hand-run monitor keeps the credential central-auth gave its CP; unset: kept in memory",
        None,
    )
    check_timeout: Seconds = variable(
        "ENGINE_CHECK_TIMEOUT", "seconds the engine has to answer a health check", 1.0
    )
    check_period: Seconds = variable("ENGINE_CHECK_PERIOD", "seconds between health checks", 1.0)
    central_tls_ca: Path | None = variable(
        "CENTRAL_TLS_CA",
        "the project CA (the central's pki/ca.crt): speak TLS to central-auth and verify it; "
        "unset: plain TCP, as inside the central's compose network",
        None,
    )
    seed_form: bool = False
    """Started in the seed's form: then the engine defaults to this PC (module docstring)."""
    kafka_broker: str | None = None
    """The seed's `<kafka_broker>`: accepted and unused (module docstring)."""

    @property
    def engine(self) -> HostPort:
        """ENGINE_ADDRESS, or ENGINE_HOST and ENGINE_HEALTH_PORT. ENGINE_HOST defaults to the
        compose service `cp-engine`, and in the seed's form to this PC, where the seed ran
        its engine beside its monitor."""
        if self.engine_address is not None:
            return self.engine_address
        default_host = SEED_ENGINE_HOST if self.seed_form else "cp-engine"
        return HostPort(self.engine_host_name or default_host, self.engine_health_port)

    @property
    def engine_host(self) -> str:
        return self.engine.host

    @property
    def engine_port(self) -> int:
        return self.engine.port

    @property
    def central_tls(self) -> CentralTls | None:
        """Verify central-auth against this CA over TLS; None: plain TCP."""
        return None if self.central_tls_ca is None else CentralTls(self.central_tls_ca)


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
    given = {
        "engine_address": args.engine_address,
        "central_address": args.central_address,
        "cp_id": args.cp_id,
        "location": args.location,
        "price_per_kwh": args.price,
        "kafka_broker": args.kafka_broker,
    }
    overrides: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    settings = load(Settings, seed_form=args.seed_form, **overrides)
    check_central_tls(settings.central_tls)
    return settings


def check_central_tls(tls: CentralTls | None) -> None:
    """CENTRAL_TLS_CA, checked now: a monitor that cannot use its CA says so at start."""
    if tls is None:
        return
    try:
        tls.context()
    except TlsSetupError as error:
        raise SystemExit(f"configuration error: {error}") from None
