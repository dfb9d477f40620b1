"""Fixtures for the integration and end-to-end tests."""

from __future__ import annotations

import pytest

from tests.support.stack import Infra, compose, infra_addresses


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
    return infra_addresses()
