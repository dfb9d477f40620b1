"""The central-auth records on the wire: one definition, strict validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evcharging.framing import Frame, FrameDecoder
from evcharging.messages import EngineHealth
from evcharging.wire import (
    RECORDS,
    TRANSIENT,
    Authenticate,
    Error,
    FrameType,
    Heartbeat,
    Reason,
    Register,
    WireError,
    from_frame,
    to_frame,
)

KEY = "k" * 32


def _round_trip(record: object) -> object:
    (frame,) = FrameDecoder().feed(to_frame(record))  # type: ignore[arg-type]
    return from_frame(frame)


def test_every_frame_type_has_exactly_one_record() -> None:
    assert set(RECORDS) == set(FrameType)
    assert all(record.frame_type == code for code, record in RECORDS.items())


def test_records_round_trip_with_decimal_prices() -> None:
    register = Register(enrolment_key=KEY, cp_id="CP001", location="Alicante", price_per_kwh=Decimal("0.350"))
    assert _round_trip(register) == register
    assert _round_trip(Heartbeat(engine_health=EngineHealth.KO)) == Heartbeat(engine_health=EngineHealth.KO)


def test_an_unknown_frame_type_is_a_wire_error_not_a_crash() -> None:
    with pytest.raises(WireError) as raised:
        from_frame(Frame(0x55, b"{}"))
    assert raised.value.reason is Reason.UNKNOWN_TYPE


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"engine_health": "MAYBE"}',
        b'{"engine_health": "OK", "extra": 1}',
        b'{"engine_health": "OK"',
    ],
)
def test_invalid_payloads_are_bad_payload(payload: bytes) -> None:
    with pytest.raises(WireError) as raised:
        from_frame(Frame(FrameType.HEARTBEAT, payload))
    assert raised.value.reason is Reason.BAD_PAYLOAD


@pytest.mark.parametrize(
    "cp_id", ["CP1'; DROP TABLE charging_points; --", "' OR '1'='1", "a" * 33, "", "CP 1"]
)
def test_sql_looking_and_malformed_ids_never_make_a_record(cp_id: str) -> None:
    payload = Authenticate.model_construct(cp_id=cp_id, credential="c" * 43, engine_health=EngineHealth.OK)
    with pytest.raises(WireError) as raised:
        from_frame(Frame(FrameType.AUTHENTICATE, payload.model_dump_json().encode()))
    assert raised.value.reason is Reason.BAD_PAYLOAD
    assert "cp_id" in raised.value.detail


def test_a_refusal_never_echoes_the_secret_it_refused() -> None:
    payload = b'{"enrolment_key": "short-secret", "cp_id": "CP1", "location": "x", "price_per_kwh": "1"}'
    with pytest.raises(WireError) as raised:
        from_frame(Frame(FrameType.REGISTER, payload))
    assert "short-secret" not in str(raised.value)


def test_secrets_are_hidden_from_repr() -> None:
    assert "s3cr3t" not in repr(
        Register(enrolment_key="s3cr3t" * 4, cp_id="CP1", location="x", price_per_kwh=1)
    )


def test_only_refusals_that_may_pass_later_are_transient() -> None:
    assert Reason.ALREADY_CONNECTED in TRANSIENT
    assert Reason.BAD_CREDENTIAL not in TRANSIENT
    assert Reason.BAD_ENROLMENT_KEY not in TRANSIENT


def test_error_details_are_bounded() -> None:
    with pytest.raises(ValueError, match="200"):
        Error(reason=Reason.TIMEOUT, detail="x" * 201)
