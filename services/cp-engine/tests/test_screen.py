"""`charger screen`: the live screen as a client of the engine's control socket.

The panel and the keys are pure and tested as such; then a real engine runtime behind
a real control socket, the screen with no engine, and `charger screen` without a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from rich.console import Console, RenderableType
from rich.style import Style

from cp_engine import cli, control, screen
from cp_engine.charging import Phase
from cp_engine.control import Snapshot
from cp_engine.runtime import EngineRuntime
from cp_engine.screen import HELP, Press, Screen, View, press, render
from evcharging import health
from evcharging import kafka_security as k
from evcharging.messages import SupplyRequest
from tests.support.engine import SETTINGS, Outbox
from tests.support.waiting import wait_until_async

ENGINE_DIR = Path(__file__).resolve().parents[1]

SUPPLYING = Snapshot(
    cp_id="CP-A001",
    phase=str(Phase.SUPPLYING),
    health="OK",
    session_id="s1",
    driver_id="DRV001",
    kw=Decimal("21.6"),
    kwh=Decimal("0.360"),
    eur=Decimal("0.13"),
    duration_s=Decimal("60.000"),
    time_factor=Decimal(60),
)
READY = Snapshot(cp_id="CP-A001", phase=str(Phase.READY), health="OK")
REFUSED = (
    "Kafka at central:9095 refuses user 'site' (wrong password or unknown user): "
    "set KAFKA_SASL_PASSWORD to the central's KAFKA_SITE_PASSWORD"
)


def plain(renderable: RenderableType) -> str:
    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def style_of(renderable: RenderableType, text: str) -> Style | None:
    """The style the text is drawn in (None when it is not drawn as one piece)."""
    console = Console(width=120, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    return next((s.style for s in console.render(renderable) if s.text.strip() == text), None)


# --- the panel ------------------------------------------------------------------------------


def test_the_panel_shows_the_supply_in_the_cps_time() -> None:
    text = plain(render(View(status=SUPPLYING)))
    assert "CP-A001" in text
    assert "s1 for DRV001" in text
    assert "21.6 kW   0.360 kWh   0.13 €" in text
    assert "01:00   (simulated time ×60)" in text
    assert HELP in text


def test_in_real_time_the_charging_time_has_no_note() -> None:
    real = SUPPLYING.model_copy(update={"time_factor": Decimal(1)})
    text = plain(render(View(status=real)))
    assert "01:00" in text
    assert "simulated" not in text


@pytest.mark.parametrize(
    ("phase", "colour"),
    [
        (Phase.UNASSIGNED, "grey50"),
        (Phase.READY, "green"),
        (Phase.AUTHORISED, "yellow"),
        (Phase.SUPPLYING, "bold cyan"),
        (Phase.STOPPED, "dark_orange"),
    ],
)
def test_each_state_has_the_colour_of_the_central(phase: Phase, colour: str) -> None:
    status = Snapshot(cp_id="CP-A001", phase=str(phase), health="OK")
    assert style_of(render(View(status=status)), str(phase)) == Style.parse(colour)


def test_a_state_the_screen_does_not_know_is_shown_plain() -> None:
    status = Snapshot(cp_id="CP-A001", phase="charging on the moon", health="OK")
    assert "charging on the moon" in plain(render(View(status=status)))


def test_health_ok_is_green_and_a_fault_is_bold_red() -> None:
    assert style_of(render(View(status=READY)), "OK") == Style.parse("green")
    faulty = READY.model_copy(update={"health": "KO"})
    assert style_of(render(View(status=faulty)), "KO (fault)") == Style.parse("bold red")


def test_without_a_supply_there_are_no_supply_lines() -> None:
    text = plain(render(View(status=READY)))
    assert "ready" in text
    assert "kWh" not in text
    assert "session" not in text


def test_a_cp_without_an_id_waits_for_its_monitor() -> None:
    status = Snapshot(cp_id=None, phase=str(Phase.UNASSIGNED), health="OK")
    assert "(waiting for its monitor)" in plain(render(View(status=status)))


def test_the_engines_notes_are_shown() -> None:
    notes = ("10:00:01 fault injected (KO)", "10:00:05 fault cleared (OK)")
    text = plain(render(View(status=READY, notes=notes)))
    lines = [line.strip("│ ") for line in text.splitlines()]
    assert lines.index(notes[1]) == lines.index(notes[0]) + 1  # oldest first, one a line


def test_while_typing_the_prompt_replaces_the_help() -> None:
    text = plain(render(View(status=READY, typing="DRV0")))
    assert "driver id: DRV0_" in text
    assert HELP not in text


def test_an_engine_not_answering_is_said_in_the_panel() -> None:
    text = plain(render(View(status=READY, problem="No such file or directory (/tmp/x.sock)")))
    assert "the engine is not answering here: No such file or directory (/tmp/x.sock)" in text
    assert "CP-A001" not in text  # no stale figures while it is away
    assert HELP in text


def test_a_kafka_sign_in_problem_is_a_red_line_beside_the_status() -> None:
    view = View(status=READY.model_copy(update={"kafka_problem": REFUSED}))
    text = " ".join(plain(render(view)).replace("│", " ").split())
    assert f"Kafka link: {REFUSED}" in text
    assert "CP-A001" in text  # the CP works on: its status stays in view
    console = Console(width=400, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    (style,) = {s.style for s in console.render(render(view)) if "Kafka link" in s.text}
    assert style == Style.parse("bold red")


def test_without_a_kafka_problem_there_is_no_kafka_line() -> None:
    assert "Kafka" not in plain(render(View(status=READY)))


# --- the keys ---------------------------------------------------------------------------------


def type_keys(keys: str, typing: str | None = None) -> tuple[str | None, list[dict[str, str | None]]]:
    """The typing after `keys`, and the requests they sent."""
    sent: list[dict[str, str | None]] = []
    for key in keys:
        outcome = press(typing, key)
        typing = outcome.typing
        if outcome.request is not None:
            sent.append(outcome.request)
    return typing, sent


@pytest.mark.parametrize(("key", "action"), [("p", "plug"), ("u", "unplug"), ("k", "fault"), ("o", "clear")])
def test_an_action_key_sends_its_action(key: str, action: str) -> None:
    assert press(None, key) == Press(None, {"action": action, "driver_id": None})


def test_s_then_a_driver_id_and_enter_requests_a_supply_for_it() -> None:
    assert type_keys("sDRV001\r") == (None, [{"action": "request", "driver_id": "DRV001"}])
    assert type_keys("sDRV002\n")[1] == [{"action": "request", "driver_id": "DRV002"}]


def test_backspace_edits_the_driver_id() -> None:
    assert type_keys("sDRV00X\x7f1\r")[1] == [{"action": "request", "driver_id": "DRV001"}]
    assert type_keys("sAB\b") == ("A", [])


def test_escape_cancels_the_typing_and_sends_nothing() -> None:
    assert type_keys("sDRV001\x1b") == (None, [])


def test_enter_with_no_driver_id_sends_nothing() -> None:
    assert type_keys("s\r") == (None, [])


def test_unknown_keys_are_ignored() -> None:
    for key in "xz[A1 \t\x1b":
        assert press(None, key) == Press(None)


def test_action_and_quit_keys_are_letters_of_a_driver_id() -> None:
    assert type_keys("sq-pk.s") == ("q-pk.s", [])


def test_a_driver_id_is_at_most_32_characters() -> None:
    assert type_keys("s" + "A" * 40) == ("A" * 32, [])


@pytest.mark.parametrize(("typing", "key"), [(None, "q"), (None, "\x03"), ("DRV", "\x03")])
def test_q_or_ctrl_c_quits(typing: str | None, key: str) -> None:
    assert press(typing, key).quit


# --- a real engine behind a real socket -----------------------------------------------------


@contextlib.asynccontextmanager
async def serving(runtime: EngineRuntime, path: Path) -> AsyncIterator[None]:
    """The engine's control socket at `path`, as the engine serves it."""
    task = asyncio.create_task(control.serve(runtime, path))
    await wait_until_async(path.exists, 5.0, "the control socket")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def a_person_at_the_screen(path: Path) -> None:
    outbox = Outbox()
    runtime = EngineRuntime(SETTINGS, outbox, follow_commands=False)  # type: ignore[arg-type]
    runtime.assign_identity("CP-A001", None)
    client = Screen(path)

    await asyncio.to_thread(client.poll)  # before the engine listens: it says so, and goes on
    assert client.view.problem is not None

    async with serving(runtime, path):
        await asyncio.to_thread(client.poll)
        assert client.view.problem is None
        assert client.view.status is not None
        assert (client.view.status.cp_id, client.view.status.phase) == ("CP-A001", str(Phase.READY))

        assert await asyncio.to_thread(client.press, "k")
        assert runtime.engine.faulty
        assert client.view.status.health == "KO"  # the action's reply, shown at once
        assert "fault injected" in client.view.notes[-1]
        assert "fault injected" in plain(client.render())

        await asyncio.to_thread(client.press, "o")
        for key in "sDRV007\r":
            await asyncio.to_thread(client.press, key)
        (request,) = [m for m in outbox.sent if isinstance(m, SupplyRequest)]
        assert (request.cp_id, request.driver_id) == ("CP-A001", "DRV007")
        assert "supply requested for DRV007" in client.view.notes[-1]

        for key in "sDRV 7\r":  # not an id: the engine refuses to read it, and the screen says why
            await asyncio.to_thread(client.press, key)
        assert client.view.refusal is not None
        assert "bad request" in client.view.refusal
        assert "driver_id" in client.view.refusal
        assert not [m for m in outbox.sent if isinstance(m, SupplyRequest) and m.driver_id != "DRV007"]

    path.unlink(missing_ok=True)  # the engine is gone, as when it restarts
    await asyncio.to_thread(client.poll)
    assert client.view.problem is not None
    assert "the engine is not answering here" in plain(client.render())


