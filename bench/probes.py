"""The behaviours timed under load: a driver who keeps charging, a CP that keeps
failing, and the page's API as an operator's browser reads it.

A probe that waits in vain does not end the run: it notes what it missed (with
what the central and the page said at the time) and goes on, so an overloaded
system gets a report that says where it gave way rather than a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import httpx

from bench.drivers import Drivers
from bench.fleet import Fleet
from evcharging import messages as m

log = logging.getLogger(__name__)

CHARGE_SECONDS = 2.0
"""How long a probe driver charges before unplugging."""
PAGE_POLL = 0.1
"""How often the page's API is read (s): fault detection is known to ±this."""
PATIENCE = 30.0
"""How long a probe waits for what it expects before noting it as missed."""


@dataclass
class TimedOut:
    """Timed probe waits that ran out while recording. Each is a latency too, one
    beyond PATIENCE: counted, the report can rank it above every answered sample
    instead of leaving it out of the percentiles."""

    authorisation: int = 0
    fault_detection: int = 0


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


async def came(condition: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """True when `condition` holds within `timeout`; False when it never did."""
    try:
        await wait_until(condition, timeout, "")
    except TimeoutError:
        return False
    return True


def states_of(body: bytes, prefix: str) -> dict[str, str]:
    """cp_id -> state of the tiles of a GET /api/cps answer whose id starts with `prefix`."""
    return {tile["cp_id"]: tile["state"] for tile in json.loads(body) if tile["cp_id"].startswith(prefix)}


class Page:
    """What the status page's API says about each CP, read every PAGE_POLL seconds.
    Each read is timed too (while `recording`): it is the operator's page at this load.

    At 10,000 CPs an answer is megabytes of JSON, tens of ms of parsing that hold
    the GIL: given a `parser` (a process pool), that is done there, and only the
    tiles of ids starting with `prefix` come back, so the loop that times the
    probes is not the one parsing."""

    def __init__(self, web_url: str, prefix: str = "", parser: Executor | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=web_url, timeout=10)
        self._prefix = prefix
        self._parser = parser
        self.says: dict[str, str] = {}
        self.reads = 0
        self.errors = 0
        self.recording = False
        self.timings: list[float] = []
        """Seconds per GET /api/cps answered while recording."""

    async def follow(self) -> None:
        while True:
            try:
                started = time.perf_counter()
                response = await self._client.get("/api/cps")
                response.raise_for_status()
                if self.recording:  # the whole answer received; parsing it is the browser's
                    self.timings.append(time.perf_counter() - started)
                self.says = await asyncio.get_running_loop().run_in_executor(
                    self._parser, states_of, response.content, self._prefix
                )
                self.reads += 1
            except httpx.HTTPError as error:
                self.errors += 1
                log.warning("the page's API failed: %r", error)
            except Exception:  # a reader that dies silently would read as a page that never changes
                self.errors += 1
                log.exception("reading the page's answer failed")
            await asyncio.sleep(PAGE_POLL)

    def shows(self, cp_id: str, state: m.CpState) -> Callable[[], bool]:
        return lambda: self.says.get(cp_id) == state.value

    async def close(self) -> None:
        await self._client.aclose()


async def keep_charging(
    fleet: Fleet,
    drivers: Drivers,
    cp_id: str,
    driver_id: str,
    until: float,
    missed: list[str],
    timed_out: TimedOut,
) -> None:
    """Ask, charge for a moment, unplug, collect the ticket; again until `until`."""
    while time.monotonic() < until:
        try:
            answer = await drivers.request(cp_id, driver_id, timeout=PATIENCE)
        except TimeoutError:
            missed.append(f"{driver_id} at {cp_id}: no answer within {PATIENCE:.0f} s")
            if drivers.measured.recording:  # as an answer would have been timed
                timed_out.authorisation += 1
            continue
        if isinstance(answer, m.SupplyAuthorised):
            await asyncio.sleep(CHARGE_SECONDS)  # the charge itself, not a wait for the system
            fleet.unplug(cp_id)
            try:
                await drivers.ticket(answer.session_id, timeout=PATIENCE)
            except TimeoutError:
                missed.append(f"{driver_id} at {cp_id}: no ticket within {PATIENCE:.0f} s")
        if not await came(lambda: fleet.central_says.get(cp_id) is m.CpState.ACTIVE):
            missed.append(f"{cp_id} not activado again (central says {fleet.central_says.get(cp_id)})")


async def keep_failing(
    fleet: Fleet,
    page: Page,
    cp_id: str,
    until: float,
    detected: list[float],
    missed: list[str],
    timed_out: TimedOut,
    recording: Callable[[], bool],
) -> None:
    """The engine goes KO until the page shows the CP `averiado`, then OK again; repeat."""
    while time.monotonic() < until:
        for state in (m.CpState.FAULTY, m.CpState.ACTIVE):
            changed = fleet.break_engine(cp_id) if state is m.CpState.FAULTY else fleet.repair_engine(cp_id)
            shown = await came(page.shows(cp_id, state))
            if not shown:
                missed.append(
                    f"{cp_id} not shown {state.value} within {PATIENCE:.0f} s (page: {page.says.get(cp_id)}, "
                    f"estado_cp: {fleet.central_says.get(cp_id)})"
                )
            if state is m.CpState.FAULTY and recording():  # a detection, timed or beyond the wait
                if shown:
                    detected.append(time.perf_counter() - changed)
                else:
                    timed_out.fault_detection += 1
        await asyncio.sleep(random.uniform(0.2, 1.0))  # the time between two faults
