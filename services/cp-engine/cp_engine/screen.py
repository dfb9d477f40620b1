"""The CP's live screen, for a person at a terminal: `docker compose exec cp-engine
charger screen`.

The engine runs under a supervisor beside its monitor and owns no terminal, so the
screen is a client of the engine's control socket (`control`): it reads `status` a
few times a second and sends each key's action as a request, like `charger <action>`.
Built on rich, which redraws a terminal region in place without a full-screen
framework. When Kafka refuses the engine's sign-in, the status carries the sentence its
log and health say (evcharging.kafka_security), and the screen shows it in red under
the CP's status until the engine gets in.

Three layers, so the first two are testable without a terminal or an engine:
`render` draws a `View` (pure), `press` decides what a key does (pure), `Screen`
talks to the socket, and `run`/`run_on_terminal` do the terminal I/O.
"""

from __future__ import annotations

import codecs
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError
from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cp_engine import control
from cp_engine.charging import Phase
from cp_engine.control import Reply, Snapshot
from evcharging import simtime

KEYS = {"p": "plug", "u": "unplug", "k": "fault", "o": "clear"}
QUIT_KEYS = ("q", "\x03")  # q, or Ctrl-C when the terminal delivers it as a key
ENTER, BACKSPACE, ESCAPE = ("\n", "\r"), ("\x7f", "\b"), "\x1b"
MAX_DRIVER_ID = 32  # evcharging.messages.Identifier's length
HELP = "[p] plug in   [u] unplug   [k] fault (KO)   [o] clear fault (OK)   [s] supply for a driver   [q] quit"
PHASE_STYLE = {  # the colours of the central's states: activado green, suministrando cyan, parado orange
    Phase.UNASSIGNED: "grey50",
    Phase.READY: "green",
    Phase.AUTHORISED: "yellow",
    Phase.SUPPLYING: "bold cyan",
    Phase.STOPPED: "dark_orange",
}
POLL_SECONDS = 0.3
"""How often the screen reads the engine's status: the figures change every tick (1 s)."""
ASK_SECONDS = 2.0
"""How long one request may take: a stuck engine must not freeze the keys for long."""


# --- what is shown (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """Everything the panel shows: the engine's last reply and the person's typing."""

    status: Snapshot | None = None
    notes: tuple[str, ...] = ()
    typing: str | None = None
    """The driver id being typed after `s`; None when not typing."""
    problem: str | None = None
    """Why the engine is not answering, while it is not."""
    refusal: str | None = None
    """The engine's answer to a request it could not even read (e.g. a bad driver id)."""


def render(view: View) -> Panel:
    """The panel for `view`, as the engine's own screen drew it before it moved here."""
    parts: list[RenderableType] = []
    if view.problem is not None:
        parts.append(Text(f"the engine is not answering here: {view.problem}; retrying…", style="bold red"))
    elif view.status is not None:
        parts.append(status_table(view.status))
        if view.status.kafka_problem is not None:
            parts += [Text(""), kafka_line(view.status.kafka_problem)]
    if view.notes:
        parts += [Text(""), Text("\n".join(view.notes), style="grey70")]
    if view.refusal:
        parts += [Text(""), Text(view.refusal, style="red")]
    parts += [Text(""), prompt(view.typing)]
    return Panel(Group(*parts), title="EVCharging · charging point")


def status_table(status: Snapshot) -> Table:
    """The CP at a glance: id, state, health, and the supply in progress if any."""
    table = Table.grid(padding=(0, 2))
    table.add_row("CP", Text(status.cp_id or "(waiting for its monitor)", style="bold"))
    table.add_row("state", Text(status.phase, style=phase_style(status.phase)))
    healthy = status.health == "OK"
    table.add_row("health", Text("OK", style="green") if healthy else Text("KO (fault)", style="bold red"))
    if status.session_id is not None:
        table.add_row("session", f"{status.session_id} for {status.driver_id}")
        table.add_row("supply", f"{status.kw} kW   {status.kwh} kWh   {status.eur} €")
        table.add_row("charging", charging_time(status.duration_s or Decimal(0), status.time_factor))
    return table


def kafka_line(problem: str) -> Text:
    """The engine's Kafka link problem, as its log and health say it: red, like an engine
    not answering, because until it is fixed the central hears nothing from this CP."""
    return Text(f"Kafka link: {problem}", style="bold red")


def phase_style(phase: str) -> str:
    """The state's colour; a state this screen does not know (a newer engine) stays plain."""
    try:
        return PHASE_STYLE[Phase(phase)]
    except ValueError:
        return ""


def charging_time(seconds: Decimal, time_factor: Decimal) -> str:
    """`02:03`, with `(simulated time ×60)` when the CP's clock runs fast, so the time
    shown and the energy shown agree."""
    note = simtime.note(time_factor)
    return simtime.clock(seconds) + (f"   ({note})" if note else "")


