"""Fixtures of the end-to-end tests (the `stack` itself is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.e2e import Stack
from tests.support.stack import make


@pytest.fixture(scope="module")
def cp_id(stack: Stack) -> str:
    """The one CP of a stack scaled to a single engine and monitor, once it is activado."""
    scaled = make("scale", "CP=1")
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    (only,) = stack.wait_engine_ids(1)
    stack.wait_states({only: "activado"})
    return only
