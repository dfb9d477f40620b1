"""The status page in headless Chromium (Debian's, driven by Playwright): colours follow
a scripted CP, and an operator stops a CP from the page. Screenshots of each state
are saved to test-results/screenshots/ as artefacts; `09-all-states` (every state at
once, 1200 px wide) is the one docs/screenshots/ keeps."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from evcharging.messages import CpState
from tests.support.browser import chromium, shot
from tests.support.central_auth import TestRun, central_auth
from tests.support.scripted_central import Plan, ScriptedCentral
from tests.support.stack import ROOT, Infra
from tests.support.web import WebServer

pytestmark = pytest.mark.integration

WITNESS_TIMEOUT_MS = 12_000
"""central-web's 5 s without a beacon, plus a margin for a loaded machine."""

# SPEC.md's colours, as the stylesheet spells them (the tile's top border and badge).
GREEN, CYAN = "rgb(22, 163, 74)", "rgb(6, 182, 212)"
ORANGE, RED, GREY = "rgb(234, 122, 12)", "rgb(220, 38, 38)", "rgb(107, 114, 128)"


@pytest.fixture(scope="module")
def web(infra: Infra) -> Iterator[WebServer]:
    server = WebServer(infra, ROOT / "test-results" / "logs" / "central-web-browser.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def tile_colour(page: Page, cp_id: str) -> str:
    return str(page.eval_on_selector(f'[data-cp="{cp_id}"]', "el => getComputedStyle(el).borderTopColor"))


def supply(driver_id: str, kw: str, kwh: str, eur: str, seconds: int, factor: int = 1) -> dict[str, object]:
    """Live figures that add up: `kwh` ≈ `kw` × `seconds` of charging in the CP's time."""
    return {
        "driver_id": driver_id,
        "kw": Decimal(kw),
        "kwh": Decimal(kwh),
        "eur": Decimal(eur),
        "duration_s": Decimal(seconds),
        "time_factor": Decimal(factor),
    }


def badge_shape(page: Page, cp_id: str) -> str:
    """What the state's badge looks like apart from its colour: its shape."""
    script = "el => [getComputedStyle(el).clipPath, getComputedStyle(el).borderRadius].join(' ')"
    return str(page.eval_on_selector(f'[data-cp="{cp_id}"] .badge-dot', script))


def wait_state(page: Page, cp_id: str, state: str) -> float:
    """Seconds until the tile shows `state` (the page updates itself: no reload)."""
    started = time.monotonic()
    expect(page.locator(f'[data-cp="{cp_id}"]')).to_have_attribute("data-state", state, timeout=5000)
    return time.monotonic() - started


def test_tiles_follow_a_cp_and_the_operator_stops_one(
    web: WebServer, central: ScriptedCentral, browser: Browser, infra: Infra
) -> None:
    run = uuid.uuid4().hex[:6]
    page = browser.new_page(viewport={"width": 1366, "height": 860}, reduced_motion="reduce")
    page.goto(f"{web.url}/")
    page.fill("#search", f"T{run}")  # only this test's CPs (the broker is shared)
    # No central-auth yet: the page says nobody vouches for what it shows.
    banner = page.locator("#central-auth-banner")
    expect(banner).to_be_visible(timeout=WITNESS_TIMEOUT_MS)
    expect(banner).to_contain_text("central-auth has not been heard from since")
    expect(banner).to_contain_text("no charging point can connect")
    shot(page, "00-central-auth-silent")
    with central_auth(infra, TestRun(), ROOT / "test-results" / "logs" / "central-auth-browser.log") as auth:
        expect(banner).to_be_hidden(timeout=5000)  # no reload: the stream says so
        stoppable = _follow_and_stop(page, run, web, central, browser)
        auth.kill()
        # Killed: within the timeout the banner is back and the tiles are the last known.
        expect(banner).to_be_visible(timeout=WITNESS_TIMEOUT_MS)
        stopped = page.locator(f'[data-cp="{stoppable}"]')
        expect(stopped).to_have_attribute("data-verified", "false")
        expect(stopped.locator(".tile-stale")).to_be_visible()
        expect(stopped.locator(".tile-stale")).to_have_text("Last known state")
        expect(stopped.locator('[data-field="label"]')).to_have_text("Out of Order")
        shot(page, "08-last-known")
    page.close()


def _follow_and_stop(page: Page, run: str, web: WebServer, central: ScriptedCentral, browser: Browser) -> str:
    """Colours through a CP's states, then an operator stops another: returns its id."""
    moving, stoppable, busy, broken, idle, faulty = (f"T{run}{n}" for n in ("A", "B", "C", "D", "E", "F"))
    places = {
        moving: ("Alicante, Av. de la Estación 12", "0.350"),
        stoppable: ("Elche, C/ Reina Victoria 4", "0.410"),
        busy: ("Benidorm, Av. del Mediterráneo 77", "0.450"),
        broken: ("Alcoy, Plaza de España 1", "0.330"),
        idle: ("San Vicente, Centro Comercial", "0.380"),
        faulty: ("Alicante, Universidad, Parking Norte", "0.290"),
    }
    for cp_id, (location, price) in places.items():
        central.plans[cp_id] = Plan(location=location, price=Decimal(price))
    central.status(moving, CpState.ACTIVE)
    central.status(stoppable, CpState.ACTIVE)
    # a demo CP whose clock runs 60 times fast: 22:10 of charging at 22 kW is 8.125 kWh
    central.status(busy, CpState.SUPPLYING, **supply("DRV007", "22.0", "8.125", "3.66", 1330, factor=60))
    central.status(broken, CpState.DISCONNECTED)
    central.status(idle, CpState.ACTIVE)
    central.status(faulty, CpState.FAULTY)

    expect(page.locator("#feed-status")).to_have_text("Live", timeout=10000)
    wait_state(page, moving, "activado")
    assert tile_colour(page, moving) == GREEN
    shot(page, "01-activado")

    latencies = []
    central.status(moving, CpState.SUPPLYING, **supply("DRV003", "7.4", "0.250", "0.09", 122))
    latencies.append(wait_state(page, moving, "suministrando"))
    tile = page.locator(f'[data-cp="{moving}"]')
    expect(tile.locator('[data-field="driver_id"]')).to_have_text("DRV003")
    central.status(moving, CpState.SUPPLYING, **supply("DRV003", "7.4", "1.250", "0.44", 608))
    expect(tile.locator('[data-field="kwh"]')).to_have_text("1.250", timeout=5000)
    expect(tile.locator('[data-field="eur"]')).to_have_text("0.44")
    expect(tile.locator('[data-field="kw"]')).to_have_text("7.40")
    expect(tile.locator('[data-field="charging_time"]')).to_have_text("10:08")  # 7.4 kW × 10:08 = 1.250 kWh
    expect(tile.locator('[data-field="time_note"]')).to_be_hidden()
    fast = page.locator(f'[data-cp="{busy}"]')
    expect(fast.locator('[data-field="charging_time"]')).to_have_text("22:10")
    expect(fast.locator('[data-field="time_note"]')).to_have_text("simulated time ×60")
    assert tile_colour(page, moving) == CYAN
    shot(page, "02-suministrando")

    central.status(moving, CpState.FAULTY)
    latencies.append(wait_state(page, moving, "averiado"))
    assert tile_colour(page, moving) == RED
    expect(tile.locator(".tile-live")).to_be_hidden()
    shot(page, "03-averiado")

    central.status(moving, CpState.DISCONNECTED)
    latencies.append(wait_state(page, moving, "desconectado"))
    assert tile_colour(page, moving) == GREY
    shot(page, "04-desconectado")
    assert max(latencies) < 1.5, f"the page took {max(latencies):.2f} s to show a change"

    # The operator logs in and stops a CP from its tile.
    page.click("text=Operator login")
    page.fill('input[name="operator"]', "Ana")
    page.fill('input[name="password"]', "not the password")
    page.click('button:has-text("Log in")')
    expect(page.locator(".login-error")).to_contain_text("Wrong password")
    shot(page, "05-login-refused")
    page.fill('input[name="password"]', web.password)
    page.click('button:has-text("Log in")')
    expect(page.locator(".who")).to_contain_text("Ana")
    page.fill("#search", f"T{run}")
    target = page.locator(f'[data-cp="{stoppable}"]')
    target.locator('button:has-text("Stop")').click()
    expect(page.locator(".toast")).to_contain_text(f"Stop sent to {stoppable}")
    wait_state(page, stoppable, "parado")
    assert tile_colour(page, stoppable) == ORANGE
    expect(target.locator(".tile-legend")).to_be_visible()
    expect(target.locator(".tile-legend")).to_contain_text("Out of Order")
    expect(target.locator('button:has-text("Resume")')).to_be_visible()
    shot(page, "06-parado")
    assert [(c.cp_id, c.action.value, c.operator) for c in central.commands] == [(stoppable, "stop", "Ana")]

    # Every state at once: five colours, and five shapes for whoever cannot tell the colours apart.
    central.status(moving, CpState.ACTIVE)
    wait_state(page, moving, "activado")
    one_of_each = {idle: GREEN, busy: CYAN, stoppable: ORANGE, faulty: RED, broken: GREY}
    assert {cp: tile_colour(page, cp) for cp in one_of_each} == one_of_each
    assert len({badge_shape(page, cp) for cp in one_of_each}) == 5
    page.set_viewport_size({"width": 1200, "height": 800})
    expect(page.locator(".toast")).to_have_count(0, timeout=8000)  # the picture for the docs
    shot(page, "09-all-states")
    page.set_viewport_size({"width": 1366, "height": 860})

    phone = browser.new_page(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    phone.goto(f"{web.url}/?q=T{run}")
    expect(phone.locator(f'[data-cp="{stoppable}"]')).to_have_attribute("data-state", "parado")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    shot(phone, "07-phone")
    phone.close()
    return stoppable
