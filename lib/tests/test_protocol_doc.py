"""docs/protocol.md is generated from the contract and must be kept current."""

from __future__ import annotations

from pathlib import Path

from evcharging import topics
from evcharging.protocol_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_protocol_doc_is_current() -> None:
    assert DOC.read_text() == render(), "run: python -m evcharging.protocol_doc > docs/protocol.md"


def test_every_topic_is_documented() -> None:
    text = render()
    assert all(f"`{topic.name}`" in text for topic in topics.ALL)
