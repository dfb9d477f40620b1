"""The contract rejects malformed messages with an error that names the problem,
and every record survives a round trip through the one JSON encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evcharging import messages as m
from evcharging import topics
from evcharging.codec import ContractError, decode, encode, key_of

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def telemetry(**changes: object) -> dict[str, object]:
    record = m.Telemetry(
        cp_id="CP001", session_id="s1", seq=3, kw=Decimal("22.1"), kwh=Decimal("1.234"), eur=Decimal("0.43")
    )
    return {**json.loads(encode(record)), **changes}


def test_telemetry_round_trip_keeps_decimals_exact() -> None:
    record = m.Telemetry(
        cp_id="CP001", session_id="s1", seq=7, kw=Decimal("7.400"), kwh=Decimal("12.345"), eur=Decimal("4.32")
    )
    raw = encode(record)
    assert b'"kwh":"12.345"' in raw
    assert decode(topics.TELEMETRY, raw) == record


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "telemetria_cp: not JSON"),
        (b"[1, 2]", "telemetria_cp: not a JSON object"),
        (b"", "telemetria_cp: empty message"),
    ],
)
def test_undecodable_bytes_are_rejected(raw: bytes, expected: str) -> None:
    with pytest.raises(ContractError, match=expected):
        decode(topics.TELEMETRY, raw)


def test_wrong_version_names_the_version_field() -> None:
    with pytest.raises(ContractError) as error:
        decode(topics.TELEMETRY, json.dumps(telemetry(version=2)))
    assert error.value.field == "version"
    assert "field 'version'" in str(error.value)


def test_missing_field_is_named() -> None:
    document = telemetry()
    del document["kwh"]
    with pytest.raises(ContractError) as error:
        decode(topics.TELEMETRY, json.dumps(document))
    assert error.value.field == "kwh"
    assert "Field required" in str(error.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("kwh", "-1"), ("seq", -1), ("cp_id", "CP 1; DROP TABLE"), ("cp_id", ""), ("kw", "abc")],
)
def test_invalid_values_are_named(field: str, value: object) -> None:
    with pytest.raises(ContractError) as error:
        decode(topics.TELEMETRY, json.dumps(telemetry(**{field: value})))
    assert error.value.field == field


def test_unknown_fields_are_refused_rather_than_ignored() -> None:
    with pytest.raises(ContractError) as error:
        decode(topics.TELEMETRY, json.dumps(telemetry(surprise=1)))
    assert error.value.field == "surprise"


def test_a_topic_with_several_records_names_the_field_inside_the_record() -> None:
    denial = {
        "type": "supply_denied",
        "request_id": "r1",
        "cp_id": "CP001",
        "driver_id": "DRV001",
        "reason": "because",
    }
    with pytest.raises(ContractError) as error:
        decode(topics.DRIVER_RESPONSES, json.dumps(denial))
    assert error.value.field == "reason"


def test_an_unknown_record_type_is_named() -> None:
    with pytest.raises(ContractError) as error:
        decode(topics.CP_COMMANDS, json.dumps({"type": "self_destruct", "cp_id": "CP001"}))
    assert error.value.field == "type"


def test_a_record_on_the_wrong_topic_is_refused() -> None:
    request = m.SupplyRequest(cp_id="CP001", driver_id="DRV001", expires_at=NOW + timedelta(seconds=5))
    with pytest.raises(ContractError):
        decode(topics.TELEMETRY, encode(request))


def test_records_are_keyed_as_their_topic_says() -> None:
    request = m.SupplyRequest(cp_id="CP002", driver_id="DRV007", expires_at=NOW)
    ticket = m.Ticket(
        ticket_id="s1",
        cp_id="CP002",
        driver_id="DRV007",
        started_at=NOW,
        ended_at=NOW,
        kwh=Decimal("1.000"),
        price_per_kwh=Decimal("0.350"),
        total_eur=Decimal("0.35"),
        ended_by=m.EndReason.UNPLUGGED,
    )
    assert key_of(topics.SUPPLY_REQUESTS, request) == b"CP002"
    assert key_of(topics.TICKETS, ticket) == b"DRV007"


def test_every_record_gets_its_own_message_id() -> None:
    first, second = (m.Recovery(cp_id="CP001") for _ in range(2))
    assert first.message_id != second.message_id


def test_cp_keyed_topics_share_one_partition_count() -> None:
    counts = {topic.partitions for topic in topics.ALL if topic.key == "cp_id"}
    assert counts == {topics.PARTITIONS}


def test_money_keeps_cents_only() -> None:
    with pytest.raises(ContractError) as error:
        decode(topics.TELEMETRY, json.dumps(telemetry(eur="0.001")))
    assert error.value.field == "eur"
