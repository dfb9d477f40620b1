"""Tables over the contract's enumerations (CpState, DenialReason, EndReason) that
cover every member, checked when the module that holds them is imported.

A state added to `CpState` and forgotten in a label, a colour or a rule would
otherwise be a KeyError the first time a CP reaches it, in production. With
`every_member`, the service that forgot it does not start, and the first unit
test that imports it fails, naming the members missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)
V = TypeVar("V")


class NotExhaustive(TypeError):
    """A table over an enumeration leaves some of its members out."""


def every_member(enum: type[E], table: Mapping[E, V]) -> dict[E, V]:
    """`table`, once it has an entry for every member of `enum`."""
    _check(enum, table.keys())
    return dict(table)


def every_member_in_order(enum: type[E], order: tuple[E, ...]) -> tuple[E, ...]:
    """`order`, once it names every member of `enum` exactly once."""
    _check(enum, order)
    if len(set(order)) != len(order):
        raise NotExhaustive(f"{enum.__name__} members named twice in {[m.name for m in order]}")
    return order


def _check(enum: type[E], keys: Iterable[E]) -> None:
    present = set(keys)
    missing = [member.name for member in enum if member not in present]
    if missing:
        raise NotExhaustive(f"no entry for {enum.__name__} {', '.join(missing)}")
