"""The engine's live screen, for a person at its terminal (`docker compose attach`).

It shows the CP at a glance and takes one key per action; the same actions are
scriptable with the `charger` command. Built on rich, which redraws a terminal
region in place without a full-screen framework.
"""

from __future__ import annotations

import asyncio
import sys
import termios
import threading
import tty

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cp_engine.charging import Phase, charging_seconds
from cp_engine.runtime import EngineRuntime
from evcharging import simtime

KEYS = {"p": "plug", "u": "unplug", "k": "fault", "o": "clear"}
HELP = "[p] plug in   [u] unplug   [k] fault (KO)   [o] clear fault (OK)   [s] supply for a driver"
PHASE_STYLE = {  # the colours of the central's states: activado green, suministrando cyan, parado orange
    Phase.UNASSIGNED: "grey50",
    Phase.READY: "green",
    Phase.AUTHORISED: "yellow",
    Phase.SUPPLYING: "bold cyan",
    Phase.STOPPED: "dark_orange",
}


class Screen:
    def __init__(self, runtime: EngineRuntime) -> None:
        self.runtime = runtime
        self.typing: str | None = None
        self._changed = asyncio.Event()

    def render(self) -> Panel:
        engine = self.runtime.engine
        table = Table.grid(padding=(0, 2))
        table.add_row("CP", Text(engine.cp_id or "(waiting for its monitor)", style="bold"))
        table.add_row("state", Text(str(engine.phase), style=PHASE_STYLE[engine.phase]))
        table.add_row(
            "health", Text("KO (fault)", style="bold red") if engine.faulty else Text("OK", style="green")
        )
        session = engine.session
        if session is not None:
            table.add_row("session", f"{session.session_id} for {session.driver_id}")
            table.add_row("supply", f"{session.kw} kW   {session.kwh} kWh   {session.eur} €")
            note = simtime.note(engine.time_factor)
            table.add_row(
                "charging",
                simtime.clock(charging_seconds(session)) + (f"   ({note})" if note else ""),
            )
        notes = Text("\n".join(self.runtime.notes), style="grey70")
        prompt = Text(f"driver id: {self.typing}_" if self.typing is not None else HELP, style="bold")
        return Panel(Group(table, Text(""), notes, Text(""), prompt), title="EVCharging · charging point")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.runtime.listeners.append(lambda: self._wake(loop))
        threading.Thread(target=self._read_keys, args=(loop,), name="keys", daemon=True).start()
        with Live(self.render(), auto_refresh=False, screen=False) as live:
            while True:
                await self._changed.wait()
                self._changed.clear()
                live.update(self.render(), refresh=True)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_soon_threadsafe(self._changed.set)

    def _read_keys(self, loop: asyncio.AbstractEventLoop) -> None:
        descriptor = sys.stdin.fileno()
        saved = termios.tcgetattr(descriptor)
        try:
            tty.setcbreak(descriptor)
            while key := sys.stdin.read(1):
                loop.call_soon_threadsafe(self._on_key, key)
        finally:
            termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)

    def _on_key(self, key: str) -> None:
        if self.typing is not None:
            self._type(key)
        elif key == "s":
            self.typing = ""
        elif key in KEYS:
            self.runtime.perform(KEYS[key])
        self._changed.set()

    def _type(self, key: str) -> None:
        assert self.typing is not None
        if key in ("\n", "\r"):
            driver_id, self.typing = self.typing, None
            if driver_id:
                self.runtime.perform("request", driver_id)
        elif key in ("\x7f", "\b"):
            self.typing = self.typing[:-1]
        elif key == "\x1b":
            self.typing = None
        elif key.isprintable() and len(self.typing) < 32:
            self.typing += key
