"""Many rebalances in a row (issue 15): a second worker joins and leaves — by
SIGTERM, and every fifth time by SIGKILL — while a CP supplies and the others
change state. After every rebalance each CP's events must be processed again,
no worker may be ended by its watchdog (what a worker stalled after a rebalance
would need), and the supply's ticket bills exactly what the engine reported.

`REBALANCES` sets how many (10 by default, about 3 minutes; the issue's run is
`REBALANCES=50 .venv/bin/python -m pytest tests/integration/test_central_stream_rebalances.py`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from evcharging import topics as t
from evcharging.messages import CpState, Fault, Recovery, Ticket
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
from tests.integration.test_central_stream_restart import Engine, latest_seq
from tests.integration.test_central_stream_scale import one_cp_per_partition, split_between
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
__all__ = ["outputs", "run", "script", "workers"]  # fixtures, imported for pytest

REBALANCES = int(os.environ.get("REBALANCES", "10"))
EVERY_PARTITION = set(range(t.PARTITIONS))


def test_rebalances_leave_no_worker_stalled_and_lose_nothing(
    run: Run, workers: Callable[..., Worker], script: Script, outputs: Outputs
) -> None:
    supplying, *others = one_cp_per_partition(run)
    steady = workers("steady")
    for cp_id in (supplying, *others):
        script.connect(cp_id)
    for cp_id in (supplying, *others):
        outputs.wait_state(cp_id, CpState.ACTIVE)
    session = authorise(script, outputs, supplying, run.add_driver())
    engine = Engine(script, supplying, session, period=0.1)
    engine.start()

    visitors: list[Worker] = []
    for change in range(REBALANCES):
        started = time.monotonic()
        rebalance(change, steady, visitors, workers)
        every_cp_processes(change, script, outputs, others)
        reported = engine.seq
        wait_until(lambda: latest_seq(outputs, session) >= reported, WAIT, "telemetry applied again")  # noqa: B023
        print(f"rebalance {change + 1}: {time.monotonic() - started:.1f} s until every CP was processed")

    final_seq, final_kwh = engine.stop()
    script.unplug(supplying, session, final_seq + 1, final_kwh)
    assert outputs.wait_for(Ticket, ticket_id=session).kwh == final_kwh
    stalled = [w.log.name for w in (steady, *visitors) if "ended by its watchdog" in w.text()]
    assert not stalled, f"workers ended by their watchdog: {stalled}"


def rebalance(change: int, steady: Worker, visitors: list[Worker], workers: Callable[..., Worker]) -> None:
    """Even changes: a visitor joins and the partitions split. Odd: it leaves (every
    fifth leave by SIGKILL) and the steady worker owns everything again."""
    if change % 2 == 0:
        visitor = workers(f"visitor-{change}")
        visitors.append(visitor)
        wait_until(lambda: split_between(steady, visitor), 60, "the partitions split between two workers")
        return
    if change % 10 == 9:
        visitors[-1].kill()
    else:
        visitors[-1].stop()
    wait_until(lambda: steady.partitions() == EVERY_PARTITION, 60, "one worker owning every partition")


def every_cp_processes(change: int, script: Script, outputs: Outputs, cp_ids: list[str]) -> None:
    """A fault, or a recovery, on every CP: each partition's events are processed."""
    faulty = change % 2 == 0
    for cp_id in cp_ids:
        if faulty:
            script.send(t.FAULTS, Fault(cp_id=cp_id))
        else:
            script.send(t.RECOVERIES, Recovery(cp_id=cp_id))
    state = CpState.FAULTY if faulty else CpState.ACTIVE
    for cp_id in cp_ids:
        outputs.wait_state(cp_id, state)
