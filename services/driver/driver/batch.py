"""Reading a file of requests: one CP id a line.

Blank lines and `#` comments are skipped so a file can be annotated; a line that
is not a valid CP id is reported with its line number before anything is sent,
rather than failing half-way through a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
"""The contract's Identifier pattern (evcharging.messages.Identifier)."""


class BatchFileError(ValueError):
    """The file has a line that is not a CP id; the text names the line."""


@dataclass(frozen=True)
class BatchLine:
    number: int
    cp_id: str


def parse_batch(text: str) -> list[BatchLine]:
    """The CP ids of a request file, in order, with their line numbers."""
    lines: list[BatchLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        if not _IDENTIFIER.fullmatch(content):
            raise BatchFileError(f"line {number}: {content!r} is not a charging point id")
        lines.append(BatchLine(number, content))
    return lines
