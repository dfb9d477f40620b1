"""Fixtures for the integration and end-to-end tests."""

from __future__ import annotations

import pytest

from tests.support.stack import APP_SERVICES, Infra, compose, infra_addresses


@pytest.fixture(scope="session")
def infra() -> Infra:
    """The real Kafka (with the contract's topics) and MariaDB of the compose stack.

    Starts them if they are not running and leaves them running. The stack's own
    application services are stopped, so that only the processes a test starts
    consume the topics it produces.
    """
    compose("stop", *APP_SERVICES, check=False)
    result = compose("up", "-d", "--wait", "--wait-timeout", "300", "kafka", "mariadb", check=False)
    assert result.returncode == 0, f"could not start Kafka and MariaDB:\n{result.stderr}"
    setup = compose("run", "--rm", "--no-deps", "kafka-setup", check=False)
    assert setup.returncode == 0, f"could not create the topics:\n{setup.stderr}"
    return infra_addresses()
