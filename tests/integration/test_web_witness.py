"""No state without a witness (issue 13): central-web on the real broker trusts a CP's
state only while a real central-auth's beacons say it is alive.

The compacted `estado_cp` keeps every CP's last word; these tests publish an
`activado` there with no central-auth running, and check that the page and the
API show it as the last known state, not as a verified one, until a live
central-auth vouches for it, and again as soon as that central-auth is killed."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from evcharging.kafka import ContractProducer
from evcharging.messages import CpState, CpStatus
from evcharging.topics import CP_STATUS
from tests.support.central_auth import AuthProcess, TestRun, central_auth
from tests.support.stack import ROOT, Infra
from tests.support.waiting import wait_until
from tests.support.web import Client, WebServer

pytestmark = pytest.mark.integration

LOGS = ROOT / "test-results" / "logs"
TIMEOUT = 5.0
"""central-web's default WEB_CENTRAL_AUTH_TIMEOUT."""
MARGIN = 2.5
"""Beyond the timeout: the ticker's half second, a poll, a loaded machine."""


@pytest.fixture
def run() -> TestRun:
    return TestRun()


def publish(infra: Infra, cp_id: str, state: CpState) -> None:
    """Publish a CP's status on `estado_cp`, as central-stream would."""
    producer = ContractProducer(infra.kafka_bootstrap, "web-witness-test")
    status = CpStatus(cp_id=cp_id, state=state, location="Witness street", price_per_kwh=Decimal("0.3"))
    producer.send(CP_STATUS, status)
    assert producer.flush(10) == 0


def central(client: Client) -> dict[str, Any]:
    status, body = client.get("/api/central")
    assert status == 200, body
    answer: dict[str, Any] = body["central_auth"]
    return answer


def tile(client: Client, cp_id: str) -> dict[str, Any] | None:
    status, body = client.get(f"/api/cps/{cp_id}")
    return body if status == 200 else None


def page(web: WebServer) -> str:
    with urllib.request.urlopen(f"{web.url}/", timeout=10) as response:  # noqa: S310 - test URL
        text: str = response.read().decode()
    return text


def banner_shown(html: str) -> bool:
    tag = re.search(r'<div id="central-auth-banner"[^>]*>', html)
    assert tag is not None, "the page has no central-auth banner"
    return "hidden" not in tag.group(0) and "central-auth has not been heard from since" in html


def consistently(condition: Callable[[], bool], times: int = 6) -> bool:
    """`condition` holds for several answers in a row: each gunicorn worker has its own
    feed and witness, and a request may reach either."""
    return all(condition() for _ in range(times))


def no_activado_is_verified(client: Client) -> bool:
    _status, cps = client.get("/api/cps")
    return not [cp for cp in cps if cp["state"] == "activado" and cp["verified"]]


def shows_last_known(web: WebServer, client: Client, cp_id: str) -> bool:
    """Silent central-auth, as the API and the page say it: the CP's state is still
    shown, as the last known one, and no `activado` is verified."""
    shown = tile(client, cp_id) or {}
    return (
        not central(client)["alive"]
        and (shown.get("state"), shown.get("verified")) == ("activado", False)
        and no_activado_is_verified(client)
        and banner_shown(page(web))
    )


def test_a_silent_central_auth_vouches_for_nothing_and_a_live_one_does(infra: Infra, run: TestRun) -> None:
    stale, fresh = run.new_cp_id(), run.new_cp_id()
    publish(infra, stale, CpState.ACTIVE)
    # central-web (re)starts while no central-auth runs: the compacted topic says `activado`.
    web = WebServer(infra, LOGS / "central-web-witness.log").start()
    try:
        client = Client(web.url)
        wait_until(
            lambda: consistently(lambda: shows_last_known(web, client, stale)),
            TIMEOUT + MARGIN + 10,
            "the page to show the stale CP as last known, with the banner",
        )

        with central_auth(infra, run, LOGS / "central-auth-witness.log") as auth:
            serving = time.monotonic()
            heard = wait_until(lambda: (c := central(client))["alive"] and c, 5, "central-auth to be heard")
            assert time.monotonic() - serving < 3.0, "a beacon a second: heard within a few seconds"
            assert (heard["connected_cps"], heard["silent_since"]) == (0, None)
            wait_until(
                lambda: consistently(lambda: central(client)["alive"] and not banner_shown(page(web))),
                5,
                "every worker to hear central-auth and drop the banner",
            )
            # The `activado` published before this run started is from a run whose monitors
            # are gone: still not vouched for. A state published since is.
            assert consistently(lambda: (tile(client, stale) or {}).get("verified") is False)
            publish(infra, fresh, CpState.ACTIVE)
            wait_until(
                lambda: consistently(lambda: (tile(client, fresh) or {}).get("verified") is True),
                10,
                "the state published since central-auth started to be verified",
            )

            auth.kill()
            killed = time.monotonic()
            wait_until(
                lambda: shows_last_known(web, client, fresh),
                TIMEOUT + MARGIN,
                "the silence to be noticed after SIGKILL",
            )
            noticed = time.monotonic() - killed
            wait_until(
                lambda: consistently(lambda: shows_last_known(web, client, fresh)),
                2,
                "every worker to notice the silence",
            )
        print(f"heard {heard['incarnation']}; silence noticed {noticed:.1f} s after SIGKILL")
    finally:
        web.stop()


def test_a_fresh_worker_reads_the_last_beacon_and_does_not_cry_wolf(infra: Infra, run: TestRun) -> None:
    with central_auth(infra, run, LOGS / "central-auth-witness.log") as auth:
        wait_until(lambda: beacon_published(auth), 10, "a first beacon")
        web = WebServer(infra, LOGS / "central-web-witness-fresh.log").start()
        try:
            client = Client(web.url)
            answers = []
            for _ in range(20):
                _status, state = client.get("/api/state")
                if state["feed"]["caught_up"]:
                    answers.append(state["central_auth"]["alive"])
            assert answers, "no caught-up worker answered"
            assert all(answers), f"a caught-up worker said central-auth was silent: {answers}"
            wait_until(
                lambda: consistently(lambda: Client(web.url).get("/healthz")[1]["feed"]["caught_up"]),
                15,
                "every worker to catch up",
            )
            assert consistently(lambda: not banner_shown(page(web)))
        finally:
            web.stop()


def beacon_published(auth: AuthProcess) -> bool:
    """central-auth logs when it starts sending beacons; the first goes at once."""
    return "beacons every" in auth.log()
