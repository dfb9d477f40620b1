"""Fixtures for the integration and end-to-end tests.

Every compose command of a test run goes to a project of its own (`evcharging-test`,
its own volumes, network, host ports and secrets: tests/support/stack.py), so the
tests never touch the user's `evcharging` stack and can run while it is up. The test
stack is removed at the end of the run (EVCHARGING_KEEP_TEST_STACK=1 keeps it).

The end-to-end stack is started once with `make up`, as users do, from empty
volumes — so the central's first run does not replay the integration tests'
traffic, and the database holds the seed data only. Supplies in automatic mode
last AUTO_DURATION seconds; the tests shorten it so a file of requests finishes
in minutes. The variable stays set for every compose command of the session, so
later commands do not recreate the containers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition

from evcharging import topics
from tests.support.e2e import Stack
from tests.support.stack import Infra, compose, infra_addresses, make, test_stack_environment
from tests.support.waiting import wait_until


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(test_stack_environment())


def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("EVCHARGING_KEEP_TEST_STACK") != "1":
        compose("--profile", "tools", "down", "--volumes", "--remove-orphans", check=False, timeout=300)


@pytest.fixture(scope="session")
def infra() -> Infra:
    """The real Kafka (with the contract's topics) and MariaDB of the compose stack.

    Starts them from empty volumes — the database with the seed data only and the
    secrets of this checkout's .env — and leaves them running. The stack's own
    application services stay down, so that only the processes a test starts
    consume the topics it produces.
    """
    reset = compose("down", "--volumes", "--remove-orphans", check=False)
    assert reset.returncode == 0, f"could not reset the stack:\n{reset.stderr}"
    result = compose("up", "-d", "--wait", "--wait-timeout", "300", "kafka", "mariadb", check=False)
    assert result.returncode == 0, f"could not start Kafka and MariaDB:\n{result.stderr}"
    setup = compose("run", "--rm", "--no-deps", "kafka-setup", check=False)
    assert setup.returncode == 0, f"could not create the topics:\n{setup.stderr}"
    addresses = infra_addresses()
    wait_until(lambda: every_partition_answers(addresses.kafka_bootstrap), 90,
               "every partition of the contract's topics to answer")  # fmt: skip
    return addresses


def every_partition_answers(bootstrap: str) -> bool:
    """Fresh topics answer 'not leader' for a while after the broker starts, even once
    the metadata names a leader: ask each partition for its offsets, as tests will."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-readiness"})
    try:
        for topic in topics.ALL:
            for partition in range(topic.partitions):
                consumer.get_watermark_offsets(TopicPartition(topic.name, partition), timeout=5)
    finally:
        consumer.close()
    return True


E2E_ENVIRONMENT = {"CP_AUTO_DURATION": "6"}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    saved = {name: os.environ.get(name) for name in E2E_ENVIRONMENT}
    os.environ.update(E2E_ENVIRONMENT)
    compose("down", "--volumes", "--remove-orphans", timeout=300)
    up = make("up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield Stack()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
