"""The fixed scenario set of `make bench`, in the order it runs:

1. raw Kafka baseline on the stack's broker (round trip, produce, consume);
2. sustained telemetry throughput, with 1 and then 2 central-stream workers:
   500 CPs supplying, their total telemetry rate raised step by step until the
   driver-side lag passes 1 s (p99);
3. for each load level (100, 1,000, 5,000, 10,000 CPs): bring the fleet up to
   that many CPs, start a supply on all but the probes (telemetry at 1 Hz each),
   then for `hold` seconds time probe drivers charging again and again, probe
   CPs failing again and again, drivers following a supply and the page's API —
   all in a process of their own (bench/prober.py) — sample every service's
   CPU and memory, and read central-stream's exact CPU time (bench/cputime.py);
   then end every supply and check each session's ticket against what its
   engine reported.

Each wait has a limit; what did not happen in time is reported, not fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench import baseline, cputime, loop, profiling
from bench.drivers import Drivers, merged, route
from bench.feed import Feed
from bench.fleet import Fleet
from bench.prober import ProbeProcess, ProbeSetup
from bench.probes import PATIENCE, wait_until
from bench.resources import Sampler
from bench.stack import Stack
from bench.stats import Latency, percentile
from evcharging import messages as m
from evcharging.db import connect, cursor
from evcharging.kafka import ContractProducer

THROUGHPUT_CPS = 500
"""Supplying CPs in the throughput runs; the rate per CP rises instead of their number."""
STEP_WARM_UP = 4.0
"""Seconds of each throughput step left out of its figures: the rate is still settling."""


@dataclass(frozen=True)
class Options:
    levels: list[int]
    hold: float = 30.0
    rates: list[int] = field(default_factory=lambda: [250, 500, 1000, 2000, 4000, 8000])
    step: float = 15.0
    workers: list[int] = field(default_factory=lambda: [1, 2])
    profile: bool = True
    results: Path = Path("bench/results")


Status = Callable[[str, float, float], None]
"""(phase description, done, total): how the run reports its progress."""


class Run:
    def __init__(self, stack: Stack, options: Options, status: Status) -> None:
        self.stack = stack
        self.options = options
        self.status = status
        run_id = uuid.uuid4().hex[:5]
        self.prefix = f"B{run_id}"
        self.producer = ContractProducer(stack.kafka_bootstrap, "bench-load")
        self.fleet = Fleet(stack.auth_address, stack.enrolment_key, self.prefix, self.producer)
        self.drivers = Drivers(self.producer, self.prefix, self.fleet.accounts.emitted)
        self.probes = ProbeProcess(
            ProbeSetup.sized_for(
                min(options.levels),
                bootstrap=stack.kafka_bootstrap,
                auth_address=stack.auth_address,
                enrolment_key=stack.enrolment_key,
                web_url=stack.web_url,
                prefix=f"P{run_id}",  # not the bulk's prefix: neither reader decodes the other's records
            )
        )
        self.me = psutil.Process()
        self.loop_lag: list[float] = []

    def dispatch(self, batch: list[Any]) -> None:
        route(batch, self.fleet, self.drivers)

    async def execute(self) -> dict[str, Any]:
        self.status("raw Kafka baseline", 0, 1)
        results: dict[str, Any] = {"baseline": await asyncio.to_thread(self._baseline)}
        workers_before = self.stack.stream_workers()
        bulk_drivers = [self.drivers.driver_id(n) for n in range(2 * max(self.options.levels))]
        self._register_drivers(bulk_drivers + self.probes.setup.driver_ids())
        feed = Feed(self.stack.kafka_bootstrap, self.prefix, asyncio.get_running_loop(), self.dispatch)
        feed.start()
        self.probes.start()
        background = [
            asyncio.create_task(self.fleet.run_engines()),
            asyncio.create_task(loop.watch_lag(self.loop_lag)),
        ]
        try:
            self.status("probe CPs coming online", 0, 1)
            await self.probes.ask("connect", timeout=600)
            # throughput first, on a system with no backlog; then the levels, lightest first
            results["failed"] = []
            results["throughput"] = await self._each(self.throughput, self.options.workers, results["failed"])
            await self._scale_back(workers_before)  # the levels measure the stack as it runs
            results["levels"] = await self._each(self.level, self.options.levels, results["failed"])
        finally:
            for task in background:
                task.cancel()
            await self.fleet.stop()
            await asyncio.to_thread(self.probes.stop)
            feed.stop()
            self.producer.flush()
            if not self.stack.owned:
                await self._scale_back(workers_before)  # leave it as found
        return results

    @staticmethod
    async def _each(
        phase: Callable[[int], Awaitable[dict[str, Any]]], sizes: list[int], failed: list[str]
    ) -> list[dict[str, Any]]:
        """Run `phase` for each size; one that fails is reported and the run goes on."""
        done = []
        for size in sizes:
            try:
                done.append(await phase(size))
            except Exception as error:  # any failure of a phase is a finding to report
                logging.getLogger(__name__).exception("%s(%d) failed", phase.__name__, size)
                failed.append(f"{phase.__name__}({size}): {error!r}")
        return done

    async def _scale_back(self, workers: int) -> None:
        if self.stack.stream_workers() != workers:
            await asyncio.to_thread(self.stack.scale_stream, workers)

    def _baseline(self) -> dict[str, Any]:
        return {
            "round_trip": asdict(baseline.round_trip(self.stack.kafka_bootstrap)),
            "throughput": asdict(baseline.throughput(self.stack.kafka_bootstrap)),
        }

    def _register_drivers(self, drivers: list[str]) -> None:
        """Drivers sign up outside the system under test: straight into the table."""
        connection = connect(self.stack.database)
        with cursor(connection) as cur:
            cur.executemany(
                "INSERT INTO conductores (id, nombre, apellidos, email) VALUES (%s, %s, %s, %s)",
                [(driver, "Load", "Generator", f"{driver.lower()}@bench.invalid") for driver in drivers],
            )
        connection.close()

    # --- one load level -------------------------------------------------------------

    async def level(self, size: int) -> dict[str, Any]:
        """Bring the bulk up to `size` CPs with the probes, hold, and end every supply."""
        name = f"{size} CPs"
        bulk_size = size - self.probes.setup.size
        self.status(f"{name}: connecting", len(self.fleet.cps), bulk_size)
        await self.fleet.grow_to(
            bulk_size, on_wave=lambda n: self.status(f"{name}: connecting", n, bulk_size)
        )
        # the probes wait for their own conditions; one left averiado by the last level must not hold this one
        available = await self._available([self.fleet.cp_id(n) for n in range(bulk_size)])
        self.status(f"{name}: starting {len(available)} supplies", 0, 1)
        sessions_before = set(self.drivers.sessions)
        supplying = await self._open_supplies(sorted(available))
        watching = await self.probes.ask("prepare", timeout=PATIENCE + 60)
        held = await self._hold(name, size)
        self.status(f"{name}: ending every supply", 0, 1)
        accounts = self.drivers.accounts(await self._end_supplies(sessions_before), self.fleet.accounts.ended)
        return {
            "cps": size,
            "available": len(available),
            "supplying": supplying + watching["supplying"],
            "probe_drivers": self.probes.setup.charging,
            "probe_faults": self.probes.setup.failing,
            "probe_watchers": self.probes.setup.watching,
            **held,
            "accounts": merged(accounts, held["probe_accounts"]),
        }

    async def _hold(self, name: str, size: int) -> dict[str, Any]:
        """The measured window: the bulk keeps supplying, the probe process times the
        probes, and central-stream's CPU time is read before and after."""
        self.status(f"{name}: measuring", 0, self.options.hold)
        cpu_before = await asyncio.to_thread(self._stream_cpu_us)
        profiles = await asyncio.to_thread(self._start_profiles, size)
        with self._recording() as window, Sampler(self.stack.containers) as sampler:
            until = time.monotonic() + self.options.hold
            probed = asyncio.create_task(
                self.probes.ask("hold", timeout=self.options.hold + 600, until=until)
            )
            await self._count_down(name, until)
        cpu_after = await asyncio.to_thread(self._stream_cpu_us)
        bulk_telemetry = asdict(Latency.of(self.drivers.measured.telemetry))
        return {
            **combined(
                window.figures(), await probed, cputime.spent_us(cpu_before, cpu_after), len(cpu_after)
            ),
            "telemetry_bulk": bulk_telemetry,
            "resources": {service: asdict(usage) for service, usage in sampler.summary().items()},
            "profile": await self._collect_profiles(profiles),
        }

    def _stream_cpu_us(self) -> dict[str, int]:
        """Each central-stream container's CPU µs so far (docker commands: call it in a thread)."""
        streams = [name for name, service in self.stack.containers().items() if service == "central-stream"]
        return cputime.read_usage(streams)

    async def _end_supplies(self, before: set[str], patience: float = 300) -> set[str]:
        """Unplug every CP and wait for every session's ticket. A ticket still
        missing after `patience` is reported (as outstanding), not waited for forever."""
        self.fleet.unplug_all()
        with contextlib.suppress(TimeoutError):
            await wait_until(
                lambda: (
                    self.fleet.supplying() == 0
                    and set(self.drivers.sessions) - before <= set(self.drivers.tickets)
                ),
                patience,
                "every ticket",
            )
        self.fleet.unplug_all()  # sessions authorised late, while we waited
        return set(self.drivers.sessions) - before

    async def _open_supplies(self, cps: list[str], at_once: int = 200, patience: float = 180) -> int:
        """A driver asks at each CP, `at_once` requests in flight at a time; a
        request the central answers too late (expired) is asked again, as a
        driver would, until `patience` runs out. Returns how many were authorised."""
        gate = asyncio.Semaphore(at_once)
        first_driver = max(self.options.levels)  # bulk drivers never share an id with the probes
        deadline = time.monotonic() + patience

        async def ask(number: int, cp: str) -> bool:
            for _attempt in range(3):
                if time.monotonic() > deadline:
                    return False
                try:
                    async with gate:
                        answer = await self.drivers.request(cp, self.drivers.driver_id(first_driver + number))
                except TimeoutError:
                    return False  # unanswered; a late authorisation is still tracked and ended
                if isinstance(answer, m.SupplyAuthorised):
                    return True
                if answer.reason is not m.DenialReason.REQUEST_EXPIRED:
                    break
            return False

        return sum(await asyncio.gather(*(ask(n, cp) for n, cp in enumerate(cps))))

    async def _count_down(self, name: str, until: float) -> None:
        while (left := until - time.monotonic()) > 0:
            self.status(f"{name}: measuring", self.options.hold - left, self.options.hold)
            await asyncio.sleep(0.5)

    def _start_profiles(self, size: int) -> dict[str, tuple[Path, subprocess.Popen[bytes]]]:
        """At the highest level, start py-spy on the central's three services for the hold.
        It runs docker commands: called in a thread, so the loop being timed never waits on them."""
        if not self.options.profile or size != max(self.options.levels):
            return {}
        seconds = self._profile_seconds()
        self.options.results.mkdir(parents=True, exist_ok=True)
        runs = {}
        for container, service in self.stack.containers().items():
            if service in ("central-auth", "central-stream", "central-web") and service not in runs:
                output = self.options.results / f"profile-{service}.txt"
                runs[service] = (output, profiling.record(self.stack.main_pid(container), seconds, output))
        return runs

    def _profile_seconds(self) -> int:
        return int(max(5, min(20, self.options.hold - 5)))

    async def _collect_profiles(
        self, runs: dict[str, tuple[Path, subprocess.Popen[bytes]]]
    ) -> dict[str, Any]:
        summary = {}
        for service, (output, process) in runs.items():
            await asyncio.to_thread(process.wait, self._profile_seconds() + 60)
            text = output.read_text() if output.exists() else ""
            summary[service] = {
                "functions": [asdict(spot) for spot in profiling.hotspots(text)],
                "packages": [asdict(spot) for spot in profiling.by_package(text)],
            }
        return summary

    # --- throughput ---------------------------------------------------------------------

    async def throughput(self, workers: int) -> dict[str, Any]:
        name = f"throughput, {workers} central-stream worker{'s' * (workers > 1)}"
        self.status(f"{name}: scaling", 0, 1)
        await asyncio.to_thread(self.stack.scale_stream, workers)
        await self.fleet.grow_to(min(THROUGHPUT_CPS, max(self.options.levels) - self.probes.setup.size))
        cps = sorted(await self._available(list(self.fleet.cps)))[:THROUGHPUT_CPS]
        sessions_before = set(self.drivers.sessions)
        supplying = await self._open_supplies(cps)
        settling = await self._settle(name)
        steps = []
        for rate in self.options.rates if settling["settled"] else []:
            step = await self._step(name, rate)
            steps.append(step)
            if not step["sustained"]:
                break
        self.fleet.telemetry_rate = 1.0
        sessions = await self._end_supplies(sessions_before)
        sustained = [step["sent_per_s"] for step in steps if step["sustained"]]
        return {
            "workers": workers,
            "cps": len(cps),
            "supplying": supplying,
            "settling": settling,
            "steps": steps,
            "sustained_per_s": max(sustained, default=0.0),
            "accounts": self.drivers.accounts(sessions, self.fleet.accounts.ended),
        }

    async def _settle(self, name: str, timeout: float = 240) -> dict[str, Any]:
        """Wait until telemetry at half the lowest rate is relayed within 1 s (p99):
        the workers own their partitions and any backlog is gone. Says how long
        that took, or what the last window looked like if it never happened."""
        self.fleet.telemetry_rate = min(self.options.rates) / 2 / max(1, self.fleet.supplying())
        started = time.monotonic()
        last: dict[str, Any] = {"lag": asdict(Latency.of([])), "relayed_per_s": 0.0}
        while time.monotonic() - started < timeout:
            self.status(f"{name}: waiting for the workers to settle", 0, 1)
            with self._recording() as window:
                await asyncio.sleep(3)  # a window of samples, not a wait for an event
                lags = list(self.drivers.measured.telemetry)
            last = {
                "lag": asdict(Latency.of(lags)),
                "relayed_per_s": window.figures()["updates_received_per_s"],
            }
            if lags and percentile(lags, 0.99) < 1.0:
                return {"settled": True, "seconds": round(time.monotonic() - started, 1), **last}
        return {"settled": False, "seconds": timeout, **last}

    async def _available(self, cps: list[str], patience: float = 300) -> set[str]:
        """The CPs the central shows activado, once all are or `patience` runs out."""
        with contextlib.suppress(TimeoutError):
            await wait_until(
                lambda: all(self.fleet.central_says.get(cp) is m.CpState.ACTIVE for cp in cps),
                patience,
                "every CP activado",
            )
        return {cp for cp in cps if self.fleet.central_says.get(cp) is m.CpState.ACTIVE}

    async def _step(self, name: str, rate: int) -> dict[str, Any]:
        self.fleet.telemetry_rate = rate / max(1, self.fleet.supplying())
        self.status(f"{name}: {rate} msg/s", 0, self.options.step)
        await asyncio.sleep(STEP_WARM_UP)  # let the new rate settle before timing it
        with self._recording() as window:
            await asyncio.sleep(self.options.step - STEP_WARM_UP)  # the measured window
        lags = self.drivers.measured.telemetry
        figures = window.figures()
        p99 = percentile(lags, 0.99)
        return {
            "target_per_s": rate,
            "sent_per_s": figures["telemetry_sent_per_s"],
            "relayed_per_s": figures["updates_received_per_s"],
            "lag": asdict(Latency.of(lags)),
            "sustained": _sustained(
                p99, rate, figures["telemetry_sent_per_s"], figures["updates_received_per_s"]
            ),
        }

    # --- what every measured window counts --------------------------------------------

    @contextmanager
    def _recording(self) -> Iterator[Window]:
        measured = self.drivers.measured
        measured.authorisation.clear()
        measured.telemetry.clear()
        measured.denials.clear()
        with loop.no_collector_pauses():
            window = Window(self)
            measured.recording = True
            try:
                yield window
            finally:
                measured.recording = False
                window.close()


