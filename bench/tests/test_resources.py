import pytest

from bench.resources import cpu_percent, memory_mib, summarise


def test_docker_cpu_figure_is_read_as_percent_of_one_core() -> None:
    assert cpu_percent("153.27%") == pytest.approx(153.27)
    assert cpu_percent("0.00%") == 0.0


@pytest.mark.parametrize(
    ("figure", "mib"),
    [("512MiB / 23.4GiB", 512.0), ("1.5GiB / 23.4GiB", 1536.0), ("2048KiB / 1GiB", 2.0), ("0B / 0B", 0.0)],
)
def test_docker_memory_figure_is_the_used_part_in_mib(figure: str, mib: float) -> None:
    assert memory_mib(figure) == pytest.approx(mib)


def test_a_memory_figure_docker_never_prints_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not a docker memory figure"):
        memory_mib("lots")


def test_summary_gives_each_service_its_mean_and_peak() -> None:
    samples = [
        {"kafka": (50.0, 500.0), "central-stream": (10.0, 60.0)},
        {"kafka": (100.0, 520.0), "central-stream": (30.0, 58.0)},
    ]
    summary = summarise(samples)
    assert list(summary) == ["central-stream", "kafka"]
    assert summary["kafka"].cpu_mean_pct == pytest.approx(75.0)
    assert summary["kafka"].cpu_max_pct == pytest.approx(100.0)
    assert summary["kafka"].memory_max_mib == pytest.approx(520.0)
    assert summary["central-stream"].samples == 2