def test_the_screen_reads_and_drives_a_real_engine_through_its_socket(tmp_path: Path) -> None:
    asyncio.run(a_person_at_the_screen(tmp_path / "engine.sock"))


async def a_status_reply(path: Path) -> control.Reply:
    runtime = EngineRuntime(SETTINGS, Outbox(), follow_commands=False)  # type: ignore[arg-type]
    runtime.perform("fault")
    async with serving(runtime, path):
        return await asyncio.to_thread(control.ask, path, {"action": "status", "driver_id": None})


def test_the_control_reply_carries_the_engines_notes(tmp_path: Path) -> None:
    reply = asyncio.run(a_status_reply(tmp_path / "engine.sock"))
    (note,) = reply.notes
    assert note.endswith("fault injected (KO)")
    assert control.Reply.model_validate_json(reply.model_dump_json()) == reply


# --- the engine's Kafka link, as its sign-in watch says it --------------------------------------

BAD_CREDENTIALS = (
    "sasl_ssl://central:9095/bootstrap: SASL authentication error: Authentication failed during "
    "authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
    "(after 327ms in state AUTH_REQ)"
)
SIGNED_IN = json.dumps({"brokers": {"central:9095/1": {"nodeid": 1, "state": "UP"}}})


@pytest.fixture
def watch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> k.ClientWatch:
    """A Kafka client's sign-in watch, as the engine's producer has one; this test's own
    problem file and no problem said before."""
    monkeypatch.setattr(health, "PROBLEM_PATH", tmp_path / "problem")
    monkeypatch.setattr(k, "_problems", k._Problems())
    return k.ClientWatch("central:9095", k.KafkaSecurity("SASL_SSL", "site", "wrong", None))


