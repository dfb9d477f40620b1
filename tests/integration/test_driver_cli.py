"""The driver app on the real broker, against a scripted central.

The driver runs as a subprocess, exactly as `docker compose exec driver driver …`
runs it, so these tests see its real output and exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from driver import texts
from evcharging.messages import CpState, DenialReason, EndReason, Ticket, new_id, utc_now
from tests.support.scripted_central import Plan, ScriptedCentral, neighbour_of
from tests.support.stack import ROOT, Infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def uid(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def driver_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "services/driver"), str(ROOT / "lib")]),
        "COLUMNS": "250",  # no wrapping, so a sentence can be found whole
        "DRIVER_ID": "",
    }


def driver_args(infra: Infra, driver_id: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "driver", "--broker", infra.kafka_bootstrap, "--driver", driver_id, *args]


def run_driver(
    infra: Infra, driver_id: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        driver_args(infra, driver_id, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=driver_env(),
        cwd=ROOT,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


class Background:
    """A driver process whose output lines are collected while it runs."""

    def __init__(self, args: list[str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=driver_env(), cwd=ROOT
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(10)


# --- list -----------------------------------------------------------------------------


def test_list_shows_every_cp_with_its_state_and_price(infra: Infra, central: ScriptedCentral) -> None:
    free, busy = uid(), uid()
    central.plans[free] = Plan(price=Decimal("0.310"), location="Alicante, test bay 1")
    central.plans[busy] = Plan(price=Decimal("0.420"), location="Elche, test bay 2")
    central.status(free, CpState.ACTIVE)
    central.status(busy, CpState.STOPPED)
    central.status(
        busy, CpState.SUPPLYING, driver_id="DRV002", kw=Decimal("7.4"), kwh=Decimal(1), eur=Decimal("0.42")
    )

    listed = json.loads(run_driver(infra, uid(), "--json", "list").stdout)
    by_id = {cp["cp_id"]: cp for cp in listed}
    assert by_id[free]["state"] == "activado"
    assert by_id[free]["price_per_kwh"] == "0.310"
    assert by_id[free]["location"] == "Alicante, test bay 1"
    assert by_id[busy]["state"] == "suministrando", "the latest status of a CP wins"

    human = run_driver(infra, uid(), "list")
    assert human.returncode == 0
    row = next(line for line in human.stdout.splitlines() if free in line)
    assert "available" in row
    assert "0.310 €/kWh" in row
    assert "Alicante, test bay 1" in row


# --- charge ---------------------------------------------------------------------------


def test_charge_follows_only_its_own_supply_and_prints_the_ticket(
    infra: Infra, central: ScriptedCentral
) -> None:
    cp, me = uid(), uid()
    other = neighbour_of(me)
    central.plans[cp] = Plan(updates=4, noise_driver=other)

    result = run_driver(infra, me, "--json", "charge", cp)

    assert result.returncode == 0, result.stdout + result.stderr
    events = json_lines(result.stdout)
    kinds = [e["event"] for e in events]
    assert kinds == ["requested", "authorised", "update", "update", "update", "update", "finished"]
    requested = events[0]
    assert requested["expires_at"] > requested["sent_at"], "every request carries its expiry"
    updates = [e for e in events if e["event"] == "update"]
    assert [u["kwh"] for u in updates] == ["0.125", "0.250", "0.375", "0.500"]
    assert all(u["kw"] == "7.400" for u in updates), "never another driver's telemetry"
    ticket = events[-1]["ticket"]
    assert events[-1]["result"] == "charged"
    assert ticket["driver_id"] == me
    assert ticket["cp_id"] == cp
    assert ticket["kwh"] == "0.500"
    assert ticket["total_eur"] == "0.18"
    assert ticket["ticket_id"] == events[1]["session_id"]


def test_charge_in_a_terminal_shows_the_live_figures_and_the_ticket(
    infra: Infra, central: ScriptedCentral
) -> None:
    cp, me = uid(), uid()
    central.plans[cp] = Plan(updates=2, interrupt=EndReason.FAULT)

    result = run_driver(infra, me, "charge", cp)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Authorised at {cp}" in out
    assert "7.40 kW · 0.250 kWh · 0.09 €" in out
    assert "Supply interrupted" in out
    assert "fault at the charging point" in out
    assert "Ticket" in out
    assert "Total" in out
    assert "0.09 €" in out


@pytest.mark.parametrize("reason", list(DenialReason))
def test_every_denial_has_a_clear_message(
    infra: Infra, central: ScriptedCentral, reason: DenialReason
) -> None:
    cp, me = uid(), uid()
    central.plans[cp] = Plan(deny=reason)

    result = run_driver(infra, me, "charge", cp)

    assert result.returncode == 3
    assert texts.denial(reason, cp, me) in result.stdout.replace("\n", " ")
    assert "Traceback" not in result.stderr


def test_a_silent_central_is_a_timeout_not_a_hang(infra: Infra, central: ScriptedCentral) -> None:
    cp, me = uid(), uid()
    central.plans[cp] = Plan(silent=True)

    result = run_driver(infra, me, "--timeout", "2", "charge", cp, timeout=30)

    assert result.returncode == 4
    assert "The central is not answering" in result.stdout
    [served] = central.requests_for(cp)
    lifetime = served.request.expires_at - served.request.sent_at
    assert timedelta(seconds=1.5) < lifetime <= timedelta(seconds=2.5), (
        "the request expires when the driver gives up"
    )


def test_an_unreachable_broker_is_reported_not_hung() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "driver",
            "--broker",
            "127.0.0.1:1",
            "--driver",
            "DRV001",
            "--timeout",
            "2",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=driver_env(),
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert "Cannot reach the network's message broker at 127.0.0.1:1" in result.stdout


# --- a file of requests -----------------------------------------------------------------


def test_a_file_of_three_requests_waits_4_s_after_each_service(
    infra: Infra, central: ScriptedCentral, tmp_path: Path
) -> None:
    first, second, third, me = uid(), uid(), uid(), uid()
    central.plans[first] = Plan(updates=2)
    central.plans[second] = Plan(deny=DenialReason.CP_BUSY)
    central.plans[third] = Plan(updates=1)
    requests = tmp_path / "requests.txt"
    requests.write_text(f"# my trip\n{first}\n\n{second}\n{third}\n")

    result = run_driver(infra, me, "--json", "run", str(requests), timeout=90)

    assert result.returncode == 1, "one of the three was denied"
    learned = [
        datetime.fromisoformat(event["learned_at"])
        for event in json_lines(result.stdout)
        if event["event"] == "finished"
    ]
    assert len(learned) == 3, result.stdout
    # What the central received: each request's sent_at, stamped by the driver as it sent it.
    sent = [central.requests_for(cp)[0].request.sent_at for cp in (first, second, third)]
    for ended, next_sent in zip(learned, sent[1:], strict=False):
        assert next_sent - ended >= timedelta(seconds=4), "4 s after the driver learned the service ended"
    summary = json_lines(result.stdout)[-1]
    assert (summary["event"], summary["charged"], summary["requests"]) == ("summary", 2, 3), summary


@pytest.mark.parametrize("driver_first", [True, False], ids=["seed-order", "broker-first"])
def test_the_seed_form_runs_a_file_of_requests(
    infra: Infra, central: ScriptedCentral, tmp_path: Path, driver_first: bool
) -> None:
    denied, charged, me = uid(), uid(), uid()
    central.plans[denied] = Plan(deny=DenialReason.CP_BUSY)
    central.plans[charged] = Plan(updates=1)
    requests = tmp_path / "requests.txt"
    requests.write_text(f"{denied}\n{charged}\n")

    # The seed's form, python -m driver <driver_id> <kafka_broker> [file], and the order
    # this project documented before it, <kafka_broker> <driver_id> [file]
    first_two = [me, infra.kafka_bootstrap] if driver_first else [infra.kafka_bootstrap, me]
    result = subprocess.run(
        [sys.executable, "-m", "driver", *first_two, str(requests)],
        capture_output=True,
        text=True,
        timeout=90,
        env=driver_env(),
        cwd=ROOT,
        check=False,
    )

    assert result.returncode == 1, "one of the two was denied"
    assert "Summary" in result.stdout
    assert "1 charged, 1 not" in result.stdout
    assert texts.denial(DenialReason.CP_BUSY, denied, me) in result.stdout
    assert [len(central.requests_for(cp)) for cp in (denied, charged)] == [1, 1]


def test_a_bad_line_in_the_file_is_reported_before_anything_is_sent(infra: Infra, tmp_path: Path) -> None:
    requests = tmp_path / "requests.txt"
    requests.write_text("CP001\nnot a cp id\n")
    result = run_driver(infra, uid(), "run", str(requests))
    assert result.returncode == 2
    assert "line 2" in result.stdout


# --- tickets ----------------------------------------------------------------------------


def _ticket(driver_id: str, cp_id: str, kwh: str) -> Ticket:
    ended = utc_now()
    return Ticket(
        ticket_id=new_id(),
        cp_id=cp_id,
        driver_id=driver_id,
        started_at=ended - timedelta(minutes=30),
        ended_at=ended,
        kwh=Decimal(kwh),
        price_per_kwh=Decimal("0.400"),
        total_eur=(Decimal(kwh) * Decimal("0.4")).quantize(Decimal("0.01")),
        ended_by=EndReason.UNPLUGGED,
    )


def test_tickets_lists_only_my_past_tickets(infra: Infra, central: ScriptedCentral) -> None:
    me = uid()
    mine = [_ticket(me, uid(), "10.000"), _ticket(me, uid(), "2.500")]
    for ticket in [mine[0], _ticket(neighbour_of(me), uid(), "5.000"), mine[1]]:
        central.publish(ticket)

    listed = json.loads(run_driver(infra, me, "--json", "tickets").stdout)

    assert [t["ticket_id"] for t in listed] == [t.ticket_id for t in mine]
    assert listed[0]["total_eur"] == "4.00"
    assert listed[0]["ended_by_text"] == "vehicle unplugged"
    human = run_driver(infra, me, "tickets").stdout
    assert "Your tickets" in human
    assert "10.000 kWh" in human
    assert "1.00 €" in human


def test_a_ticket_issued_while_the_driver_was_away_is_shown_when_it_comes_back(
    infra: Infra, central: ScriptedCentral
) -> None:
    cp, elsewhere, me = uid(), uid(), uid()
    central.plans[cp] = Plan(updates=2, hold_ticket=True)
    central.plans[elsewhere] = Plan(deny=DenialReason.CP_FAULTY)
    following = Background(driver_args(infra, me, "--json", "charge", cp))
    try:
        wait_until(
            lambda: any(e["event"] == "update" for e in following.events()),
            30,
            "the driver following its supply",
        )
        session = next(e["session_id"] for e in following.events() if e["event"] == "authorised")
    finally:
        following.kill()  # the driver goes away mid-supply
    central.release_ticket(cp)  # ... and the supply ends without it
    wait_until(lambda: central.requests_for(cp)[0].ended_at, 30, "the ticket to be issued")

    back = json_lines(run_driver(infra, me, "--json", "charge", elsewhere).stdout)

    assert back[0]["event"] == "ticket_while_away"
    assert back[0]["ticket"]["ticket_id"] == session
    assert back[-1]["result"] == "denied"
    again = json_lines(run_driver(infra, me, "--json", "charge", elsewhere).stdout)
    assert all(e["event"] != "ticket_while_away" for e in again), "a missed ticket is shown once"
