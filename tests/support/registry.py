"""A registry held in memory, for tests of central-stream's rules: the shape
`rules.Registry` asks for, without MariaDB (central_stream/registry.py fills it
from the database)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from central_stream.rules import CpInfo


@dataclass
class StaticRegistry:
    cps: dict[str, CpInfo] = field(default_factory=dict)
    drivers: set[str] = field(default_factory=set)

    def cp(self, cp_id: str) -> CpInfo | None:
        return self.cps.get(cp_id)

    def has_driver(self, driver_id: str) -> bool:
        return driver_id in self.drivers

    @classmethod
    def of(cls, cps: Iterable[CpInfo], drivers: Iterable[str]) -> StaticRegistry:
        return cls({cp.cp_id: cp for cp in cps}, set(drivers))