def status_of(runtime: EngineRuntime) -> Snapshot:
    status = control.answer(runtime, b'{"action": "status"}').status
    assert status is not None
    return status


def test_the_control_status_carries_the_kafka_problem_until_the_engine_gets_in(
    watch: k.ClientWatch,
) -> None:
    runtime = EngineRuntime(SETTINGS, Outbox(), follow_commands=False)  # type: ignore[arg-type]
    assert status_of(runtime).kafka_problem is None
    watch.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
    assert status_of(runtime).kafka_problem == REFUSED
    assert f"Kafka link: {REFUSED}" in cli.describe(control.answer(runtime, b'{"action": "status"}'))
    watch.on_stats(SIGNED_IN)
    assert status_of(runtime).kafka_problem is None


def test_with_no_engine_the_screen_says_so_and_keys_do_not_crash_it(tmp_path: Path) -> None:
    client = Screen(tmp_path / "missing.sock")
    client.poll()
    assert client.press("p")
    text = plain(client.render())
    assert "the engine is not answering here: No such file or directory" in text
    assert "missing.sock" in text


def test_the_loop_polls_redraws_and_stops_at_q(tmp_path: Path) -> None:
    client = Screen(tmp_path / "missing.sock")
    typed = iter(["", "s", "A\x1b", "pq", "never read"])
    shown: list[str] = []
    screen.run(client, lambda _timeout: next(typed), lambda panel: shown.append(plain(panel)), period=0)
    assert len(shown) == 4  # the first draw, then one per read of the keys until q
    assert all("the engine is not answering here" in text for text in shown)
    assert "driver id: _" in shown[2]
    assert HELP in shown[3]


