"""The stack for the end-to-end tests: started once with `make up`, as users do,
from empty volumes — so the central's first run does not replay the integration
tests' traffic, and the database holds the seed data only.

Supplies in automatic mode last AUTO_DURATION seconds; the tests shorten it so a
file of requests finishes in minutes. The variable stays set for every compose
command of the session, so later commands do not recreate the containers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.e2e import Stack
from tests.support.stack import compose, make

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
