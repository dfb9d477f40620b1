"""The driver's positional forms: the seed's `<driver_id> <kafka_broker> [file]` and the
order documented before it, `<kafka_broker> <driver_id> [file]`; the broker is the one
that holds ':' (driver.cli)."""

from __future__ import annotations

import pytest

from driver import cli
from driver.cli import driver_and_broker, translate_legacy

RUN = ["--broker", "kafka:9092", "--driver", "DRV001", "run", "f.txt"]
PROMPT = ["--broker", "kafka:9092", "--driver", "DRV001", "interactive"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["DRV001", "kafka:9092", "f.txt"], RUN),
        (["DRV001", "kafka:9092"], PROMPT),
        (["kafka:9092", "DRV001", "f.txt"], RUN),
        (["kafka:9092", "DRV001"], PROMPT),
    ],
)
def test_either_order_names_the_same_driver_and_broker(argv: list[str], expected: list[str]) -> None:
    assert translate_legacy(argv) == expected


def test_a_list_of_brokers_is_a_broker() -> None:
    assert driver_and_broker("DRV001", "a:9092,b:9092") == ("DRV001", "a:9092,b:9092")
    assert driver_and_broker("a:9092,b:9092", "DRV001") == ("DRV001", "a:9092,b:9092")


@pytest.mark.parametrize(("first", "second"), [("localhost", "DRV001"), ("a:9092", "b:9092")])
def test_when_the_broker_cannot_be_told_apart_it_says_how_to_write_it(first: str, second: str) -> None:
    with pytest.raises(ValueError, match="the broker as HOST:PORT"):
        driver_and_broker(first, second)


def test_the_command_exits_2_with_that_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["localhost", "DRV001"])
    assert exit_info.value.code == 2
    assert "cannot tell the Kafka broker from the driver id in 'localhost DRV001'" in capsys.readouterr().err
