"""The status page in headless Chromium (Debian's, driven by Playwright): colours follow
a scripted CP, and an operator stops a CP from the page. Screenshots of each state
are saved to test-results/screenshots/ as artefacts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from evcharging.messages import CpState
from tests.support.scripted_central import Plan, ScriptedCentral
from tests.support.stack import ROOT, Infra
from tests.support.web import WebServer

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "test-results" / "screenshots"

# SPEC.md's colours, as the stylesheet spells them (the tile's top border and badge).
GREEN, GREEN_DEEP = "rgb(22, 163, 74)", "rgb(21, 128, 61)"
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
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def tile_colour(page: Page, cp_id: str) -> str:
    return str(page.eval_on_selector(f'[data-cp="{cp_id}"]', "el => getComputedStyle(el).borderTopColor"))


def supply(driver_id: str, kw: str, kwh: str, eur: str) -> dict[str, object]:
    return {"driver_id": driver_id, "kw": Decimal(kw), "kwh": Decimal(kwh), "eur": Decimal(eur)}


def wait_state(page: Page, cp_id: str, state: str) -> float:
    """Seconds until the tile shows `state` (the page updates itself: no reload)."""
    started = time.monotonic()
    expect(page.locator(f'[data-cp="{cp_id}"]')).to_have_attribute("data-state", state, timeout=5000)
    return time.monotonic() - started


def test_tiles_follow_a_cp_and_the_operator_stops_one(
    web: WebServer, central: ScriptedCentral, browser: Browser
) -> None:
    run = uuid.uuid4().hex[:6]
    moving, stoppable, busy, broken = (f"T{run}{n}" for n in ("A", "B", "C", "D"))
    places = {
        moving: ("Alicante, Av. de la Estación 12", "0.350"),
        stoppable: ("Elche, C/ Reina Victoria 4", "0.410"),
        busy: ("Benidorm, Av. del Mediterráneo 77", "0.450"),
        broken: ("Alcoy, Plaza de España 1", "0.330"),
    }
    for cp_id, (location, price) in places.items():
        central.plans[cp_id] = Plan(location=location, price=Decimal(price))
    central.status(moving, CpState.ACTIVE)
    central.status(stoppable, CpState.ACTIVE)
    central.status(busy, CpState.SUPPLYING, **supply("DRV007", "22.0", "8.125", "3.66"))
    central.status(broken, CpState.DISCONNECTED)

    page = browser.new_page(viewport={"width": 1366, "height": 860}, reduced_motion="reduce")
    page.goto(f"{web.url}/")
    page.fill("#search", f"T{run}")  # only this test's CPs (the broker is shared)
    expect(page.locator("#feed-status")).to_have_text("Live", timeout=10000)
    wait_state(page, moving, "activado")
    assert tile_colour(page, moving) == GREEN
    shot(page, "01-activado")

    latencies = []
    central.status(moving, CpState.SUPPLYING, **supply("DRV003", "7.4", "0.250", "0.09"))
    latencies.append(wait_state(page, moving, "suministrando"))
    tile = page.locator(f'[data-cp="{moving}"]')
    expect(tile.locator('[data-field="driver_id"]')).to_have_text("DRV003")
    central.status(moving, CpState.SUPPLYING, **supply("DRV003", "7.4", "1.250", "0.44"))
    expect(tile.locator('[data-field="kwh"]')).to_have_text("1.250", timeout=5000)
    expect(tile.locator('[data-field="eur"]')).to_have_text("0.44")
    expect(tile.locator('[data-field="kw"]')).to_have_text("7.40")
    assert tile_colour(page, moving) == GREEN_DEEP
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

    phone = browser.new_page(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    phone.goto(f"{web.url}/?q=T{run}")
    expect(phone.locator(f'[data-cp="{stoppable}"]')).to_have_attribute("data-state", "parado")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    shot(phone, "07-phone")
    phone.close()
    page.close()
