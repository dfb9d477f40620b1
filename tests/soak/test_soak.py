"""The soak: five CPs in automatic mode and three drivers running request files for
SOAK_MINUTES (10), while a component is killed (SIGKILL) and started again every
minute. At the end no ticket may be lost or doubled, and the database's totals must
equal the engines' own. Run with `make soak`; the figures go to test-results/soak.json.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from decimal import Decimal

import pytest

from evcharging import messages as m
from evcharging.topics import SUPPLY_ENDED, TELEMETRY, TICKETS
from tests.support.e2e import Stack
from tests.support.kafka import TopicTail
from tests.support.stack import ROOT, compose, infra_addresses, make
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
CPS = 5
DRIVERS = ("DRV001", "DRV002", "DRV003")
VICTIMS = (
    *("central-auth", "central-stream", "central-web", "kafka", "mariadb"),
    *("CP container", "engine", "monitor"),
)
"""Services, a whole CP's container, or one process in a CP's container."""


def kill_and_start(stack: Stack, victim: str, rng: random.Random) -> str:
    """Kill `victim`; a CP's parts come back by themselves, a service is started again."""
    index = rng.randint(1, CPS)
    if victim == "CP container":
        stack.crash_container(index)
        return f"cp-engine-{index}"
    if victim in ("engine", "monitor"):
        stack.kill_process(index, victim)
        return f"cp-engine-{index} {victim}"
    compose("kill", "-s", "SIGKILL", victim, check=False)
    compose("start", victim, check=False)
    return victim


def engines_figures(observer: TopicTail, cp_ids: list[str]) -> dict[str, Decimal]:
    """Per session, the energy its engine reported last: its end, or its last telemetry."""
    figures: dict[str, Decimal] = {}
    for cp in cp_ids:
        for telemetry in observer.of(cp, TELEMETRY):
            if isinstance(telemetry, m.Telemetry):
                figures[telemetry.session_id] = max(
                    figures.get(telemetry.session_id, Decimal(0)), telemetry.kwh
                )
        for ended in observer.of(cp, SUPPLY_ENDED):
            if isinstance(ended, m.SupplyEnded):
                figures[ended.session_id] = ended.kwh
    return figures


@pytest.mark.timeout(MINUTES * 60 + 900)
def test_soak(stack: Stack) -> None:
    rng = random.Random(int(os.environ.get("SOAK_SEED", "2026")))
    assert make("scale", f"CP={CPS}").returncode == 0
    cp_ids = stack.wait_engine_ids(CPS)
    stack.wait_states(dict.fromkeys(cp_ids, "activado"))
    observer = TopicTail(infra_addresses().kafka_bootstrap, [TELEMETRY, SUPPLY_ENDED, TICKETS])

    lines = max(1, int(MINUTES * 60 / 12))
    runs = []
    for number, driver in enumerate(DRIVERS):
        requests = [cp_ids[(number + n) % CPS] for n in range(lines)]
        path = f"/tmp/soak-{driver}.txt"  # noqa: S108 - inside the driver's container
        stack.write_in_driver(path, "\n".join(requests) + "\n")
        runs.append(stack.start_driver(driver, "run", path))

    kills: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < MINUTES * 60:
        time.sleep(60)  # the soak's own rhythm: one kill a minute, not a synchronisation
        kills.append(kill_and_start(stack, rng.choice(VICTIMS), rng))
    for run in runs:
        run.kill()

    wait_until(lambda: not stack.query("SELECT id FROM suministros WHERE estado = 'en_curso'"), 300,
               "every supply to end")  # fmt: skip
    rows = {row["id"]: row for row in stack.query("SELECT * FROM suministros")}

    def tickets_seen() -> list[m.Ticket]:
        return [t for d in DRIVERS for t in observer.of(d, TICKETS) if isinstance(t, m.Ticket)]

    wait_until(lambda: len({t.ticket_id for t in tickets_seen()}) >= len(rows), 120,
               "a ticket on Kafka for every stored supply")  # fmt: skip
    tickets = tickets_seen()
    figures = engines_figures(observer, cp_ids)
    observer.close()

    distinct = Counter(
        ticket.ticket_id for ticket in {(t.ticket_id, t.kwh, t.total_eur): t for t in tickets}.values()
    )
    duplicated = sorted(ticket_id for ticket_id, count in distinct.items() if count > 1)
    lost = sorted(session for session in figures if session not in rows)
    differences = {s: str(rows[s]["consumo_kwh"] - kwh) for s, kwh in figures.items() if s in rows
                   and rows[s]["consumo_kwh"] != kwh}  # fmt: skip
    report = {
        "minutes": MINUTES,
        "cps": CPS,
        "drivers": len(DRIVERS),
        "containers": len([line for line in compose("ps", "--format", "json").stdout.splitlines() if line]),
        "kills": kills,
        "tickets": len(rows),
        "tickets_by_end": dict(Counter(row["estado"] for row in rows.values())),
        "lost": lost,
        "duplicated": duplicated,
        "kwh_billed": str(sum((row["consumo_kwh"] for row in rows.values()), Decimal(0))),
        "kwh_reported_by_engines": str(sum(figures.values(), Decimal(0))),
        "kwh_differences": differences,
    }
    results = ROOT / "test-results"
    results.mkdir(exist_ok=True)
    (results / "soak.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    assert (lost, duplicated, differences) == ([], [], {})
    assert len(rows) > 0
