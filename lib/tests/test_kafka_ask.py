"""`ask`: a question to a cluster with a dead broker is asked again until its partitions
have moved; any other error, or a question that never gets an answer, fails as before."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

from evcharging.kafka import ask


def failing(code: int, times: int) -> tuple[list[float], Callable[[float], str]]:
    asked: list[float] = []

    def question(timeout: float) -> str:
        assert 0 < timeout <= 2.0, "one try waits at most ATTEMPT_SECONDS"
        asked.append(time.monotonic())
        if len(asked) <= times:
            raise KafkaException(KafkaError(code))
        return "answer"

    return asked, question


def test_a_dead_brokers_name_that_no_longer_resolves_is_asked_again() -> None:
    asked, question = failing(KafkaError._RESOLVE, times=2)
    assert ask(question, timeout=5) == "answer"
    assert len(asked) == 3


def test_a_leader_that_moved_is_asked_again() -> None:
    asked, question = failing(KafkaError.NOT_LEADER_FOR_PARTITION, times=1)
    assert ask(question, timeout=5) == "answer"
    assert len(asked) == 2


def test_an_error_that_does_not_pass_is_raised_at_once() -> None:
    asked, question = failing(KafkaError.TOPIC_AUTHORIZATION_FAILED, times=5)
    with pytest.raises(KafkaException) as raised:
        ask(question, timeout=5)
    assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert len(asked) == 1


def test_it_gives_up_with_the_last_error_when_the_time_is_up() -> None:
    asked, question = failing(KafkaError._TRANSPORT, times=1000)
    started = time.monotonic()
    with pytest.raises(KafkaException) as raised:
        ask(question, timeout=0.5)
    assert raised.value.args[0].code() == KafkaError._TRANSPORT
    assert 0.5 <= time.monotonic() - started < 2.0
    assert len(asked) > 2


class Client:
    """Counts how often the client was told to read the cluster's metadata again."""

    def __init__(self) -> None:
        self.looked = 0

    def list_topics(self, timeout: float) -> None:
        self.looked += 1


def test_the_client_reads_where_the_partitions_are_now_before_each_new_try() -> None:
    client = Client()
    _asked, question = failing(KafkaError._RESOLVE, times=2)
    assert ask(question, timeout=5, client=client) == "answer"  # type: ignore[arg-type]
    assert client.looked == 2


def test_a_broker_handle_dropped_with_its_node_is_asked_again() -> None:
    asked, question = failing(KafkaError._DESTROY_BROKER, times=1)
    assert ask(question, timeout=5) == "answer"
    assert len(asked) == 2
