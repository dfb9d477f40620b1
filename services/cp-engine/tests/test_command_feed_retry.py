"""The command feed outlives a broker that cannot say yet where to start: on a fresh
Kafka, `committed()` answers NOT_COORDINATOR for a while, and the engine must keep
trying rather than lose its commands for good."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException

from cp_engine import runtime as runtime_module
from cp_engine.runtime import EngineRuntime
from tests.support.engine import SETTINGS


class Feed:
    def __init__(self, *_args: object) -> None:
        pass


def test_the_feed_is_opened_again_until_kafka_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    def flaky(*args: object) -> Feed:
        attempts.append(1)
        if len(attempts) < 3:
            raise KafkaException(KafkaError(KafkaError.NOT_COORDINATOR))
        return Feed(*args)

    monkeypatch.setattr(runtime_module, "CommandFeed", flaky)
    monkeypatch.setattr(threading.Event, "wait", lambda _self, _timeout=None: False)  # no real pauses
    engine = EngineRuntime(SETTINGS, object(), follow_commands=False)  # type: ignore[arg-type]
    assert isinstance(engine._open_feed("CP001", threading.Event()), Feed)
    assert len(attempts) == 3


def test_a_stop_ends_the_retries() -> None:
    engine = EngineRuntime(SETTINGS, object(), follow_commands=False)  # type: ignore[arg-type]
    stop = threading.Event()
    stop.set()
    assert engine._open_feed("CP001", stop) is None
