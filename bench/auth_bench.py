"""central-auth under load: N CPs authenticating at once, then heart-beating at 1 Hz.

    .venv/bin/python bench/auth_bench.py --cps 100 1000 [--hold 20]

Starts a real central-auth (a subprocess, against the stack's Kafka and MariaDB),
registers N CPs under a throw-away id prefix, then for each N: opens N
connections at the same moment, authenticates each (timing it), heart-beats at
1 Hz for `--hold` seconds, and samples central-auth's CPU and memory meanwhile.
Prints the authentication latency (p50, p99, max) and central-auth's CPU and
resident memory. Deletes its CPs at the end. Not a test: nothing here can fail
a build, it only measures.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lib"), str(ROOT / "services/central-auth")]

from evcharging.framing import FrameDecoder  # noqa: E402
from evcharging.messages import EngineHealth  # noqa: E402
from evcharging.wire import (  # noqa: E402
    Authenticate,
    Authenticated,
    Heartbeat,
    HeartbeatAck,
    Record,
    Register,
    Registered,
    from_frame,
    to_frame,
)
from tests.integration.central_auth_harness import AuthProcess, TestRun  # noqa: E402
from tests.support.stack import infra_addresses  # noqa: E402


@dataclass
class Round:
    cps: int
    latencies: list[float]
    cpu_auth: float
    cpu_heartbeats: float
    rss_peak_mib: float
    heartbeats: int
    failures: int


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.decoder = reader, writer, FrameDecoder()
        self.pending: list[Record] = []

    async def request(self, record: Record) -> Record:
        self.writer.write(to_frame(record))
        await self.writer.drain()
        while not self.pending:
            chunk = await self.reader.read(4096)
            if not chunk:
                raise ConnectionError("closed")
            self.pending.extend(from_frame(frame) for frame in self.decoder.feed(chunk))
        return self.pending.pop(0)


async def register_all(port: int, run: TestRun, count: int) -> dict[str, str]:
    """Register the CPs, a few at a time per connection: a connection that has not
    authenticated is closed after the handshake deadline."""

    async def batch(numbers: range) -> dict[str, str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connection, credentials = Connection(reader, writer), {}
        for n in numbers:
            cp_id = f"{run.prefix}-B{n:04d}"
            reply = await connection.request(
                Register(
                    enrolment_key=run.enrolment_key,
                    cp_id=cp_id,
                    location="bench",
                    price_per_kwh=Decimal("0.3"),
                )
            )
            assert isinstance(reply, Registered), reply
            credentials[cp_id] = reply.credential
        writer.close()
        return credentials

    batches = await asyncio.gather(*(batch(range(n, min(n + 50, count))) for n in range(0, count, 50)))
    return {cp_id: credential for credentials in batches for cp_id, credential in credentials.items()}


async def one_cp(
    port: int, cp_id: str, credential: str, start: asyncio.Event, authenticated: list[float], hold: float
) -> tuple[float, int]:
    await start.wait()
    began = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = Connection(reader, writer)
    try:
        reply = await connection.request(
            Authenticate(cp_id=cp_id, credential=credential, engine_health=EngineHealth.OK)
        )
        latency = time.perf_counter() - began
        assert isinstance(reply, Authenticated), reply
        authenticated.append(latency)
        beats = 0
        until = time.monotonic() + hold
        while time.monotonic() < until:
            await asyncio.sleep(1.0)  # the 1 Hz heartbeat rate under test
            if isinstance(await connection.request(Heartbeat(engine_health=EngineHealth.OK)), HeartbeatAck):
                beats += 1
        return latency, beats
    finally:
        writer.close()


async def measure(port: int, process: psutil.Process, credentials: dict[str, str], hold: float) -> Round:
    """Everyone authenticates at once, then heart-beats for `hold` s; CPU is measured
    over each phase apart (100 % = one core)."""
    start = asyncio.Event()
    authenticated: list[float] = []
    tasks = [
        asyncio.create_task(one_cp(port, cp, credential, start, authenticated, hold))
        for cp, credential in credentials.items()
    ]
    rss_peak = process.memory_info().rss
    process.cpu_percent(None)
    start.set()
    cpu_auth: float | None = None
    while not all(task.done() for task in tasks):
        await asyncio.sleep(0.1)  # sampling, not synchronising
        rss_peak = max(rss_peak, process.memory_info().rss)
        if cpu_auth is None and len(authenticated) == len(tasks):
            cpu_auth = process.cpu_percent(None)
    cpu_heartbeats = process.cpu_percent(None)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    good = [result for result in results if isinstance(result, tuple)]
    return Round(
        cps=len(credentials),
        latencies=sorted(latency for latency, _ in good),
        cpu_auth=cpu_auth or float("nan"),
        cpu_heartbeats=cpu_heartbeats,
        rss_peak_mib=rss_peak / 2**20,
        heartbeats=sum(beats for _, beats in good),
        failures=len(results) - len(good),
    )


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


def report(result: Round, hold: float) -> None:
    ms = [1000 * latency for latency in result.latencies]
    print(
        f"N={result.cps:5d}  auth p50 {percentile(ms, 0.50):6.0f} ms  p99 {percentile(ms, 0.99):6.0f} ms"
        f"  max {max(ms, default=float('nan')):6.0f} ms"
        f"  | central-auth CPU: auth burst {result.cpu_auth:5.1f} %,"
        f" heart-beating {result.cpu_heartbeats:5.1f} %  RSS peak {result.rss_peak_mib:5.1f} MiB"
        f"  | heartbeats acked {result.heartbeats}"
        f" ({result.heartbeats / hold / max(result.cps, 1):.2f}/s per CP)"
        f"  failures {result.failures}"
    )
    if ms:
        print(f"         auth mean {statistics.mean(ms):.0f} ms")


async def bench(sizes: list[int], hold: float) -> None:
    infra = infra_addresses()
    run = TestRun()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * max(sizes) + 256), hard))
    log = Path(tempfile.mkdtemp(prefix="auth-bench-")) / "central-auth.log"
    server = await asyncio.to_thread(AuthProcess, infra, run, log, AUTH_RESTART_ANNOUNCE_PREFIX=run.prefix)
    try:
        process = psutil.Process(server.process.pid)
        print(f"central-auth pid {server.process.pid}, idle RSS {process.memory_info().rss / 2**20:.1f} MiB")
        credentials = await register_all(server.port, run, max(sizes))
        for size in sizes:
            chosen = dict(list(credentials.items())[:size])
            report(await measure(server.port, process, chosen, hold), hold)
    finally:
        server.stop()
        run.forget_cps(infra)
        print(f"(server log: {log})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cps", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--hold", type=float, default=20.0, help="seconds of heart-beating per round")
    arguments = parser.parse_args()
    asyncio.run(bench(arguments.cps, arguments.hold))


if __name__ == "__main__":
    main()
