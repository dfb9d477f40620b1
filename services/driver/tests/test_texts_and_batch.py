"""Messages for people, and request files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from driver import cli, texts
from driver.batch import BatchFileError, parse_batch
from driver.cli import translate_legacy
from evcharging import health
from evcharging.messages import CpState, DenialReason, EndReason


@pytest.mark.parametrize("reason", list(DenialReason))
def test_every_denial_reason_has_its_own_sentence_naming_the_cp(reason: DenialReason) -> None:
    text = texts.denial(reason, "CP007", "DRV009")
    assert ("CP007" in text) or ("DRV009" in text)
    assert text.endswith(".")
    others = {texts.denial(r, "CP007", "DRV009") for r in DenialReason if r is not reason}
    assert text not in others


def test_every_end_reason_and_state_reads_as_words() -> None:
    assert all(texts.ending(reason) for reason in EndReason)
    assert texts.state_label(CpState.STOPPED) == "out of order"
    assert {texts.state_label(state) for state in CpState} >= {
        "available",
        "supplying",
        "faulty",
        "disconnected",
    }


def test_figures_are_printed_with_units() -> None:
    assert texts.euros(Decimal("3.5")) == "3.50 €"
    assert texts.kwh(Decimal("1.23456")) == "1.235 kWh"
    assert texts.kw(None) == "–"
    assert texts.duration(3723) == "1:02:03"
    assert texts.duration(65) == "01:05"


def test_a_request_file_skips_blank_lines_and_comments() -> None:
    lines = parse_batch("# trip to Elche\nCP001\n\n  CP003  # the fast one\nCP001\n")
    assert [(line.number, line.cp_id) for line in lines] == [(2, "CP001"), (4, "CP003"), (5, "CP001")]


def test_a_bad_line_is_named() -> None:
    with pytest.raises(BatchFileError, match="line 2"):
        parse_batch("CP001\nCP 002\n")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["kafka:9092", "DRV001"], ["--broker", "kafka:9092", "--driver", "DRV001", "interactive"]),
        (["kafka:9092", "DRV001", "f.txt"], ["--broker", "kafka:9092", "--driver", "DRV001", "run", "f.txt"]),
        (["charge", "CP001"], ["charge", "CP001"]),
        (["--json", "list"], ["--json", "list"]),
        (["list"], ["list"]),
    ],
)
def test_the_seed_form_still_works(argv: list[str], expected: list[str]) -> None:
    assert translate_legacy(argv) == expected


def test_a_refused_sign_in_is_said_instead_of_an_unreachable_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem_file = tmp_path / "problem"
    monkeypatch.setattr(health, "PROBLEM_PATH", problem_file)
    assert cli.sign_in_problem() is None
    assert texts.kafka_unreachable("central:9095", None).startswith(
        "Cannot reach the network's message broker"
    )

    refused = "Kafka at central:9095 refuses user 'driver' (wrong password or unknown user): fix it"
    health.report_problem(refused)
    assert cli.sign_in_problem() == refused
    assert texts.kafka_unreachable("central:9095", cli.sign_in_problem()) == (
        f"Cannot use the network's message broker at central:9095: {refused}."
    )
    health.report_problem("the database refuses user 'evcharging'")  # not the broker's
    assert cli.sign_in_problem() is None
