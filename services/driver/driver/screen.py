"""The driver app on a terminal, drawn with `rich`.

`rich` was chosen because it gives tables, coloured states and a live-updating
panel with one small, well-kept dependency and degrades to plain lines when the
output is not a terminal (a pipe, `docker compose exec -T`, CI logs): then each
update is printed as one line instead of redrawing a panel.
"""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from driver import texts
from driver.outcome import Outcome, Result, Summary
from driver.tracker import ChargeTracker, Phase
from evcharging import simtime
from evcharging.exhaustive import every_member
from evcharging.messages import CpState, CpStatus, SupplyRequest, Ticket

# the status page's colours; the state's word is always shown too
STATE_STYLE = every_member(
    CpState,
    {
        CpState.ACTIVE: "bold green",
        CpState.SUPPLYING: "bold cyan",
        CpState.STOPPED: "bold dark_orange",
        CpState.FAULTY: "bold red",
        CpState.DISCONNECTED: "grey50",
    },
)


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _charging_time(tracker: ChargeTracker) -> str:
    """How long the shown energy took to charge, in the CP's time. An older central does
    not relay it: then the real time since the first update, times the CP's factor."""
    if tracker.duration_s is not None:
        return texts.charging_time(tracker.duration_s, tracker.time_factor)
    since = tracker.supplying_since
    if since is None:
        return ""
    return texts.charging_time(
        (time.time() - since.timestamp()) * float(tracker.time_factor), tracker.time_factor
    )


