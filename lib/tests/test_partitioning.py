"""Our murmur2 matches Kafka's Java client (vectors from Kafka's own UtilsTest)."""

from __future__ import annotations

import pytest

from evcharging.partitioning import murmur2, partition_for


@pytest.mark.parametrize(
    ("text", "java_signed_hash"),
    [
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_matches_the_java_client(text: str, java_signed_hash: int) -> None:
    assert murmur2(text.encode()) == java_signed_hash & 0xFFFFFFFF


def test_partition_is_stable_and_in_range() -> None:
    partitions = {partition_for(f"CP{n:03d}", 6) for n in range(100)}
    assert partitions == set(range(6))
    assert partition_for("CP001", 6) == partition_for(b"CP001", 6)