# --- the command ------------------------------------------------------------------------------


def test_charger_screen_without_a_terminal_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["screen"]) == 2
    assert capsys.readouterr().err.strip() == cli.NO_TERMINAL


def test_charger_screen_has_no_json() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["screen", "--json"])
    assert exit_info.value.code == 2


# --- on a real terminal -------------------------------------------------------------------------


class Terminal:
    """A pseudo-terminal, 120 columns wide, that `charger screen` runs on."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.output = b""

    def read_until(self, done: Callable[[], bool], what: str, timeout: float = 20) -> None:
        """Keep reading what is drawn (so the screen never blocks on a full terminal)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; drawn: {self.output[-2000:]!r}")
            if select.select([self.master], [], [], 0.05)[0]:
                self.output += os.read(self.master, 65536)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.mark.parametrize("quit_by", ["q", "Ctrl-C"])
def test_on_a_terminal_the_screen_quits_and_restores_the_terminal(tmp_path: Path, quit_by: str) -> None:
    terminal = Terminal()
    before = termios.tcgetattr(terminal.slave)
    process = on_terminal(terminal, tmp_path / "missing.sock")
    try:
        terminal.read_until(lambda: b"the engine is not answering here" in terminal.output, "the panel")
        terminal.read_until(lambda: termios.tcgetattr(terminal.slave) != before, "cbreak mode")
        if quit_by == "q":
            os.write(terminal.master, b"q")
        else:  # what the terminal does on Ctrl-C for the program in its foreground
            process.send_signal(signal.SIGINT)
        terminal.read_until(lambda: process.poll() is not None, "the screen to quit")
        assert process.returncode == 0, terminal.output[-2000:]
        assert b"Traceback" not in terminal.output
        assert termios.tcgetattr(terminal.slave) == before
    finally:
        process.kill()
        process.wait()
        terminal.close()


async def a_kafka_problem_on_the_terminal(terminal: Terminal, path: Path, watch: k.ClientWatch) -> None:
    runtime = EngineRuntime(SETTINGS, Outbox(), follow_commands=False)  # type: ignore[arg-type]
    runtime.assign_identity("CP-A001", None)
    watch.on_error(KafkaError(KafkaError._AUTHENTICATION, BAD_CREDENTIALS))
    async with serving(runtime, path):
        process = await asyncio.to_thread(on_terminal, terminal, path)
        try:
            shown = b"\x1b[1;31mKafka link: Kafka at central:9095 refuses user 'site'"
            await asyncio.to_thread(terminal.read_until, lambda: shown in terminal.output, "the Kafka line")
            watch.on_stats(SIGNED_IN)  # the engine's client got in

            def last_frame() -> bytes:
                return terminal.output.rpartition("EVCharging · charging point".encode())[2]

            def cleared() -> bool:
                return b"[q] quit" in last_frame() and b"Kafka" not in last_frame()

            await asyncio.to_thread(terminal.read_until, cleared, "the Kafka line to go")
            assert b"CP-A001" in last_frame()
            os.write(terminal.master, b"q")
            await asyncio.to_thread(terminal.read_until, lambda: process.poll() is not None, "the quit")
        finally:
            process.kill()
            process.wait()


def on_terminal(terminal: Terminal, path: Path) -> subprocess.Popen[bytes]:
    """`charger screen` on the pseudo-terminal, as a person starts it, against the socket at `path`."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ENGINE_DIR),
        "ENGINE_CONTROL_SOCKET": str(path),
        "TERM": "xterm-256color",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cp_engine.cli", "screen"],
        stdin=terminal.slave,
        stdout=terminal.slave,
        stderr=terminal.slave,
        env=environment,
        start_new_session=True,
    )


def test_on_a_terminal_a_kafka_problem_is_shown_in_red_and_goes_when_the_engine_gets_in(
    tmp_path: Path, watch: k.ClientWatch
) -> None:
    terminal = Terminal()
    try:
        asyncio.run(a_kafka_problem_on_the_terminal(terminal, tmp_path / "engine.sock", watch))
    finally:
        terminal.close()