class Window:
    """Counts taken at the start and end of a measured window, as rates."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._start = self._counts()
        self._end: dict[str, float] | None = None
        run.me.cpu_percent(None)
        run.loop_lag.clear()

    def _counts(self) -> dict[str, float]:
        accounts = self._run.fleet.accounts
        return {
            "at": time.perf_counter(),
            "heartbeats": accounts.heartbeats,
            "telemetry_sent": accounts.telemetry_sent,
            "updates_received": self._run.drivers.measured.updates_received,
            "disconnections": accounts.disconnections,
        }

    def close(self) -> None:
        self._end = self._counts()
        self._generator_cpu = self._run.me.cpu_percent(None)
        self._loop_lag = Latency.of(self._run.loop_lag)

    def figures(self) -> dict[str, Any]:
        end = self._end or self._counts()
        seconds = end["at"] - self._start["at"]
        per_second = {
            f"{name}_per_s": (end[name] - self._start[name]) / seconds
            for name in ("heartbeats", "telemetry_sent", "updates_received")
        }
        return {
            **per_second,
            "counts": {name: end[name] - self._start[name] for name in end},
            "connections": self._run.fleet.connected(),
            "disconnections": end["disconnections"] - self._start["disconnections"],
            "denials": dict(self._run.drivers.measured.denials),
            "generator": {"cpu_pct": self._generator_cpu, "loop_lag": asdict(self._loop_lag)},
        }


def combined(
    bulk: dict[str, Any], probed: dict[str, Any], stream_cpu_us: int, streams: int
) -> dict[str, Any]:
    """One level's figures from the bulk generator's window and the probe process's
    hold: rates and counts of both added up, latencies from the probes alone, and
    central-stream's CPU per applied report (each applied report is relayed once)."""
    theirs = probed["counts"]
    counts = {name: bulk["counts"][name] + theirs[name] for name in theirs if name != "at"}
    applied = int(counts["updates_received"])
    return {
        **{f"{name}_per_s": bulk[f"{name}_per_s"] + theirs[name] / theirs["at"] for name in RATES},
        "reports": {
            "sent": int(counts["telemetry_sent"]),
            "relayed": applied,
            "ratio": applied / counts["telemetry_sent"] if counts["telemetry_sent"] else math.nan,
        },
        "stream_cpu": {
            "cpu_us": stream_cpu_us,
            "containers": streams,
            "reports_applied": applied,
            "us_per_report": cputime.per_report_us(stream_cpu_us, applied),
        },
        "connections": bulk["connections"] + probed["connections"],
        "disconnections": int(counts["disconnections"]),
        "denials": dict(Counter(bulk["denials"]) + Counter(probed["denials"])),
        "generator": bulk["generator"],
        "probes": {name: probed[name] for name in ("cpu_pct", "loop_lag", "nice")},
        "authorisation": _probed(probed, "authorisation"),
        "telemetry": probed["telemetry"],
        "fault_detection": _probed(probed, "fault_detection"),
        "web_api": probed["web_api"],
        "missed": {"count": len(probed["missed"]), "first": probed["missed"][:10]},
        "page_errors": probed["page_errors"],
        "probe_accounts": probed["accounts"],
    }


RATES = ("heartbeats", "telemetry_sent", "updates_received")
"""What a level reports per second, bulk and probes added up."""


def _probed(probed: dict[str, Any], name: str) -> dict[str, Any]:
    """A probe latency with how many probes timed out and how long they waited."""
    return {**probed[name], "timed_out": probed[f"{name}_timed_out"], "patience_s": PATIENCE}


def _sustained(lag_p99: float, rate: float, sent: float, relayed: float) -> bool:
    """A rate is sustained when it was sent, and relayed within 1 s (p99) nearly all of
    it: central-stream conflates what it cannot keep up with (latest.py), so a low lag
    alone may hide reports never relayed at all."""
    return bool(lag_p99 < 1.0 and sent >= 0.9 * rate and relayed >= 0.9 * sent)
