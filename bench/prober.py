"""The timed probes in a process of their own, so the bulk load cannot delay them.

The load generator's event loop runs thousands of monitors and engines; at
1,000 CPs and more it runs late (its loop lag p99 was 95 ms at 1,000 CPs and
1.7 s at 5,000), and every latency it timed was late by as much. So the people
being timed — probe drivers who charge again and again, probe CPs that fail
again and again, drivers following a supply's live figures, and the operator's
page — run here, in a process started with `spawn`: its own event loop, its own
Kafka producer and reader (`bench.feed`), its own monitors, its own page client.
Its loop lag is measured too; the bulk generator's is the parent's.

The parent drives it over a pipe, one command at a time:

- `connect`: bring the probe CPs online and wait until the central shows them activado;
- `prepare`: the watching drivers start a supply each (their live figures are timed);
- `hold` (until): time the probes until `until` (time.monotonic, one clock per host),
  then end the supplies and answer with every figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import psutil

from bench import loop
from bench.drivers import Drivers, driver_id, route
from bench.feed import Feed
from bench.fleet import Fleet
from bench.probes import PATIENCE, Page, TimedOut, keep_charging, keep_failing, wait_until
from bench.stats import Latency
from evcharging import messages as m
from evcharging.kafka import ContractProducer

log = logging.getLogger(__name__)

TICKET_PATIENCE = 120.0
"""How long the probe process waits for its supplies' tickets after a hold."""


