"""Telemetry's way from the intake to the rules.

Reports come in through the intake's thread (intake.py), are kept newest per CP
(latest.py: only the newest matters, nothing is lost by it), and are applied in
the CP's turn (turns.py), the CP that waited longest first. A report's offset
may be committed once it is applied, or once a newer report of its session
replaced it (intake.Positions), and only after the records it changed are on the
changelog (records.py): so a crash reads again exactly what may not be applied.

What a report *means* is not decided here: `apply` is the worker's (agents.py),
the same path every other CP event takes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from central_stream.effects import Origin
from central_stream.intake import Positions, Record, TelemetryIntake
from central_stream.latest import Latest
from central_stream.records import CpRecords
from central_stream.rules import Inbound
from central_stream.turns import Turns
from evcharging import topics as t
from evcharging.messages import Telemetry

log = logging.getLogger(__name__)

TELEMETRY_TURN = 200
"""Telemetry reports applied in one turn of the loop, at most, before other work gets it."""
NOT_SETTLED_PAUSE = 0.1
"""Seconds between two looks at whether a rebalance or a recovery has ended."""


@dataclass(frozen=True)
class Waiting:
    """A telemetry report taken in and not applied yet (latest.py); its offset is
    committed once it is applied, or once a newer report makes it pointless."""

    telemetry: Telemetry
    origin: Origin

    @staticmethod
    def supersedes(new: Waiting, old: Waiting) -> bool:
        """A newer report of the session, or any report of another (the rules judge that one)."""
        return new.telemetry.session_id != old.telemetry.session_id or new.telemetry.seq > old.telemetry.seq


class TelemetryFlow:
    """Takes the intake's reports in, applies the newest of each CP, commits what is applied."""

    def __init__(
        self,
        new_intake: Callable[[], TelemetryIntake],
        turns: Turns,
        records: CpRecords,
        accept: Callable[[Origin], Awaitable[Inbound | None]],
        apply: Callable[[Inbound, Origin], Awaitable[None]],
        settled: Callable[[], bool],
    ) -> None:
        """`accept`: the event parsed, None if dead-lettered or not this deployment's;
        `apply`: the rules and their effects; `settled`: neither rebalancing nor
        recovering the table (a report applied meanwhile would meet an empty record)."""
        self._new_intake = new_intake
        self._turns = turns
        self._records = records
        self._accept = accept
        self._apply = apply
        self._settled = settled
        self.intake: TelemetryIntake | None = None
        self.partitions: set[int] = set()
        """The partitions of CP events this worker owns, as Faust's assignment signals tell
        (every CP-keyed topic the same numbers): the intake reads these of telemetry."""
        self.positions = Positions()
        self.waiting: Latest[Waiting] = Latest(Waiting.supersedes)
        self._batches: asyncio.Queue[list[Record]] = asyncio.Queue()

    # --- taking reports in ------------------------------------------------------------

    async def take(self) -> None:
        """Start the intake, then keep the newest report of each CP, for as long as the worker runs."""
        self.intake = intake = self._new_intake()
        intake.assign(self.partitions)
        intake.start(self._batches.put_nowait, asyncio.get_running_loop())
        while True:
            batch = await self._batches.get()
            for record in batch:
                # not an error, nor of a partition revoked since it was read
                if record.error() is None and record.partition() in self.partitions:
                    await self.take_report(record)
            intake.taken_in()

    async def take_report(self, record: Record) -> None:
        origin = Origin(
            t.TELEMETRY.name, record.key(), record.value(), record.partition() or 0, record.offset() or 0
        )
        self.positions.taken(origin.partition, origin.offset)
        telemetry = await self._accept(origin)
        if not isinstance(telemetry, Telemetry):
            self.positions.done(origin.partition, origin.offset)  # dead-lettered, or another deployment's
        elif (lost := self.waiting.put(origin.cp_id, Waiting(telemetry, origin))) is not None:
            self.positions.done(lost.origin.partition, lost.origin.offset)

    # --- applying them ----------------------------------------------------------------

    async def apply_all(self) -> None:
        """Apply waiting telemetry, the CP that waited longest first, for as long as the worker runs."""
        while True:
            while not self._settled():
                await asyncio.sleep(NOT_SETTLED_PAUSE)
            await self.waiting.oldest()
            for _ in range(min(TELEMETRY_TURN, len(self.waiting))):
                if not await self.apply_oldest():
                    break  # a rebalance began: the rest waits for its end
            await asyncio.sleep(0)  # a backlog must not keep a request or a fault off the loop

    async def apply_oldest(self) -> bool:
        """Apply the report of the CP that waited longest; False, leaving it waiting, while
        not settled. Checked in the CP's turn, as taking the turn may have waited through
        a rebalance."""
        cp_id = await self.waiting.oldest()
        async with self._turns.of(cp_id):
            if not self._settled():
                return False
            waiting = self.waiting.take(cp_id)  # None if an event of the CP applied it meanwhile
            if waiting is not None and waiting.origin.partition in self.partitions:
                await self._apply_report(waiting)
        return True

    async def apply_waiting(self, cp_id: str) -> None:
        """Apply the CP's waiting report now, out of turn: call in the CP's turn, before
        another of its events, so that an end or a fault bills the newest figures."""
        waiting = self.waiting.take(cp_id)
        if waiting is not None:
            await self._apply_report(waiting)

    async def _apply_report(self, waiting: Waiting) -> None:
        await self._apply(waiting.telemetry, waiting.origin)
        self.positions.done(waiting.origin.partition, waiting.origin.offset)

    # --- assignment and commits --------------------------------------------------------

    def assign(self, partitions: set[int]) -> None:
        """Read the telemetry of these partitions (and no others)."""
        self.partitions = set(partitions)
        if self.intake is not None:
            self.intake.assign(self.partitions)

    async def forget(self, gone: set[int]) -> None:
        """These partitions are another worker's now: commit their telemetry as far as it
        is applied, stop reading them, and drop what waits of them (its to apply).
        Call in everyone's turn, so that no report of theirs is being applied."""
        await self.commit(gone)
        self.assign(self.partitions - gone)
        self.positions.forget(gone)
        self.waiting.drop(lambda waiting: waiting.origin.partition in gone)

    async def commit(self, partitions: set[int] | None = None) -> None:
        """Commit the telemetry of these partitions (all owned: None) as far as it is
        applied, once the records it changed are on the changelog (records.py)."""
        partitions = set(self.partitions) if partitions is None else partitions
        positions = self.positions.committable(partitions)
        await self._records.persist(partitions)
        if self.intake is not None:
            self.intake.commit(positions)

    @property
    def reading(self) -> bool:
        """False once the intake's thread has died (before it started: True)."""
        return self.intake is None or self.intake.alive

    async def close(self, timeout: float) -> None:
        """At shutdown: write what records wait, commit the telemetry applied, stop reading.
        If Kafka does not take the records within `timeout`, nothing more is committed:
        the next worker applies those reports again."""
        intake, self.intake = self.intake, None  # no longer watched
        positions = self.positions.committable(self.partitions)
        try:
            await asyncio.wait_for(self._records.persist(), timeout)
        except TimeoutError:
            log.warning("records not written at shutdown; their telemetry is read again")
            positions = {}
        if intake is not None:
            intake.close(positions)
