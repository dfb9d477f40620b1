"""The CP records (rules.CpRecord): kept parsed in memory, written to their changelog.

The changelog of Faust's `cp_state` table *is* the state. Faust reads it back:
a worker that starts, or takes partitions over, rebuilds the table from it
before it processes anything (its recovery). Faust does not write it here:
its producer is pure Python and waits for each record's acknowledgement in
turn, which was two thirds of central-stream's time per telemetry report
(docs/performance.md, issue 15's profile). Instead:

- a record that settles a request, an end, a fault... is written at once
  (`save`) and the caller waits for the broker's acknowledgement before it
  moves on — the crash story of agents.py;
- a record that only telemetry changed is kept (`keep`) and written at the next
  `persist()`, once a second at most, just before the telemetry offsets are
  committed. A crash loses the reports applied since the last commit, and they
  are read again — their figures are cumulative, so the record comes back the same.

Every write goes through one idempotent librdkafka producer, which keeps the
order of each partition: the broker acknowledging a partition's last write
means it has the ones before. So `persist()` waits for one acknowledgement per
partition, not one per record, and no Python runs for the others.

The table itself is only read (a CP not parsed yet since its partition was
assigned): what Faust recovered is what the changelog says.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from central_stream.rules import CpRecord, unknown_cp


class ChangelogWriter(Protocol):
    async def __call__(
        self, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        """Queue a changelog record; with `acknowledged`, return what completes on the broker's ack."""
        ...


class CpRecords:
    def __init__(
        self, table: Mapping[str, Any], write: ChangelogWriter, partition_of: Callable[[str], int]
    ) -> None:
        """`table`: Faust's, as recovered (CP id -> record as JSON)."""
        self._table = table
        self._write = write
        self._partition_of = partition_of
        self._parsed: dict[str, CpRecord] = {}
        self._unwritten: dict[str, int] = {}
        """CP id -> partition, of records kept and not written yet."""
        self._revoked: set[int] = set()
        """Partitions revoked by a rebalance that has not assigned any yet."""

    def load(self, cp_id: str) -> CpRecord:
        """The CP's record; a CP never heard of is desconectado (rules.unknown_cp)."""
        record = self._parsed.get(cp_id)
        if record is None:
            raw = self._table.get(cp_id)
            record = CpRecord.model_validate_json(raw) if raw else unknown_cp(cp_id)
            self._parsed[cp_id] = record
        return record

    async def save(self, record: CpRecord, partition: int) -> None:
        """Keep the record and write it now; returns once the broker has it."""
        self._parsed[record.cp_id] = record
        self._unwritten.pop(record.cp_id, None)
        acknowledged = await self._write(*_encoded(record), partition, True)
        if acknowledged is not None:
            await acknowledged

    def keep(self, record: CpRecord, partition: int) -> None:
        """Keep the record; it is written at the next persist()."""
        self._parsed[record.cp_id] = record
        self._unwritten[record.cp_id] = partition

    @property
    def unwritten(self) -> int:
        return len(self._unwritten)

    async def persist(self, partitions: set[int] | None = None) -> int:
        """Write the records kept and not written yet (of these partitions); returns once
        the broker has them all. Returns how many were written."""
        due: dict[int, list[str]] = {}
        for cp_id, partition in list(self._unwritten.items()):
            if partitions is None or partition in partitions:
                due.setdefault(partition, []).append(cp_id)
                del self._unwritten[cp_id]
        acknowledgements = [
            await self._write_partition(partition, cp_ids) for partition, cp_ids in due.items()
        ]
        for acknowledged in acknowledgements:
            if acknowledged is not None:
                await acknowledged
        return sum(len(cp_ids) for cp_ids in due.values())

    async def _write_partition(self, partition: int, cp_ids: list[str]) -> Awaitable[Any] | None:
        """Write the records in order; only the last one's acknowledgement is asked for."""
        acknowledged = None
        for index, cp_id in enumerate(cp_ids):
            last = index == len(cp_ids) - 1
            acknowledged = await self._write(*_encoded(self._parsed[cp_id]), partition, last)
        return acknowledged

    def revoked(self, partitions: set[int]) -> None:
        """These partitions are being handed over in a rebalance. What is parsed of them
        stays until `assigned` says where they went. Call persist(partitions) first, or
        their unwritten records are lost if they go."""
        self._revoked |= partitions

    def assigned(self, partitions: set[int]) -> None:
        """The assignment a rebalance ended with. A partition revoked and given back (an
        eager rebalance revokes them all) keeps its parsed records: Faust recovers only the
        partitions newly assigned, and its table has not seen the records written here
        (module docstring), so reading them again from it would bring back the state of the
        worker's start — a CP connected since would be desconectado. The others are
        another worker's now: what is parsed of them may go stale, so it goes."""
        gone, self._revoked = self._revoked - partitions, set()
        for cp_id in [cp for cp in self._parsed if self._partition_of(cp) in gone]:
            del self._parsed[cp_id]
            self._unwritten.pop(cp_id, None)


def _encoded(record: CpRecord) -> tuple[bytes, bytes]:
    """Key and value as Faust's table reads them back: its key and value types are
    `str`, which Faust serialises as JSON strings (the record's JSON, quoted)."""
    return json.dumps(record.cp_id).encode(), json.dumps(record.model_dump_json()).encode()
