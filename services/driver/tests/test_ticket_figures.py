"""What the driver reads adds up: the energy on the ticket and on the live panel is the
average power times the charging time shown, for a CP in real time and for a demo CP
whose clock runs 60 times fast (which then says so: "simulated time ×60")."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from rich.console import Console, RenderableType

from driver.screen import RichOutput, ticket_panel
from driver.tracker import ChargeTracker
from evcharging import messages as m
from tests.support.supply import CP, DRIVER, simulate

HALF_SECOND = Decimal("0.5")
HALF_WATT_HOUR = Decimal("0.0005")


def text_of(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def row(text: str, name: str) -> str:
    match = re.search(rf"{name}\s+(.+?)\s*│", text)
    assert match, f"no {name!r} row in:\n{text}"
    return match[1]


def seconds(shown: str) -> int:
    """'1:02:03' or '02:03' (optionally followed by a note) in seconds."""
    parts = [int(part) for part in shown.split()[0].split(":")]
    return sum(value * 60**power for power, value in enumerate(reversed(parts)))


def number(shown: str) -> Decimal:
    return Decimal(shown.split()[0])


def assert_adds_up(kwh: Decimal, kw: Decimal, shown_seconds: int) -> None:
    """kWh = kW × h, within what rounding the shown figures allows (Wh, second)."""
    allowed = HALF_WATT_HOUR + kw * HALF_SECOND / 3600 + Decimal("0.000001")
    expected = kw * shown_seconds / 3600
    assert abs(kwh - expected) <= allowed, f"{kwh} kWh ≠ {kw} kW × {shown_seconds} s = {expected}"


@pytest.mark.parametrize(("factor", "ticks"), [(Decimal(1), 20), (Decimal(60), 20), (Decimal(60), 7)])
def test_the_ticket_adds_up(factor: Decimal, ticks: int) -> None:
    supply = simulate(factor, ticks)
    assert supply.ticket is not None
    text = text_of(ticket_panel(supply.ticket))
    duration, energy, power = row(text, "Duration"), row(text, "Energy"), row(text, "Average power")
    shown = seconds(duration)
    assert shown == ticks * factor  # the CP's charging time, not the real one
    assert_adds_up(number(energy), supply.average_kw(), shown)
    # the average power printed is the CP's, to its rounding
    assert abs(number(power) - supply.average_kw()) <= Decimal("0.005") + HALF_WATT_HOUR * 3600 / shown
    assert ("simulated time ×60" in duration) is (factor == 60)


def test_a_fast_ticket_is_not_the_impossible_one_of_the_issue() -> None:
    """Issue 13: '00:20, 7.360 kWh at 22 kW' cannot be; at ×60 it reads 20:00 and says why."""
    supply = simulate(Decimal(60), 20)
    assert supply.ticket is not None
    text = text_of(ticket_panel(supply.ticket))
    assert row(text, "Duration") == "20:00 (simulated time ×60)"
    assert Decimal(20) <= number(row(text, "Average power")) <= Decimal(22)


def test_an_older_ticket_without_a_charging_time_uses_its_times_and_factor() -> None:
    supply = simulate(Decimal(60), 10)
    assert supply.ticket is not None
    old = supply.ticket.model_copy(
        update={"duration_s": None, "ended_at": supply.ticket.started_at + timedelta(seconds=10)}
    )
    assert row(text_of(ticket_panel(old)), "Duration") == "10:00 (simulated time ×60)"


@pytest.mark.parametrize("factor", [Decimal(1), Decimal(60)])
def test_the_live_panel_adds_up_at_every_update(factor: Decimal) -> None:
    supply = simulate(factor, 12)
    output = RichOutput(Console(file=io.StringIO(), width=120))
    tracker = ChargeTracker(request_id="r", cp_id=CP, driver_id=DRIVER)
    authorised = m.SupplyAuthorised(
        request_id="r",
        session_id=supply.updates[0].session_id,
        cp_id=CP,
        driver_id=DRIVER,
        price_per_kwh=Decimal(1),
    )
    tracker.feed(authorised)
    for seen, update in enumerate(supply.updates, start=1):
        tracker.feed(update)
        text = text_of(output._panel(tracker))
        shown = seconds(row(text, "Time"))
        assert shown == seen * factor
        assert_adds_up(number(row(text, "Energy")), supply.average_kw(seen), shown)
        assert ("simulated time ×60" in text) is (factor == 60)
