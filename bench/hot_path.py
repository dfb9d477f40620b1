"""central-stream's CPU per telemetry report, in this process: the profile behind
`make bench`'s container figure, without Kafka, MariaDB or Docker.

    PYTHONPATH=services/central-stream .venv/bin/python -m bench.hot_path [--reports N] [--profile]

One worker's agent (CentralStream, on a Faust app in test mode) applies N
telemetry reports of one supplying CP, each as the intake hands it over: taken
in, kept as the CP's newest, applied in the CP's turn. The sink encodes every
message as the real one does and drops it; the changelog writes are counted.
What is left out is librdkafka's own work (in C, on its threads) and the
event loop's reading. So this is the Python the worker pays per report, to
compare two versions of the code (`git stash`, run, `git stash pop`, run).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from confluent_kafka import Message as Record

from central_stream.agents import CentralStream
from central_stream.app import create_app
from central_stream.registry import CachedRegistry, Snapshot
from central_stream.rules import CpInfo, SupplyRow
from central_stream.settings import StreamSettings
from evcharging import topics as t
from evcharging.codec import encode
from evcharging.messages import (
    CpConnected,
    CpState,
    EngineHealth,
    Message,
    SupplyAuthorised,
    SupplyRequest,
    SupplyUpdate,
    Telemetry,
)

CP, DRIVER = "HOT1", "DRIVER1"


class Sink:
    """Encodes what central-stream sends, as librdkafka would be handed it, and keeps the answers."""

    def __init__(self) -> None:
        self.answers: list[Message] = []
        self.live = 0
        self.writes = 0

    async def publish(self, topic: t.Topic, message: Message) -> Awaitable[Any]:
        encode(message)
        self.answers.append(message)
        return _done()

    async def publish_live(self, topic: t.Topic, message: Message) -> None:
        encode(message)
        self.live += isinstance(message, SupplyUpdate)

    async def write(
        self, topic: str, key: bytes, value: bytes, partition: int, acknowledged: bool
    ) -> Awaitable[Any] | None:
        self.writes += 1
        return _done() if acknowledged else None


class Store:
    """MariaDB, answering at once."""

    async def save_supply(self, row: SupplyRow) -> None: ...

    async def save_cp_states(self, states: list[tuple[str, CpState, datetime]]) -> None: ...

    async def authorised_at(self, session_id: str) -> datetime | None:
        return None


class Registry:
    async def load_registry(self) -> Snapshot:
        return Snapshot({CP: CpInfo(CP, "Bench street", Decimal("0.350"))}, frozenset({DRIVER}))

    async def find_registered(self, cp_ids: Any, driver_ids: Any) -> Snapshot:
        return Snapshot()


def _done() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


async def measure(reports: int, profile: cProfile.Profile | None) -> tuple[float, int]:
    """CPU µs per report over `reports` reports, and how many changelog writes they made."""
    settings = StreamSettings(kafka_bootstrap="localhost:1", app_id=f"hot-{uuid.uuid4().hex[:8]}")
    app, sink, registry = create_app(settings), Sink(), CachedRegistry(Registry())
    await registry.reload()
    stream = CentralStream(app, settings, Store(), registry, sink)
    app.finalize()
    async with stream.agent.test_context() as agent:
        session = await _supplying(stream, agent, sink)
        stream.telemetry.assign({0})
        cast(Any, app.tables).recovery.completed.set()  # nothing to recover in test mode
        records = [_record(session, seq) for seq in range(reports)]
        started = time.process_time()
        if profile:
            profile.enable()
        for record in records:
            await stream.telemetry.take_report(record)  # as the intake hands it over, without its thread
            await stream.telemetry.apply_oldest()
        await stream.records.persist()
        if profile:
            profile.disable()
        spent = time.process_time() - started
    if sink.live != reports:
        raise SystemExit(f"only {sink.live} of {reports} reports were applied: the measure would lie")
    return spent / reports * 1e6, sink.writes


async def _supplying(stream: CentralStream, agent: Any, sink: Sink) -> str:
    """Connect the CP and authorise a driver's request: the session the reports belong to."""
    expires = datetime.now(UTC) + timedelta(minutes=5)
    for topic, message in [
        (t.CP_CONNECTIONS, CpConnected(cp_id=CP, connection_id="c", engine_health=EngineHealth.OK)),
        (t.SUPPLY_REQUESTS, SupplyRequest(cp_id=CP, driver_id=DRIVER, expires_at=expires)),
    ]:
        agent.original_channel = stream.app.topic(topic.name)  # the topic the test agent reports
        await agent.put(encode(message), key=CP.encode(), partition=0)
    (answer,) = [m for m in sink.answers if isinstance(m, SupplyAuthorised)]
    return answer.session_id


def _record(session: str, seq: int) -> Record:
    """A telemetry report as librdkafka hands it to the intake."""
    kwh = Decimal(seq + 1) / 1000
    value = encode(Telemetry(cp_id=CP, session_id=session, seq=seq, kw=Decimal(7), kwh=kwh, eur=Decimal(0)))
    return Record(topic=t.TELEMETRY.name, partition=0, offset=seq, key=CP.encode(), value=value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="also print the 25 costliest functions")
    args = parser.parse_args()
    if args.reports < 1:
        parser.error("--reports must be at least 1")
    profile = cProfile.Profile() if args.profile else None
    per_report, writes = asyncio.run(measure(args.reports, profile))
    print(
        f"{per_report:.1f} µs of CPU per telemetry report ({args.reports} reports, {writes} changelog writes)"
    )
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
