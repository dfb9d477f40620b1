"""CPU time from cgroup counters: parsed exactly, restarts not counted negative."""

from __future__ import annotations

from bench.cputime import per_report_us, spent_us, usage_us


def test_cgroup_v2_cpu_stat_gives_usage_usec() -> None:
    assert usage_us("usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n") == 1234567


def test_cgroup_v1_cpuacct_usage_is_nanoseconds() -> None:
    assert usage_us("5000000\n") == 5000


def test_spent_adds_every_container_and_counts_a_restarted_one_from_zero() -> None:
    before = {"stream-1": 1_000, "stream-2": 5_000}
    after = {"stream-1": 1_600, "stream-2": 300, "stream-3": 50}  # 2 restarted, 3 is new
    assert spent_us(before, after) == 600 + 300 + 50


def test_per_report_is_none_without_reports() -> None:
    assert per_report_us(3_000, 10) == 300.0
    assert per_report_us(3_000, 0) is None
