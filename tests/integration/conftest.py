"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
