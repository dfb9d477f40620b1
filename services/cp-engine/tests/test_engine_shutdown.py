"""Stopping the engine (SIGTERM, `docker compose stop`): a supply in progress ends
with a report the central bills, what was sent is flushed, and the process exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cp_engine import charging
from cp_engine.charging import Engine, Phase
from cp_engine.runtime import STOP_FLUSH_SECONDS, EngineRuntime
from evcharging import messages as m
from evcharging.topics import SUPPLY_ENDED, TELEMETRY, Topic
from tests.support.engine import SETTINGS
from tests.support.processes import stop_when_ready

PRICE = Decimal("0.350")
MINUTE = Decimal(1) / Decimal(60)
ENGINE_DIR = Path(__file__).resolve().parents[1]


def ready() -> Engine:
    return charging.assign_identity(Engine(), "CP001").engine


def authorised() -> Engine:
    start = m.StartSupply(cp_id="CP001", session_id="s1", driver_id="DRV001", price_per_kwh=PRICE)
    return charging.on_command(ready(), start, now=0.0).engine


def supplying(ticks: int) -> tuple[Engine, list[m.Telemetry]]:
    engine = charging.plug_in(authorised(), now=1.0).engine
    sent: list[m.Telemetry] = []
    for _ in range(ticks):
        step = charging.tick(engine, Decimal("21.6"), MINUTE)
        engine = step.engine
        sent += [message for message in step.messages if isinstance(message, m.Telemetry)]
    return engine, sent


# --- the rule -----------------------------------------------------------------------


def test_stopping_while_supplying_reports_the_end_with_the_last_telemetry_figures() -> None:
    engine, telemetry = supplying(ticks=3)
    step = charging.shut_down(engine)
    (ended,) = step.messages
    assert isinstance(ended, m.SupplyEnded)
    last = telemetry[-1]
    assert ended.reason is m.EndReason.DISCONNECTED
    assert (ended.session_id, ended.kwh, ended.eur) == ("s1", last.kwh, last.eur)
    assert ended.seq == last.seq + 1  # after every telemetry of the session
    assert step.engine.session is None
    assert "stopping" in step.note


def test_stopping_an_authorised_supply_not_plugged_in_closes_it_at_zero() -> None:
    (ended,) = charging.shut_down(authorised()).messages
    assert isinstance(ended, m.SupplyEnded)
    assert ended.reason is m.EndReason.DISCONNECTED
    assert (ended.kwh, ended.eur, ended.seq) == (Decimal(0), Decimal(0), 0)


@pytest.mark.parametrize("engine", [Engine(), ready()], ids=["no id yet", "ready"])
def test_stopping_with_no_supply_sends_nothing(engine: Engine) -> None:
    step = charging.shut_down(engine)
    assert (step.engine, step.messages, step.refused) == (engine, [], False)


def test_stopping_a_cp_the_operator_stopped_keeps_it_stopped() -> None:
    engine = charging.on_command(ready(), m.StopCp(cp_id="CP001"), now=0.0).engine
    assert charging.shut_down(engine).engine.phase is Phase.STOPPED


# --- the runtime ----------------------------------------------------------------------


class Producer:
    """Records what the engine sends and how long it is willing to wait for Kafka."""

    def __init__(self, unacknowledged: int = 0) -> None:
        self.sent: list[tuple[str, m.Message]] = []
        self.flushes: list[float] = []
        self.unacknowledged = unacknowledged

    def send(self, topic: Topic, message: m.Message) -> None:
        self.sent.append((topic.name, message))

    def flush(self, timeout: float = 10.0) -> int:
        self.flushes.append(timeout)
        return self.unacknowledged


def test_closing_the_runtime_sends_the_end_then_flushes_within_the_bound() -> None:
    producer = Producer()
    runtime = EngineRuntime(SETTINGS, producer, follow_commands=False)  # type: ignore[arg-type]
    runtime.engine, telemetry = supplying(ticks=2)
    runtime.close()
    assert [(topic, type(message)) for topic, message in producer.sent] == [
        (SUPPLY_ENDED.name, m.SupplyEnded)
    ]
    ended = producer.sent[0][1]
    assert isinstance(ended, m.SupplyEnded)
    assert ended.kwh == telemetry[-1].kwh
    assert producer.flushes == [STOP_FLUSH_SECONDS]
    assert STOP_FLUSH_SECONDS <= 2
    assert TELEMETRY.name not in {topic for topic, _ in producer.sent}


def test_closing_with_kafka_away_gives_up_after_the_bound_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = Producer(unacknowledged=1)
    runtime = EngineRuntime(SETTINGS, producer, follow_commands=False)  # type: ignore[arg-type]
    runtime.engine, _ = supplying(ticks=1)
    runtime.close()
    assert "1 messages not delivered at shutdown" in caplog.text


# --- the process ----------------------------------------------------------------------


def test_sigterm_stops_the_engine_process_with_status_0(tmp_path: Path) -> None:
    """As `docker compose stop` does; Kafka is unreachable here, which must not hold the stop."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ENGINE_DIR),
        "ENGINE_CONTROL_SOCKET": str(tmp_path / "engine.sock"),
        "HEALTH_FILE": str(tmp_path / "alive"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cp_engine", "127.0.0.1:9", "0"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped = stop_when_ready(process, (tmp_path / "engine.sock").exists, "the engine")  # its loop runs
    stderr = stopped.stderr
    assert stopped.took < 3
    assert stopped.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "cp-engine stopped" in stderr