def ticket_panel(ticket: Ticket, title: str = "Ticket") -> Panel:
    """The bill of one session, as a person reads it."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="grey62", justify="right")
    grid.add_column()
    grid.add_row("Charging point", ticket.cp_id)
    grid.add_row("Driver", ticket.driver_id)
    grid.add_row("Started", _when(ticket.started_at))
    grid.add_row("Ended", _when(ticket.ended_at))
    seconds = simtime.ticket_seconds(ticket)
    grid.add_row("Duration", texts.charging_time(seconds, ticket.time_factor))
    grid.add_row("Energy", texts.kwh(ticket.kwh))
    average = simtime.average_kw(ticket.kwh, seconds)
    if average is not None:
        grid.add_row("Average power", texts.kw(average))
    grid.add_row("Price", texts.price(ticket.price_per_kwh))
    grid.add_row("Total", Text(texts.euros(ticket.total_eur), style="bold"))
    grid.add_row("Ended by", texts.ending(ticket.ended_by))
    grid.add_row("Ticket id", Text(ticket.ticket_id, style="grey50"))
    return Panel(grid, title=f"[bold]{title}[/]", title_align="left", border_style="cyan", expand=False)


class RichOutput:
    """Human output: tables, a live supply panel, clear sentences for every failure."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._live: Live | None = None

    # --- listings -----------------------------------------------------------------

    def statuses(self, statuses: list[CpStatus]) -> None:
        if not statuses:
            self.console.print("No charging point has reported its state yet.")
            return
        table = Table(title="Charging points", title_justify="left", header_style="bold")
        table.add_column("CP")
        table.add_column("Location")
        table.add_column("Price", justify="right")
        table.add_column("State")
        table.add_column("Now", justify="right")
        for status in statuses:
            now = ""
            if status.state is CpState.SUPPLYING:
                now = f"{status.driver_id or ''} · {texts.kw(status.kw)} · {texts.euros(status.eur)}"
            table.add_row(
                status.cp_id,
                status.location,
                texts.price(status.price_per_kwh),
                Text(texts.state_label(status.state), style=STATE_STYLE[status.state]),
                now,
            )
        self.console.print(table)

    def tickets(self, tickets: list[Ticket]) -> None:
        if not tickets:
            self.console.print("You have no tickets yet.")
            return
        table = Table(title="Your tickets", title_justify="left", header_style="bold")
        for name, justify in (("Ended", "left"), ("CP", "left"), ("Energy", "right"), ("Total", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        table.add_column("Ended by")
        for ticket in tickets:
            table.add_row(
                _when(ticket.ended_at),
                ticket.cp_id,
                texts.kwh(ticket.kwh),
                texts.euros(ticket.total_eur),
                texts.ending(ticket.ended_by),
            )
        self.console.print(table)

    def ticket_while_away(self, ticket: Ticket) -> None:
        self._stop_live()
        self.console.print(ticket_panel(ticket, "Ticket of a supply that ended while you were away"))

    # --- one charge ---------------------------------------------------------------

    def requesting(self, request: SupplyRequest) -> None:
        self.console.print(f"Requesting a charge at [bold]{request.cp_id}[/] for {request.driver_id}…")

    def authorised(self, tracker: ChargeTracker) -> None:
        self.console.print(
            f"[green]✔ Authorised[/] at [bold]{tracker.cp_id}[/] ({texts.price(tracker.price_per_kwh)}). "
            "Plug your vehicle in at the charging point."
        )
        if self.console.is_terminal:
            self._live = Live(
                self._panel(tracker), console=self.console, refresh_per_second=4, transient=True
            )
            self._live.start()

    def update(self, tracker: ChargeTracker) -> None:
        if self._live is not None:
            self._live.update(self._panel(tracker))
            return
        elapsed = _charging_time(tracker)
        self.console.print(
            f"  {tracker.cp_id} supplying · {texts.kw(tracker.kw)} · {texts.kwh(tracker.kwh)} · "
            f"{texts.euros(tracker.eur)}" + (f" · {elapsed}" if elapsed else "")
        )

    def tick(self, tracker: ChargeTracker) -> None:
        if self._live is not None:
            self._live.update(self._panel(tracker))

    def interrupted(self, tracker: ChargeTracker) -> None:
        self._stop_live()
        reason = texts.ending(tracker.interruption) if tracker.interruption else "interrupted"
        self.console.print(
            f"[dark_orange]⚠ Supply interrupted[/] at {tracker.cp_id}: {reason}. Waiting for the ticket…"
        )

    def finished(self, outcome: Outcome) -> None:
        self._stop_live()
        if outcome.ticket is not None:
            self.console.print(f"[green]✔ Supply finished[/] at {outcome.cp_id}.")
            self.console.print(ticket_panel(outcome.ticket))
        elif outcome.result is Result.DENIED:
            self.console.print(f"[red]✘ Denied:[/] {outcome.message}")
        else:
            self.console.print(f"[dark_orange]⚠[/] {outcome.message}")

    def _panel(self, tracker: ChargeTracker) -> Panel:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="grey62", justify="right")
        grid.add_column(justify="right", min_width=14)
        if tracker.phase is Phase.AUTHORISED:
            state = Text("waiting for the vehicle to be plugged in", style="yellow")
            elapsed = ""
        else:
            state = Text("supplying", style="bold cyan")
            elapsed = _charging_time(tracker)
        grid.add_row("State", state)
        grid.add_row("Power", texts.kw(tracker.kw))
        grid.add_row("Energy", texts.kwh(tracker.kwh))
        grid.add_row("Cost", Text(texts.euros(tracker.eur), style="bold"))
        if elapsed:
            grid.add_row("Time", elapsed)
        bar = ProgressBar(total=None, pulse=True, width=40)
        return Panel(
            Group(grid, bar),
            title=f"[bold]{tracker.cp_id}[/] · {texts.price(tracker.price_per_kwh)}",
            title_align="left",
            subtitle="Ctrl-C stops following; the supply goes on",
            border_style="cyan",
            expand=False,
        )

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # --- file runs --------------------------------------------------------------------

    def next_in(self, seconds: float, line: int, total: int, cp_id: str) -> None:
        self.console.print(f"[grey62]Next request ({line}/{total}, {cp_id}) in {seconds:g} s…[/]")

    def summary(self, summary: Summary) -> None:
        table = Table(title="Summary", title_justify="left", header_style="bold")
        table.add_column("#", justify="right")
        table.add_column("CP")
        table.add_column("Result")
        table.add_column("Energy", justify="right")
        table.add_column("Total", justify="right")
        for number, outcome in enumerate(summary.outcomes, start=1):
            style = "green" if outcome.ok else "red" if outcome.result is Result.DENIED else "dark_orange"
            table.add_row(
                str(number),
                outcome.cp_id,
                Text(outcome.message if not outcome.ok else "charged", style=style),
                texts.kwh(outcome.kwh) if outcome.ok else "",
                texts.euros(outcome.eur) if outcome.ok else "",
            )
        table.add_section()
        table.add_row(
            "",
            "",
            f"{summary.charged} charged, {summary.failed} not",
            texts.kwh(summary.kwh),
            Text(texts.euros(summary.eur), style="bold"),
        )
        self.console.print(table)

    def error(self, text: str) -> None:
        self._stop_live()
        self.console.print(f"[red]✘[/] {text}")
