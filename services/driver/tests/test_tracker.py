"""The charge tracker: which messages belong to a request, in which order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from driver.tracker import Change, ChargeTracker, Phase
from evcharging.messages import (
    DenialReason,
    EndReason,
    SupplyAuthorised,
    SupplyDenied,
    SupplyInterrupted,
    SupplyUpdate,
    Ticket,
    utc_now,
)

PRICE = Decimal("0.350")


def tracker() -> ChargeTracker:
    return ChargeTracker(request_id="r1", cp_id="CP001", driver_id="DRV001")


def authorised(driver: str = "DRV001", request: str = "r1") -> SupplyAuthorised:
    return SupplyAuthorised(
        request_id=request, session_id="s1", cp_id="CP001", driver_id=driver, price_per_kwh=PRICE
    )


def update(seq: int, kwh: str, driver: str = "DRV001", session: str = "s1") -> SupplyUpdate:
    return SupplyUpdate(
        session_id=session,
        cp_id="CP001",
        driver_id=driver,
        seq=seq,
        kw=Decimal(7),
        kwh=Decimal(kwh),
        eur=Decimal(1),
    )


def ticket(ticket_id: str = "s1", driver: str = "DRV001") -> Ticket:
    now = utc_now()
    return Ticket(
        ticket_id=ticket_id,
        cp_id="CP001",
        driver_id=driver,
        started_at=now - timedelta(minutes=1),
        ended_at=now,
        kwh=Decimal(1),
        price_per_kwh=PRICE,
        total_eur=Decimal("0.35"),
        ended_by=EndReason.UNPLUGGED,
    )


def test_a_supply_from_authorisation_to_ticket() -> None:
    t = tracker()
    assert t.feed(authorised()) is Change.AUTHORISED
    assert t.phase is Phase.AUTHORISED
    assert t.price_per_kwh == PRICE
    assert t.feed(update(0, "0.1")) is Change.UPDATE
    assert t.phase.value == "supplying"
    assert t.feed(update(1, "0.2")) is Change.UPDATE
    assert t.kwh == Decimal("0.2")
    assert t.feed(ticket()) is Change.TICKET
    assert t.done


def test_other_drivers_and_other_requests_are_ignored() -> None:
    t = tracker()
    assert t.feed(authorised(driver="DRV002")) is None
    assert t.feed(authorised(request="r2")) is None
    assert t.feed(authorised()) is Change.AUTHORISED
    assert t.feed(update(0, "9", driver="DRV002")) is None
    assert t.feed(update(0, "9", session="s2")) is None
    assert t.feed(ticket(driver="DRV002")) is None
    assert t.feed(ticket("s0")) is None, "a ticket of another session"
    assert t.kwh == 0


def test_old_and_repeated_telemetry_is_ignored() -> None:
    t = tracker()
    t.feed(authorised())
    t.feed(update(3, "0.3"))
    assert t.feed(update(3, "0.3")) is None
    assert t.feed(update(2, "0.2")) is None
    assert t.kwh == Decimal("0.3")


def test_a_second_answer_changes_nothing() -> None:
    t = tracker()
    t.feed(authorised())
    denied = SupplyDenied(request_id="r1", cp_id="CP001", driver_id="DRV001", reason=DenialReason.CP_BUSY)
    assert t.feed(denied) is None
    assert t.phase is Phase.AUTHORISED


def test_a_denial_ends_the_request() -> None:
    t = tracker()
    denied = SupplyDenied(request_id="r1", cp_id="CP001", driver_id="DRV001", reason=DenialReason.CP_FAULTY)
    assert t.feed(denied) is Change.DENIED
    assert t.done
    assert t.denial is DenialReason.CP_FAULTY


def test_an_interruption_then_the_ticket() -> None:
    t = tracker()
    t.feed(authorised())
    t.feed(update(0, "0.1"))
    cut = SupplyInterrupted(
        session_id="s1", cp_id="CP001", driver_id="DRV001", reason=EndReason.OPERATOR_STOP
    )
    assert t.feed(cut) is Change.INTERRUPTED
    assert t.interruption is EndReason.OPERATOR_STOP
    assert t.feed(update(1, "0.2")) is None, "no telemetry after the cut"
    assert not t.done
    assert t.feed(ticket()) is Change.TICKET
    assert t.feed(ticket()) is None, "a redelivered ticket is shown once"
