"""SIGKILL the worker mid-session: CPs go on supplying, and when a worker is back
no session, no kWh and no ticket is lost or doubled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from central_stream.rules import price
from evcharging import topics as t
from evcharging.messages import (
    CpState,
    SupplyAuthorised,
    SupplyDenied,
    SupplyUpdate,
    Ticket,
)
from evcharging.partitioning import partition_for
from tests.integration.test_central_stream import (
    WAIT,
    Outputs,
    Run,
    Script,
    Worker,
    answers_to,
    authorise,
    outputs,
    ready_cp,
    run,
    script,
    supply_rows,
    workers,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
__all__ = ["outputs", "run", "script", "workers"]  # fixtures, imported for pytest

STEP = Decimal("0.010")
NEIGHBOURS = 12
"""Sessions whose ends wait before a CP's unplug when a worker starts: enough that
replaying them takes longer than judging a request takes the request agent."""


class Engine(threading.Thread):
    """A CP engine supplying: telemetry every `period` seconds until told to stop."""

    def __init__(self, script: Script, cp_id: str, session: str, period: float = 0.05) -> None:
        super().__init__(name=f"engine-{cp_id}", daemon=True)
        self.script, self.cp_id, self.session, self.period = script, cp_id, session, period
        self.seq = -1
        self.kwh = Decimal(0)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.period):
            self.seq += 1
            self.kwh += STEP
            self.script.telemetry(self.cp_id, self.session, self.seq, self.kwh)

    def stop(self) -> tuple[int, Decimal]:
        self.halt.set()
        self.join(timeout=5)
        assert self.script.producer.flush(10) == 0
        return self.seq, self.kwh


def latest_seq(outputs: Outputs, session: str) -> int:
    return max((u.seq for u in outputs.of(SupplyUpdate, session_id=session)), default=-1)


def test_sigkill_mid_session_loses_and_doubles_nothing(
    run: Run, workers: Callable[..., Worker], script: Script, outputs: Outputs
) -> None:
    first = workers("before-kill")
    cp_id = ready_cp(run, script, outputs, price="0.370")
    driver, waiting_driver = run.add_driver(), run.add_driver()
    session = authorise(script, outputs, cp_id, driver)
    engine = Engine(script, cp_id, session)
    engine.start()
    wait_until(lambda: latest_seq(outputs, session) >= 20, WAIT, "telemetry flowing")

    first.kill()
    killed_at_seq = engine.seq
    other_cp = run.add_cp()  # registered while the central is down
    stale = script.request(cp_id, waiting_driver, expires_in=0.5)  # a request made while down
    wait_until(
        lambda: engine.seq >= killed_at_seq + 20, WAIT, "the CP supplying on while the central is down"
    )

    restarted_at = time.monotonic()
    workers("after-kill")
    wait_until(lambda: latest_seq(outputs, session) > killed_at_seq + 20, 60, "updates after the restart")
    recovery = time.monotonic() - restarted_at
    print(f"\nrecovery after SIGKILL: {recovery:.2f} s from restart to the first live update")

    final_seq, final_kwh = engine.stop()
    script.unplug(cp_id, session, final_seq + 1, final_kwh)
    ticket = outputs.wait_for(Ticket, ticket_id=session)
    assert ticket.kwh == final_kwh == STEP * (final_seq + 1)
    assert ticket.total_eur == price(final_kwh, Decimal("0.370"))
    (row,) = supply_rows(run, session)
    assert (row["consumo_kwh"], row["importe_total"], row["estado"]) == (
        ticket.kwh,
        ticket.total_eur,
        "unplugged",
    )
    outputs.wait_state(cp_id, CpState.ACTIVE)

    denial = outputs.wait_for(SupplyDenied, request_id=stale.request_id)
    assert denial.reason == "request_expired", "a request made while down is never authorised late"
    assert not outputs.of(SupplyAuthorised, request_id=stale.request_id)
    script.connect(other_cp)
    outputs.wait_state(other_cp, CpState.ACTIVE)
    tickets = outputs.of(Ticket, ticket_id=session)
    assert {(t.kwh, t.total_eur, t.message_id) for t in tickets} == {
        (ticket.kwh, ticket.total_eur, ticket.message_id)
    }


def test_sigkill_right_after_the_unplug_still_issues_the_ticket_once(
    run: Run, workers: Callable[..., Worker], script: Script, outputs: Outputs
) -> None:
    first = workers("before-kill")
    cp_id = ready_cp(run, script, outputs, price="0.290")
    driver = run.add_driver()
    sessions = []
    for _ in range(3):  # kill at three different moments around the end of a session
        session = authorise(script, outputs, cp_id, driver)
        for seq in range(5):
            script.telemetry(cp_id, session, seq, STEP * 7 * (seq + 1))
        script.unplug(cp_id, session, 5, STEP * 35)
        sessions.append(session)
        first.kill()
        first = workers("restarted")
        outputs.wait_for(Ticket, ticket_id=session, timeout=60)
        outputs.wait_state(cp_id, CpState.ACTIVE)
    for session in sessions:
        tickets = outputs.of(Ticket, ticket_id=session)
        assert {(t.kwh, t.total_eur, t.message_id) for t in tickets} == {
            (Decimal("0.350"), Decimal("0.10"), tickets[0].message_id)  # 0.1015
        }
        assert len(supply_rows(run, session)) == 1
    assert len({s.session_id for s in outputs.of(SupplyAuthorised, cp_id=cp_id)}) == 3


def test_a_request_made_after_an_unplug_while_down_is_judged_after_the_unplug(
    run: Run, workers: Callable[..., Worker], script: Script, outputs: Outputs
) -> None:
    """Requests and the other CP events come through two agents. A worker starting
    after a crash must not judge a request before the unplug that came before it
    (the CP would look busy), however long the events before that unplug take."""
    first = workers("before-kill")
    cp_id = ready_cp(run, script, outputs)
    driver = run.add_driver()
    session = authorise(script, outputs, cp_id, driver)
    # other CPs of the same partition, whose ends wait before this one's on the topic
    partition = partition_for(cp_id, t.PARTITIONS)
    neighbours = [
        n
        for n in (run.new_id("C") for _ in range(20 * t.PARTITIONS))
        if partition_for(n, t.PARTITIONS) == partition
    ]
    ended_first = []
    for neighbour in neighbours[:NEIGHBOURS]:
        run.add_cp(cp_id=neighbour)
        script.connect(neighbour)
        outputs.wait_state(neighbour, CpState.ACTIVE)
        ended_first.append((neighbour, authorise(script, outputs, neighbour, run.add_driver())))
    first.kill()
    for neighbour, neighbour_session in ended_first:
        script.unplug(neighbour, neighbour_session, 0, STEP)
    script.unplug(cp_id, session, 0, STEP)
    request = script.request(cp_id, driver, expires_in=120)  # the driver, at once again

    workers("restarted")
    outputs.wait_for(Ticket, ticket_id=session, timeout=60)
    wait_until(lambda: answers_to(outputs, [request]), 60, "an answer to the request")
    assert [type(answer) for answer in answers_to(outputs, [request])] == [SupplyAuthorised], (
        f"answered {answers_to(outputs, [request])}"
    )
