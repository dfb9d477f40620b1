"""Which id a CP without one gets: pure choice, given what exists and what is live.

Auto-provisioned ids are the prefix and a number of at least three digits
('CP-A001', 'CP-A002'…). A claim takes the lowest-numbered auto id that no live
connection holds, so recreating a scaled stack hands the same ids out again;
only when every one is in use is a new id made, with the lowest unused number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AutoIdChoice:
    cp_id: str
    is_new: bool
    """True when the id must be created; False when an existing auto id is reused."""


def format_auto_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


def auto_id_number(prefix: str, cp_id: str) -> int | None:
    """The number of an auto id of this prefix, or None if `cp_id` is not one."""
    match = re.fullmatch(re.escape(prefix) + r"(\d{3,})", cp_id)
    return int(match.group(1)) if match else None


def is_auto_id(prefix: str, cp_id: str) -> bool:
    return auto_id_number(prefix, cp_id) is not None


def choose_auto_id(
    prefix: str, reusable: Iterable[str], existing: Iterable[str], taken: Iterable[str]
) -> AutoIdChoice:
    """The id for the next claim.

    `reusable`: the registered auto-provisioned ids; `existing`: every registered id
    with the prefix (auto or not, so a new id never collides with a row); `taken`:
    ids that a live connection holds or a claim in progress has reserved.
    """
    taken_ids = set(taken)
    free = [
        (number, cp_id)
        for cp_id in reusable
        if cp_id not in taken_ids and (number := auto_id_number(prefix, cp_id)) is not None
    ]
    if free:
        return AutoIdChoice(min(free)[1], is_new=False)
    used = {
        number for cp_id in (*existing, *taken_ids) if (number := auto_id_number(prefix, cp_id)) is not None
    }
    number = next(n for n in range(1, len(used) + 2) if n not in used)
    return AutoIdChoice(format_auto_id(prefix, number), is_new=True)
