"""CP records: kept parsed, written at once when settled, written by partition when
only telemetry changed them, and the broker asked once per partition."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from central_stream.records import CpRecords
from central_stream.rules import CpRecord
from tests.support.waiting import wait_until_async


@dataclass
class Changelog:
    """Records the writes; the acknowledgements asked for stay pending until `acknowledge()`."""

    writes: list[tuple[str, int, bool]] = field(default_factory=list)
    pending: list[asyncio.Future[None]] = field(default_factory=list)

    async def __call__(
        self, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        """Keys and values as Faust's table reads them back: JSON strings."""
        cp_id = json.loads(key)
        assert CpRecord.model_validate_json(json.loads(value)).cp_id == cp_id
        self.writes.append((cp_id, partition, acknowledged))
        if not acknowledged:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future

    def acknowledge(self) -> None:
        for future in self.pending:
            future.set_result(None)
        self.pending.clear()


PARTITION = {"CP1": 0, "CP2": 0, "CP3": 1}


def records(table: dict[str, str] | None = None) -> tuple[CpRecords, Changelog]:
    changelog = Changelog()
    return CpRecords(table or {}, changelog, PARTITION.__getitem__), changelog


def test_a_record_comes_from_the_recovered_table_and_an_unknown_cp_is_disconnected() -> None:
    kept, _ = records({"CP1": CpRecord(cp_id="CP1", connected=True).model_dump_json()})
    assert kept.load("CP1").connected
    assert kept.load("CP3") == CpRecord(cp_id="CP3")


def test_save_returns_once_the_broker_has_the_record() -> None:
    async def scenario() -> None:
        kept, changelog = records()
        saving = asyncio.ensure_future(kept.save(CpRecord(cp_id="CP1", connected=True), 0))
        await wait_until_async(lambda: changelog.pending, 1, "the write's acknowledgement asked for")
        assert changelog.writes == [("CP1", 0, True)]
        assert not saving.done()
        changelog.acknowledge()
        await asyncio.wait_for(saving, 1)
        assert kept.load("CP1").connected
        assert kept.unwritten == 0

    asyncio.run(scenario())


def test_kept_records_are_written_at_persist_with_one_acknowledgement_per_partition() -> None:
    async def scenario() -> None:
        kept, changelog = records()
        for cp_id in PARTITION:
            kept.keep(CpRecord(cp_id=cp_id, connected=True), PARTITION[cp_id])
        kept.keep(CpRecord(cp_id="CP1", stopped=True), 0)  # written once, as it is now
        assert changelog.writes == []
        persisting = asyncio.ensure_future(kept.persist())
        await wait_until_async(lambda: len(changelog.writes) == 3, 1, "the kept records written")
        assert sorted(changelog.writes) == [("CP1", 0, False), ("CP2", 0, True), ("CP3", 1, True)]
        assert not persisting.done()
        changelog.acknowledge()
        assert await asyncio.wait_for(persisting, 1) == 3
        assert await kept.persist() == 0

    asyncio.run(scenario())


def test_persist_of_some_partitions_leaves_the_others_unwritten() -> None:
    async def scenario() -> None:
        kept, changelog = records()
        kept.keep(CpRecord(cp_id="CP1"), 0)
        kept.keep(CpRecord(cp_id="CP3"), 1)
        persisting = asyncio.ensure_future(kept.persist({1}))
        await wait_until_async(lambda: changelog.pending, 1, "the write's acknowledgement asked for")
        changelog.acknowledge()
        assert await persisting == 1
        assert changelog.writes == [("CP3", 1, True)]
        assert kept.unwritten == 1

    asyncio.run(scenario())


def test_a_saved_record_is_not_written_again_and_a_partition_gone_is_read_again_if_it_comes_back() -> None:
    async def scenario() -> None:
        table = {"CP3": CpRecord(cp_id="CP3", connected=True).model_dump_json()}
        kept, changelog = records(table)
        kept.keep(CpRecord(cp_id="CP1", engine_ok=False), 0)
        saving = asyncio.ensure_future(kept.save(CpRecord(cp_id="CP1", stopped=True), 0))
        await wait_until_async(lambda: changelog.pending, 1, "the write's acknowledgement asked for")
        changelog.acknowledge()
        await saving
        assert kept.unwritten == 0
        kept.keep(CpRecord(cp_id="CP3"), 1)
        kept.revoked({0, 1})
        kept.assigned({0})
        assert kept.unwritten == 0
        assert kept.load("CP3").connected, "read again from the table, as recovered"
        assert kept.load("CP1").stopped

    asyncio.run(scenario())


def test_a_partition_revoked_and_assigned_back_keeps_what_was_written_since_the_recovery() -> None:
    """An eager rebalance (another worker joins) revokes every partition, then gives some
    back: the table Faust recovered at the start knows nothing of what was written since."""

    async def scenario() -> None:
        kept, changelog = records({})  # recovered before CP1 and CP3 connected
        saving = asyncio.gather(
            kept.save(CpRecord(cp_id="CP1", connected=True), 0),
            kept.save(CpRecord(cp_id="CP3", connected=True), 1),
        )
        await wait_until_async(lambda: len(changelog.pending) == 2, 1, "both writes asked for")
        changelog.acknowledge()
        await saving
        kept.revoked({0, 1})
        kept.assigned({0})
        assert kept.load("CP1").connected, "kept through the rebalance"
        assert not kept.load("CP3").connected, "partition 1 is another worker's: read from the table"

    asyncio.run(scenario())
