"""What the page's live tile shows adds up: its kWh is the average power times the
charging time it shows, at every update, for a CP in real time and for a demo CP whose
clock runs 60 times fast (the tile then says "simulated time ×60")."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

import pytest

from central_web.app import create_app
from central_web.board import Board
from central_web.live import LiveBoard
from evcharging.messages import CpState, CpStatus
from tests.support.supply import CP, simulate
from tests.support.web import offline_settings

HALF_SECOND = Decimal("0.5")
HALF_WATT_HOUR = Decimal("0.0005")


def field(page: str, name: str) -> str:
    """The text of the tile's `data-field` element (there is one CP on the page)."""
    tile = page[page.index(f'data-cp="{CP}"') :]
    match = re.search(rf'data-field="{name}"[^>]*>([^<]*)<', tile)
    assert match, f"the tile has no {name}"
    return html.unescape(match[1]).strip()


def seconds(shown: str) -> int:
    parts = [int(part) for part in shown.split(":")]
    return sum(value * 60**power for power, value in enumerate(reversed(parts)))


def apply(board: Board, message: CpStatus) -> bool:
    return board.apply(message, datetime.now(UTC))


@pytest.mark.parametrize("factor", [Decimal(1), Decimal(60)])
def test_the_live_tile_adds_up_at_every_update(factor: Decimal) -> None:
    supply = simulate(factor, 15)
    board = LiveBoard()
    app = create_app(
        offline_settings("pw"),
        board,
    )
    client = app.test_client()
    supplying = [s for s in supply.statuses if s.kwh]
    assert len(supplying) == len(supply.telemetry)
    for seen, status in enumerate(supplying, start=1):
        board.change(partial(apply, message=status))
        page = client.get("/").get_data(as_text=True)
        shown = seconds(field(page, "charging_time"))
        assert shown == seen * factor  # the CP's charging time
        kwh = Decimal(field(page, "kwh"))
        kw = supply.average_kw(seen)
        allowed = HALF_WATT_HOUR + kw * HALF_SECOND / 3600 + Decimal("0.000001")
        assert abs(kwh - kw * shown / 3600) <= allowed, f"{kwh} kWh ≠ {kw} kW × {shown} s"
        assert field(page, "time_note") == ("simulated time ×60" if factor == 60 else "")
        tile = client.get(f"/api/cps/{CP}").get_json()
        assert (tile["duration_s"], tile["time_factor"]) == (str(status.duration_s), str(factor))


def test_a_status_from_an_older_central_shows_no_charging_time() -> None:
    board = Board()
    status = CpStatus(
        cp_id=CP,
        state=CpState.SUPPLYING,
        location="x",
        price_per_kwh=Decimal("0.3"),
        kw=Decimal(7),
        kwh=Decimal(1),
    )
    board.apply(status, datetime.now(UTC))
    tile = board.snapshot()["cps"][0]
    assert (tile["charging_time"], tile["time_note"], tile["time_factor"]) == ("", "", "1")
