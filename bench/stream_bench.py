"""central-stream benchmark: telemetry throughput of one worker, and recovery after SIGKILL.

    .venv/bin/python bench/stream_bench.py [--cps 200] [--rates 200,400,800] [--seconds 20]

Needs the stack's Kafka and MariaDB up (`docker compose up -d kafka mariadb`);
registers its own CPs and drivers (ids "B<run>..."), runs `python -m central_stream`
as a child process with an app id of its own, and stops it at the end.

Throughput: CPs supply at once, each sending telemetry at an even pace; the
total rate steps up. For each step we measure the end-to-end lag — from a
telemetry message's `sent_at` to the SupplyUpdate the worker publishes for it
— and report the highest rate whose 99th-percentile lag stays under 1 s.

Recovery: with sessions supplying, the worker is SIGKILLed; the CPs keep sending;
a new worker starts. We report the time from its start to the first update of
telemetry sent while it was down, and check the sessions' tickets.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lib"), str(ROOT / "services/central-stream")]

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from evcharging import topics as t  # noqa: E402
from evcharging.codec import decode  # noqa: E402
from evcharging.db import connect, cursor  # noqa: E402
from evcharging.kafka import ContractProducer, consumer_config  # noqa: E402
from evcharging.messages import (  # noqa: E402
    CpConnected,
    CpState,
    CpStatus,
    EngineHealth,
    SupplyAuthorised,
    SupplyEnded,
    SupplyRequest,
    SupplyUpdate,
    Telemetry,
    Ticket,
)
from tests.support.stack import infra_addresses  # noqa: E402

PRICE = Decimal("0.350")


@dataclass
class Seen:
    """What the worker published for this run: update lags and tickets."""

    prefix: str
    lags: list[tuple[float, float]] = field(default_factory=list)  # (received at, lag)
    updates: dict[str, int] = field(default_factory=dict)  # session -> highest seq
    sessions: dict[str, str] = field(default_factory=dict)  # cp -> session
    tickets: dict[str, list[Ticket]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_outputs(bootstrap: str, seen: Seen, stop: threading.Event) -> None:
    consumer = Consumer(consumer_config(bootstrap, f"bench-reader-{uuid.uuid4().hex[:6]}"))
    assignment = []
    for topic in (t.DRIVER_RESPONSES, t.TICKETS, t.CP_STATUS):
        for partition in range(topic.partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic.name, partition), timeout=10)
            assignment.append(TopicPartition(topic.name, partition, high))
    consumer.assign(assignment)
    while not stop.is_set():
        for record in consumer.consume(1000, timeout=0.2):
            if record.error() is not None or not record.value():
                continue
            message = decode(str(record.topic()), record.value())
            if not message.cp_id.startswith(seen.prefix):
                continue
            now = time.time()
            with seen.lock:
                if isinstance(message, SupplyUpdate):
                    seen.lags.append((now, now - message.sent_at.timestamp()))
                    seen.updates[message.session_id] = max(
                        message.seq, seen.updates.get(message.session_id, -1)
                    )
                elif isinstance(message, SupplyAuthorised):
                    seen.sessions[message.cp_id] = message.session_id
                elif isinstance(message, CpStatus) and message.state is CpState.ACTIVE:
                    seen.active.add(message.cp_id)
                elif isinstance(message, Ticket):
                    seen.tickets.setdefault(message.ticket_id, []).append(message)
    consumer.close()


class Bench:
    def __init__(self, cps: int) -> None:
        self.infra = infra_addresses()
        self.tag = uuid.uuid4().hex[:6]
        self.prefix = f"B{self.tag}"
        self.app_id = f"bench-central-stream-{self.tag}"
        self.cps = [f"{self.prefix}C{n:05d}" for n in range(cps)]
        self.drivers = [f"{self.prefix}D{n:05d}" for n in range(cps)]
        self.producer = ContractProducer(self.infra.kafka_bootstrap, "bench", **{"linger.ms": 20})
        self.seen = Seen(self.prefix)
        self.stop_reader = threading.Event()
        self.tmp = Path(tempfile.mkdtemp(prefix="stream-bench-"))
        self.worker: subprocess.Popen[bytes] | None = None
        self.seq: dict[str, int] = {}
        self.kwh: dict[str, Decimal] = {}

    def register(self) -> None:
        connection = connect(self.infra.database)
        with cursor(connection) as cur:
            cur.executemany(
                "INSERT INTO charging_points (id, ubicacion, precio_kwh) VALUES (%s, %s, %s)",
                [(cp, "Bench", PRICE) for cp in self.cps],
            )
            cur.executemany(
                "INSERT INTO conductores (id, nombre, apellidos, email) VALUES (%s, %s, %s, %s)",
                [(d, "Bench", "Driver", f"{d.lower()}@bench.test") for d in self.drivers],
            )
        connection.close()

    def start_group_at_the_end(self) -> None:
        consumer = Consumer(consumer_config(self.infra.kafka_bootstrap, self.app_id))
        offsets = []
        for topic in (
            t.SUPPLY_REQUESTS,
            t.TELEMETRY,
            t.SUPPLY_ENDED,
            t.FAULTS,
            t.RECOVERIES,
            t.CP_CONNECTIONS,
            t.OPERATOR_COMMANDS,
        ):
            for partition in range(topic.partitions):
                _, high = consumer.get_watermark_offsets(TopicPartition(topic.name, partition), timeout=10)
                offsets.append(TopicPartition(topic.name, partition, high))
        consumer.commit(offsets=offsets, asynchronous=False)
        consumer.close()

    def start_worker(self, name: str) -> float:
        database = self.infra.database
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "services/central-stream"), str(ROOT / "lib")]),
            "KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "DB_HOST": database.host,
            "DB_PORT": str(database.port),
            "DB_PASSWORD": database.password,
            "STREAM_APP_ID": self.app_id,
            "STREAM_CP_PREFIX": self.prefix,
            "STREAM_DATA_DIR": str(self.tmp / "data"),
            "HEALTH_FILE": str(self.tmp / "alive"),
            "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
        }
        log = (self.tmp / f"{name}.log").open("wb")
        started = time.monotonic()
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "central_stream"], env=env, stdout=log, stderr=log
        )
        return started

    def stop_worker(self, sig: int = signal.SIGTERM) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(sig)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()

    def wait(self, condition: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}; logs in {self.tmp}")
            time.sleep(0.1)

    def open_sessions(self) -> None:
        for cp in self.cps:
            self.producer.send(
                t.CP_CONNECTIONS, CpConnected(cp_id=cp, connection_id="bench", engine_health=EngineHealth.OK)
            )
        self.producer.flush()
        self.wait(lambda: len(self.seen.active) == len(self.cps), 120, "every CP activado")
        expires = datetime.now(UTC) + timedelta(seconds=60)
        for cp, driver in zip(self.cps, self.drivers, strict=True):
            self.producer.send(
                t.SUPPLY_REQUESTS, SupplyRequest(cp_id=cp, driver_id=driver, expires_at=expires)
            )
        self.producer.flush()
        self.wait(lambda: len(self.seen.sessions) == len(self.cps), 60, "every session authorised")
        self.seq = dict.fromkeys(self.cps, -1)
        self.kwh = dict.fromkeys(self.cps, Decimal(0))

    def supply(self, rate: float, seconds: float) -> None:
        """Send telemetry round-robin over the CPs at `rate` messages a second."""
        interval = 1.0 / rate
        start = time.monotonic()
        n = 0
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed / interval)
            while n < due:
                cp = self.cps[n % len(self.cps)]
                self.seq[cp] += 1
                self.kwh[cp] += Decimal("0.002")
                telemetry = Telemetry(
                    cp_id=cp,
                    session_id=self.seen.sessions[cp],
                    seq=self.seq[cp],
                    kw=Decimal("7.2"),
                    kwh=self.kwh[cp],
                    eur=Decimal(0),
                )
                self.producer.send(t.TELEMETRY, telemetry)
                n += 1
            time.sleep(0.002)
        self.producer.flush()

    def lag_during(self, since: float) -> tuple[int, float, float]:
        with self.seen.lock:
            lags = [lag for at, lag in self.seen.lags if at >= since]
        if len(lags) < 2:
            return len(lags), float("inf"), float("inf")
        return len(lags), statistics.median(lags), statistics.quantiles(lags, n=100)[98]

    def throughput(self, rates: list[float], seconds: float) -> float:
        best = 0.0
        print(f"\nthroughput: {len(self.cps)} CPs supplying, {seconds:g} s per step")
        print(f"{'msg/s sent':>10} {'updates':>8} {'lag p50':>8} {'lag p99':>8}")
        for rate in rates:
            since = time.time() + 3  # skip the ramp-up of the step
            self.supply(rate, seconds)
            self.wait(lambda: self.caught_up(), 60, "the worker catching up")
            count, p50, p99 = self.lag_during(since)
            print(f"{rate:>10.0f} {count:>8} {p50:>7.3f}s {p99:>7.3f}s")
            if p99 < 1.0:
                best = max(best, rate)
            else:
                break
        return best

    def caught_up(self) -> bool:
        with self.seen.lock:
            return all(self.seen.updates.get(self.seen.sessions[cp], -1) >= self.seq[cp] for cp in self.cps)

    def recovery(self, rate: float) -> float:
        print("\nrecovery: SIGKILL mid-session, CPs keep sending, restart")
        pump = threading.Thread(target=self.supply, args=(rate, 8.0))
        pump.start()
        time.sleep(3)
        self.stop_worker(signal.SIGKILL)
        killed_seq = dict(self.seq)
        time.sleep(2)
        started = self.start_worker("after-kill")
        pump.join()
        self.wait(
            lambda: all(
                self.seen.updates.get(self.seen.sessions[cp], -1) > killed_seq[cp] for cp in self.cps[:1]
            ),
            120,
            "updates after the restart",
        )
        first = time.monotonic() - started
        self.wait(self.caught_up, 120, "catching up after the restart")
        caught = time.monotonic() - started
        print(f"first update of telemetry sent while down: {first:.2f} s after the restart")
        print(f"every CP caught up:                         {caught:.2f} s after the restart")
        return first

    def close_sessions(self) -> None:
        for cp in self.cps:
            self.producer.send(
                t.SUPPLY_ENDED,
                SupplyEnded(
                    cp_id=cp,
                    session_id=self.seen.sessions[cp],
                    seq=self.seq[cp] + 1,
                    kwh=self.kwh[cp],
                    eur=Decimal(0),
                ),
            )
        self.producer.flush()
        self.wait(lambda: len(self.seen.tickets) == len(self.cps), 60, "every ticket")
        wrong = [
            cp
            for cp in self.cps
            if {(x.kwh, x.total_eur) for x in self.seen.tickets[self.seen.sessions[cp]]}
            != {(self.kwh[cp], (self.kwh[cp] * PRICE).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))}
        ]
        copies = sum(len(v) for v in self.seen.tickets.values())
        print(
            f"\ntickets: {len(self.seen.tickets)} sessions, {copies} ticket messages, "
            f"{len(wrong)} with a wrong total"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cps", type=int, default=200)
    parser.add_argument("--rates", default="200,400,800,1200,1600")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    bench = Bench(args.cps)
    reader = threading.Thread(
        target=read_outputs, args=(bench.infra.kafka_bootstrap, bench.seen, bench.stop_reader)
    )
    try:
        bench.register()
        bench.start_group_at_the_end()
        reader.start()
        bench.start_worker("worker")
        bench.open_sessions()
        best = bench.throughput([float(r) for r in args.rates.split(",")], args.seconds)
        print(f"\n=> one worker sustains {best:.0f} telemetry msg/s with p99 lag < 1 s")
        bench.recovery(min(best, 200) or 100)
        bench.close_sessions()
    finally:
        bench.stop_worker()
        bench.stop_reader.set()
        if reader.is_alive():
            reader.join(timeout=10)
        print(f"logs: {bench.tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