def prompt(typing: str | None) -> Text:
    """The keys' help, or the driver id being typed with a cursor."""
    return Text(f"driver id: {typing}_" if typing is not None else HELP, style="bold")


# --- what a key does (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """The outcome of one key: the typing that follows, and what to ask the engine."""

    typing: str | None
    request: dict[str, str | None] | None = None
    quit: bool = False


def press(typing: str | None, key: str) -> Press:
    """One key, as the engine's own screen took it: an action key, `s` to type a driver
    id, `q` to quit; while typing, Enter sends, Esc cancels, Backspace edits."""
    if typing is not None:
        return type_key(typing, key)
    if key in QUIT_KEYS:
        return Press(None, quit=True)
    if key == "s":
        return Press("")
    if key in KEYS:
        return Press(None, {"action": KEYS[key], "driver_id": None})
    return Press(None)


def type_key(typing: str, key: str) -> Press:
    """A key while a driver id is typed: `q` and `s` are letters of the id here."""
    if key in ENTER:
        return Press(None, {"action": "request", "driver_id": typing} if typing else None)
    if key in BACKSPACE:
        return Press(typing[:-1])
    if key == ESCAPE:
        return Press(None)
    if key == "\x03":
        return Press(None, quit=True)
    if key.isprintable() and len(typing) < MAX_DRIVER_ID:
        return Press(typing + key)
    return Press(typing)


# --- talking to the engine ----------------------------------------------------------------


class Screen:
    """The view, kept up to date from the engine's control socket at `path`."""

    def __init__(self, path: Path, timeout: float = ASK_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        self.view = View()

    def poll(self) -> None:
        """Read the engine's status now."""
        self._ask({"action": "status", "driver_id": None})

    def press(self, key: str) -> bool:
        """Apply one key; False when it asks to quit. An action's reply carries the
        status after it, so the screen shows its effect at once."""
        outcome = press(self.view.typing, key)
        self.view = replace(self.view, typing=outcome.typing, refusal=None)
        if outcome.request is not None:
            self._ask(outcome.request)
        return not outcome.quit

    def render(self) -> Panel:
        return render(self.view)

    def _ask(self, request: dict[str, str | None]) -> None:
        """Send `request`; an engine that is restarting or gone is shown, not raised:
        the screen keeps asking until it is back."""
        try:
            reply = control.ask(self.path, request, self.timeout)
        except OSError as error:
            self.view = replace(self.view, problem=f"{error.strerror or error} ({self.path})")
        except ValidationError:
            self.view = replace(self.view, problem="its reply is not one this screen understands")
        else:
            self._show(reply)

    def _show(self, reply: Reply) -> None:
        refusal = self.view.refusal  # shown until the next key
        if reply.status is None:  # the engine could not read the request: say why
            refusal = "; ".join([reply.message, *reply.errors])
        self.view = replace(
            self.view,
            status=reply.status or self.view.status,
            notes=tuple(reply.notes) if reply.status is not None else self.view.notes,
            problem=None,
            refusal=refusal,
        )


# --- the terminal ---------------------------------------------------------------------------

Keys = Callable[[float], str]
"""Waits at most the given seconds for keys; returns those typed ('' for none).
Raises EOFError when the input is closed."""


def run(screen: Screen, keys: Keys, show: Callable[[Panel], None], period: float = POLL_SECONDS) -> None:
    """Until `q`: read the status every `period` s, apply each key, redraw after each.

    The status is read on a fixed schedule, not after each wait, so typing fast does
    not starve it."""
    screen.poll()
    show(screen.render())
    next_poll = time.monotonic() + period
    while True:
        typed = keys(max(0.0, next_poll - time.monotonic()))
        if not all(screen.press(key) for key in typed):
            return
        if time.monotonic() >= next_poll:
            screen.poll()
            next_poll = time.monotonic() + period
        show(screen.render())


def terminal_keys(descriptor: int) -> Keys:
    """Keys from the terminal `descriptor`, read with select so no thread is left
    blocked on stdin at exit; UTF-8 decoded across reads."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def keys(timeout: float) -> str:
        ready, _, _ = select.select([descriptor], [], [], timeout)
        if not ready:
            return ""
        data = os.read(descriptor, 1024)
        if not data:
            raise EOFError
        return decoder.decode(data)

    return keys


def run_on_terminal(path: Path) -> int:
    """The screen on this process's terminal, until `q`, Ctrl-C or the end of input.

    cbreak mode hands over each key without Enter and without echo; the terminal's
    settings are restored whatever happens."""
    descriptor = sys.stdin.fileno()
    saved = termios.tcgetattr(descriptor)
    screen = Screen(path)
    try:
        tty.setcbreak(descriptor)
        with Live(screen.render(), auto_refresh=False, screen=False) as live:
            run(screen, terminal_keys(descriptor), lambda panel: live.update(panel, refresh=True))
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)
    return 0
