"""The in-process measure of central-stream's hot path applies every report it times."""

from __future__ import annotations

import asyncio

from bench.hot_path import measure


def test_every_report_is_applied_and_the_records_reach_the_changelog() -> None:
    per_report, writes = asyncio.run(measure(300, None))
    assert per_report > 0
    assert writes >= 3, "the connection, the authorisation and the telemetry's record at persist()"
