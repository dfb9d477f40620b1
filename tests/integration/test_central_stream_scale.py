"""Two workers split the partitions, and every flow works on every partition;
when one leaves, the other takes its CPs over with their state."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from evcharging import topics as t
from evcharging.messages import CpState, DenialReason, EndReason, Fault, SupplyDenied, SupplyUpdate, Ticket
from evcharging.partitioning import partition_for
from tests.integration.test_central_stream import (
    WAIT,
    Outputs,
    Run,
    Script,
    Worker,
    authorise,
    outputs,
    run,
    script,
    workers,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
__all__ = ["outputs", "run", "script", "workers"]  # fixtures, imported for pytest


def one_cp_per_partition(run: Run) -> list[str]:
    """Register CPs until every partition has one; returns one per partition."""
    chosen: dict[int, str] = {}
    while len(chosen) < t.PARTITIONS:
        cp_id = run.new_id("S")
        chosen.setdefault(partition_for(cp_id, t.PARTITIONS), cp_id)
    for cp_id in chosen.values():
        run.add_cp("0.300", cp_id=cp_id)
    return [chosen[p] for p in sorted(chosen)]


def split_between(first: Worker, second: Worker) -> bool:
    a, b = first.partitions(), second.partitions()
    return bool(a and b and not a & b and a | b == set(range(t.PARTITIONS)))


def test_two_workers_split_the_partitions_and_every_flow_works(
    run: Run, workers: Callable[..., Worker], script: Script, outputs: Outputs
) -> None:
    cps = one_cp_per_partition(run)
    first, second = workers("one"), workers("two")
    wait_until(lambda: split_between(first, second), 60, "the partitions split between two workers")
    for cp_id in cps:
        outputs.wait_state(cp_id, CpState.DISCONNECTED)
        script.connect(cp_id)
    for cp_id in cps:
        outputs.wait_state(cp_id, CpState.ACTIVE)

    drivers = [run.add_driver() for _ in cps]
    sessions = {cp_id: authorise(script, outputs, cp_id, d) for cp_id, d in zip(cps, drivers, strict=True)}
    for cp_id, session in sessions.items():
        busy = script.request(cp_id, drivers[0])
        assert outputs.wait_for(SupplyDenied, request_id=busy.request_id).reason is DenialReason.CP_BUSY
        for seq in range(4):
            script.telemetry(cp_id, session, seq, Decimal("0.500") * (seq + 1))
    for session in sessions.values():
        outputs.wait_for(SupplyUpdate, session_id=session, seq=3)
    faulty = cps[0]
    script.send(t.FAULTS, Fault(cp_id=faulty))
    for cp_id, session in sessions.items():
        if cp_id != faulty:
            script.unplug(cp_id, session, 4, Decimal("2.000"))
    for cp_id, session in sessions.items():
        ticket = outputs.wait_for(Ticket, ticket_id=session)
        assert (ticket.kwh, ticket.total_eur) == (Decimal("2.000"), Decimal("0.60"))
        assert ticket.ended_by is (EndReason.FAULT if cp_id == faulty else EndReason.UNPLUGGED)
    outputs.wait_state(faulty, CpState.FAULTY)

    second.stop()  # the other worker takes its partitions over, with the CPs' state
    wait_until(lambda: first.partitions() == set(range(t.PARTITIONS)), WAIT, "one worker owning everything")
    for cp_id, driver in zip(cps[1:], drivers[1:], strict=True):
        session = authorise(script, outputs, cp_id, driver)
        script.unplug(cp_id, session, 0, Decimal("1.000"))
        assert outputs.wait_for(Ticket, ticket_id=session).total_eur == Decimal("0.30")
    denial = outputs.wait_for(SupplyDenied, request_id=script.request(faulty, drivers[0]).request_id)
    assert denial.reason is DenialReason.CP_FAULTY
    first.assert_alive()


def test_a_worker_that_joins_leaves_the_first_the_state_of_the_cps_it_keeps(
    run: Run, workers: Callable[..., Worker], script: Script, outputs: Outputs
) -> None:
    """Scaling out revokes every partition of the first worker and gives some back: the
    CPs it keeps are still connected there (records.py), and the ones that move too."""
    cps = one_cp_per_partition(run)
    first = workers("one")
    wait_until(lambda: first.partitions() == set(range(t.PARTITIONS)), WAIT, "one worker owning everything")
    for cp_id in cps:
        outputs.wait_state(cp_id, CpState.DISCONNECTED)
        script.connect(cp_id)
    for cp_id in cps:
        outputs.wait_state(cp_id, CpState.ACTIVE)
    second = workers("two")
    wait_until(lambda: split_between(first, second), 60, "the partitions split between two workers")
    for cp_id in cps:
        session = authorise(script, outputs, cp_id, run.add_driver())
        script.unplug(cp_id, session, 0, Decimal("1.000"))
        assert outputs.wait_for(Ticket, ticket_id=session).total_eur == Decimal("0.30")
    first.assert_alive()
    second.assert_alive()
