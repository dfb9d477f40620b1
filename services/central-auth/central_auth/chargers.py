"""Provision an OCPP charger as a CP: `python -m central_auth.chargers add ID --location TEXT --price EUR`.

A monitor enrols itself (the enrolment key) and gets a credential from central-auth;
a charger cannot: OCPP has no such step, and its password must be set in the charger
before it first connects. So the operator provisions it here (`make ocpp-charger`):
the CP is registered like any other, with a password made for it, of the length
OCPP 1.6 allows, and stored hashed like every CP credential. The password is printed
once, plain and hex-encoded (the form of OCPP's AuthorizationKey), and never again.

Exit status: 0 when provisioned, 1 when the id is taken by a CP with a credential
already (nothing is changed), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal

from pydantic import TypeAdapter, ValidationError

from central_auth.credentials import hash_credential, new_charger_password
from central_auth.store import CpStore, Registration
from evcharging.config import DatabaseSettings, is_identifier, load
from evcharging.db_threads import DatabaseThreads
from evcharging.messages import PricePerKwh

_PRICE: TypeAdapter[Decimal] = TypeAdapter(PricePerKwh)


async def provision(store: CpStore, cp_id: str, location: str, price: Decimal) -> str | None:
    """The new charger's password; None when `cp_id` has a credential already."""
    password = new_charger_password()
    hashed = await asyncio.to_thread(hash_credential, password)
    outcome = await store.register(cp_id, location, price, hashed)
    return None if outcome is Registration.ALREADY_REGISTERED else password


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="central_auth.chargers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="register an OCPP charger as a CP and print its password")
    add.add_argument("cp_id", type=_cp_id, help="the charger's id: the last part of the URL it connects to")
    add.add_argument("--location", required=True, help="where the charger stands, as the page shows it")
    add.add_argument("--price", required=True, type=_price, help="its price in euros per kWh, e.g. 0.35")
    return parser.parse_args(argv)


def _cp_id(text: str) -> str:
    if not is_identifier(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a CP id (1-32 letters, digits, '_', '.' or '-')")
    return text


def _price(text: str) -> Decimal:
    """A price as the contract takes it (evcharging.messages.PricePerKwh)."""
    try:
        return _PRICE.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a price per kWh in euros: above 0, at most 3 decimals, such as 0.35"
        ) from None


async def _add(arguments: argparse.Namespace) -> int:
    store = CpStore(DatabaseThreads(load(DatabaseSettings), give_up_after=30.0))
    try:
        password = await provision(store, arguments.cp_id, arguments.location, arguments.price)
    finally:
        store.close()
    if password is None:
        print(f"{arguments.cp_id} is a CP with a credential already: nothing changed", file=sys.stderr)
        return 1
    print(f"{arguments.cp_id} provisioned. Set in the charger (shown once, keep it secret):")
    print(f"  password (HTTP Basic authentication): {password}")
    print(f"  AuthorizationKey (hex-encoded):       {password.encode().hex()}")
    return 0


def main(argv: list[str]) -> int:
    return asyncio.run(_add(_arguments(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