@dataclass(frozen=True)
class ProbeSetup:
    """Where the stack is and how many probes of each kind: what the process needs to start."""

    bootstrap: str
    auth_address: str
    enrolment_key: str
    web_url: str
    prefix: str
    charging: int
    failing: int
    watching: int

    @property
    def size(self) -> int:
        return self.charging + self.failing + self.watching

    def driver_ids(self) -> list[str]:
        """The probe drivers, to be signed up before the process asks for a charge."""
        return [driver_id(self.prefix, number) for number in range(self.charging + self.watching)]

    @classmethod
    def sized_for(cls, smallest_level: int, **where: str) -> ProbeSetup:
        """As many probes as the smallest level leaves room for: 10 charging, 5 failing,
        10 watching at 100 CPs and more; one of each at the smallest (3 CPs)."""
        return cls(
            **where,
            charging=max(1, min(10, smallest_level // 10)),
            failing=max(1, min(5, smallest_level // 20)),
            watching=max(1, min(10, smallest_level // 10)),
        )


class ProbeProcess:
    """The parent's handle on the probe process."""

    def __init__(self, setup: ProbeSetup) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process with librdkafka threads
        self._pipe, child = context.Pipe()
        # not a daemon: it starts the page's parser process; it ends when the parent's end of the pipe closes
        self._process = context.Process(target=serve, args=(setup, child), name="bench-probes")
        self.setup = setup
        self._asked = 0

    def start(self) -> None:
        self._process.start()

    async def ask(self, command: str, timeout: float, **arguments: float) -> dict[str, Any]:
        """Send a command and wait (in a thread) for its answer; a dead process is an error, not a hang."""
        self._asked += 1
        self._pipe.send((self._asked, command, arguments))
        answer: dict[str, Any] = await asyncio.to_thread(self._receive, time.monotonic() + timeout)
        if "error" in answer:
            raise RuntimeError(f"probe process, {command}: {answer['error']}")
        return answer

    def _receive(self, deadline: float) -> Any:
        """The answer to the last command; one to an earlier command that timed out is skipped."""
        while True:
            while not self._pipe.poll(1.0):
                if not self._process.is_alive():
                    raise RuntimeError(f"the probe process died (exit code {self._process.exitcode})")
                if time.monotonic() > deadline:
                    raise TimeoutError("the probe process did not answer in time")
            number, answer = self._pipe.recv()
            if number == self._asked:
                return answer

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send((0, "stop", {}))
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()


PRIORITY = -10
"""The probe process's nice value, when it may set one (root): on a machine whose
cores the stack keeps busy, a probe that wakes up (an answer arrived) should not
wait for a time slice before it reads the clock. It uses a few % of a core, so
it takes next to nothing from the stack; the bulk generator keeps the default."""


def _nice() -> None:
    """The page's parser runs at the default priority: its CPU is not a probe's wake-up."""
    os.setpriority(os.PRIO_PROCESS, 0, max(0, os.getpriority(os.PRIO_PROCESS, 0)))


def serve(setup: ProbeSetup, pipe: Connection) -> None:
    """The probe process: answer the parent's commands until told to stop."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (probes): %(message)s")
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    except PermissionError:
        log.warning("not allowed to raise the probe process's priority; its timings may wait for a core")
    asyncio.run(Probes(setup).serve(pipe))


@dataclass
class Hold:
    """What one hold timed, as the probe process collects it."""

    detected: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    timed_out: TimedOut = field(default_factory=TimedOut)
    at_end: dict[str, Any] = field(default_factory=dict)


class Probes:
    """The probe process's side: its fleet of probe CPs, its drivers and its page."""

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.producer = ContractProducer(setup.bootstrap, "bench-probes")
        self.fleet = Fleet(setup.auth_address, setup.enrolment_key, setup.prefix, self.producer)
        self.drivers = Drivers(self.producer, setup.prefix, self.fleet.accounts.emitted)
        self.parser = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_nice
        )
        self.page = Page(setup.web_url, setup.prefix, self.parser)
        self.loop_lag: list[float] = []
        self.me = psutil.Process()
        self.before: set[str] = set()
        """The sessions that were there before `prepare`: a hold accounts for the others."""
        self._start: dict[str, float] = {}
        cps = [self.fleet.cp_id(n) for n in range(setup.size)]
        self.charging = cps[: setup.charging]
        self.failing = cps[setup.charging : setup.charging + setup.failing]
        self.watching = cps[setup.charging + setup.failing :]

    def dispatch(self, batch: list[Any]) -> None:
        route(batch, self.fleet, self.drivers)

    async def serve(self, pipe: Connection) -> None:
        feed = Feed(self.setup.bootstrap, self.setup.prefix, asyncio.get_running_loop(), self.dispatch)
        feed.start()
        background = [
            asyncio.create_task(self.fleet.run_engines()),
            asyncio.create_task(self.page.follow()),
            asyncio.create_task(loop.watch_lag(self.loop_lag)),
        ]
        try:
            while (request := await asyncio.to_thread(pipe.recv))[1] != "stop":
                number, command, arguments = request
                pipe.send((number, await self._answer(command, arguments)))
        finally:
            for task in background:
                task.cancel()
            await self.fleet.stop()
            await self.page.close()
            self.parser.shutdown(cancel_futures=True)
            feed.stop()
            self.producer.flush()

    async def _answer(self, command: str, arguments: dict[str, float]) -> dict[str, Any]:
        """One command's answer; a failure is sent back to the parent, which reports it."""
        commands: dict[str, Callable[..., Any]] = {
            "connect": self.connect,
            "prepare": self.prepare,
            "hold": self.hold,
        }
        try:
            answer: dict[str, Any] = await commands[command](**arguments)
        except Exception as error:  # the parent reports it as the phase's failure
            log.exception("%s failed", command)
            return {"error": repr(error)}
        return answer

    async def connect(self) -> dict[str, Any]:
        await self.fleet.grow_to(self.setup.size)
        await self._activado(self.fleet.cps)
        return {"connected": self.fleet.connected()}

    async def _activado(self, cps: Any, patience: float = 300) -> None:
        with contextlib.suppress(TimeoutError):
            await wait_until(
                lambda: all(self.fleet.central_says.get(cp) is m.CpState.ACTIVE for cp in cps),
                patience,
                "every probe CP activado",
            )

    async def prepare(self) -> dict[str, Any]:
        """The watching drivers each start a supply that lasts the whole hold."""
        await self._activado(self.watching + self.charging, patience=PATIENCE)
        self.before = set(self.drivers.sessions)
        first = self.setup.charging  # the charging probes have drivers 0…charging-1
        answers = await asyncio.gather(
            *(
                self.drivers.request(cp, self.drivers.driver_id(first + n), timeout=PATIENCE)
                for n, cp in enumerate(self.watching)
            ),
            return_exceptions=True,
        )
        return {"supplying": sum(1 for answer in answers if isinstance(answer, m.SupplyAuthorised))}

    async def hold(self, until: float) -> dict[str, Any]:
        """Time every probe until `until`, end the supplies, and say what was timed."""
        held = Hold()
        self._recording(True)
        at_end = asyncio.create_task(self._at(until))
        with loop.no_collector_pauses():
            await self._probe(until, held)
            self._recording(False)
            held.at_end = await at_end
        return {**self._figures(held), "accounts": await self._end_supplies()}

    async def _probe(self, until: float, held: Hold) -> None:
        """Every charging and failing probe, until `until` (each ends the cycle it is in)."""
        await asyncio.gather(
            *(
                keep_charging(
                    self.fleet,
                    self.drivers,
                    cp,
                    self.drivers.driver_id(n),
                    until,
                    held.missed,
                    held.timed_out,
                )
                for n, cp in enumerate(self.charging)
            ),
            *(
                keep_failing(
                    self.fleet,
                    self.page,
                    cp,
                    until,
                    held.detected,
                    held.missed,
                    held.timed_out,
                    self._is_recording,
                )
                for cp in self.failing
            ),
        )

    def _is_recording(self) -> bool:
        return self.drivers.measured.recording

    def _recording(self, on: bool) -> None:
        measured = self.drivers.measured
        if on:
            measured.authorisation.clear()
            measured.telemetry.clear()
            measured.denials.clear()
            self.page.timings.clear()
            self.loop_lag.clear()
            self.me.cpu_percent(None)
            self._start = self._counts()
        measured.recording = self.page.recording = on

    def _counts(self) -> dict[str, float]:
        accounts = self.fleet.accounts
        return {
            "at": time.perf_counter(),
            "heartbeats": accounts.heartbeats,
            "telemetry_sent": accounts.telemetry_sent,
            "updates_received": self.drivers.measured.updates_received,
            "disconnections": accounts.disconnections,
        }

    async def _at(self, until: float) -> dict[str, Any]:
        """The counts, the loop lag and the CPU of the hold, taken when it ends."""
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        end = self._counts()
        return {
            "counts": {name: end[name] - self._start[name] for name in end},
            "loop_lag": asdict(Latency.of(self.loop_lag)),
            "cpu_pct": self.me.cpu_percent(None),
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "connections": self.fleet.connected(),
        }

    def _figures(self, held: Hold) -> dict[str, Any]:
        measured = self.drivers.measured
        return {
            "authorisation": asdict(Latency.of(measured.authorisation, held.timed_out.authorisation)),
            "authorisation_timed_out": held.timed_out.authorisation,
            "telemetry": asdict(Latency.of(measured.telemetry)),
            "fault_detection": asdict(Latency.of(held.detected, held.timed_out.fault_detection)),
            "fault_detection_timed_out": held.timed_out.fault_detection,
            "web_api": asdict(Latency.of(self.page.timings)),
            "page_errors": self.page.errors,
            "denials": dict(measured.denials),
            "missed": held.missed,
            **held.at_end,
        }

    async def _end_supplies(self) -> dict[str, Any]:
        """Unplug every probe CP and wait for the tickets of the sessions since `prepare`."""
        self.fleet.unplug_all()
        with contextlib.suppress(TimeoutError):
            await wait_until(
                lambda: self.fleet.supplying() == 0 and self._sessions() <= set(self.drivers.tickets),
                TICKET_PATIENCE,
                "the probes' tickets",
            )
        self.fleet.unplug_all()  # sessions authorised late, while we waited
        return self.drivers.accounts(self._sessions(), self.fleet.accounts.ended)

    def _sessions(self) -> set[str]:
        return set(self.drivers.sessions) - self.before
