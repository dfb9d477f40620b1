"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.central_auth import CpEvents, TestRun
from tests.support.scripted_central import ScriptedCentral
from tests.support.stack import Infra


@pytest.fixture
def central(infra: Infra) -> Iterator[ScriptedCentral]:
    """A scripted central answering requests for the CPs a test plans."""
    scripted = ScriptedCentral(infra.kafka_bootstrap).start()
    try:
        yield scripted
    finally:
        scripted.stop()


@pytest.fixture
def run(infra: Infra) -> Iterator[TestRun]:
    """This test's CP ids, apart from every other test's; its CPs are deleted afterwards."""
    test_run = TestRun()
    yield test_run
    test_run.forget_cps(infra)


@pytest.fixture
def events(infra: Infra) -> Iterator[CpEvents]:
    """What central-auth publishes about CPs, from the start of the test."""
    reader = CpEvents(infra)
    yield reader
    reader.close()
