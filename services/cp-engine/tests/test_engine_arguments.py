"""The engine's two command-line forms: the seed's `<cp_id> <kafka_broker>` and this
project's `[KAFKA_BOOTSTRAP [HEALTH_PORT]]`, told apart by one rule (cp_engine.settings)."""

from __future__ import annotations

import pytest

from cp_engine.settings import Arguments, parse, read_arguments


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], Arguments()),
        (["kafka:9092"], Arguments(kafka_bootstrap="kafka:9092")),
        (["kafka:9092", "7100"], Arguments(kafka_bootstrap="kafka:9092", health_port=7100)),
        (["kafka", "7101"], Arguments(kafka_bootstrap="kafka", health_port=7101)),
        (["CP001", "192.168.1.10:9095"], Arguments(cp_id="CP001", kafka_bootstrap="192.168.1.10:9095")),
        (["CP-A001", "a:9092,b:9092"], Arguments(cp_id="CP-A001", kafka_bootstrap="a:9092,b:9092")),
        (["CP001", "kafka"], Arguments(cp_id="CP001", kafka_bootstrap="kafka")),
    ],
)
def test_a_whole_number_second_is_a_health_port_anything_else_is_the_seeds_form(
    values: list[str], expected: Arguments
) -> None:
    assert read_arguments(values) == expected


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (["kafka:9092", "fast"], "HEALTH_PORT 'fast'"),
        (["CP 1", "kafka:9092"], "<cp_id> 'CP 1'"),
        (["", "kafka:9092"], "empty"),
        (["CP001", "kafka:9092", "7100"], "at most two arguments"),
    ],
)
def test_what_fits_neither_form_is_refused_naming_the_argument(values: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        read_arguments(values)


def test_the_seeds_form_takes_the_health_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HEALTH_PORT", "7123")
    settings = parse(["CP001", "localhost:9094"])
    assert (settings.cp_id, settings.kafka_bootstrap, settings.health_port) == (
        "CP001",
        "localhost:9094",
        7123,
    )


def test_the_projects_form_expects_no_cp_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "from-env:9092")
    monkeypatch.delenv("ENGINE_HEALTH_PORT", raising=False)
    assert (parse([]).kafka_bootstrap, parse([]).health_port, parse([]).cp_id) == (
        "from-env:9092",
        7100,
        None,
    )
    settings = parse(["localhost:9094", "7200"])
    assert (settings.cp_id, settings.kafka_bootstrap, settings.health_port) == (None, "localhost:9094", 7200)


def test_a_bad_command_line_exits_2_with_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["CP:1", "kafka:9092"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("cp_engine: error: <cp_id> 'CP:1' is not a CP id")
