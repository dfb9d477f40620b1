"""The charging session's rules, without Kafka or a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from central_stream import rules
from central_stream.rules import CpInfo, CpRecord, Outcome, SaveCpState, SaveSupply
from evcharging import topics as t
from evcharging.messages import (
    CpConnected,
    CpDisconnected,
    CpState,
    CpStatus,
    DenialReason,
    EndReason,
    EndSupply,
    EngineHealth,
    EngineStarted,
    Fault,
    Message,
    OperatorAction,
    OperatorCommand,
    Recovery,
    RequestOrigin,
    ResumeCp,
    StartSupply,
    StopCp,
    SupplyAuthorised,
    SupplyDenied,
    SupplyEnded,
    SupplyInterrupted,
    SupplyRequest,
    SupplyUpdate,
    Telemetry,
    Ticket,
)
from tests.support.registry import StaticRegistry

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CP = "CP1"
PRICE = Decimal("0.350")
REGISTRY = StaticRegistry.of([CpInfo(CP, "Alicante", PRICE)], ["D1", "D2"])


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(record: CpRecord, *events: rules.Inbound, now: datetime = T0) -> tuple[CpRecord, list[Outcome]]:
    """Apply events in order, as the agent does; returns the last record and every outcome."""
    outcomes = []
    for event in events:
        outcome = rules.apply(record, event, REGISTRY, now)
        outcomes.append(outcome)
        record = outcome.record or record
    return record, outcomes


def sent(outcome: Outcome, kind: type[Message]) -> list[Message]:
    return [message for message in outcome.messages if isinstance(message, kind)]


def request(driver: str = "D1", request_id: str = "r1", cp: str = CP, expires: float = 30) -> SupplyRequest:
    return SupplyRequest(
        request_id=request_id, cp_id=cp, driver_id=driver, sent_at=T0, expires_at=at(expires)
    )


def connected(seconds: float = 0, health: EngineHealth = EngineHealth.OK, conn: str = "c1") -> CpConnected:
    return CpConnected(cp_id=CP, connection_id=conn, engine_health=health, sent_at=at(seconds))


def telemetry(session: str, seq: int, kwh: str, kw: str = "7.2") -> Telemetry:
    return Telemetry(
        cp_id=CP,
        session_id=session,
        seq=seq,
        kw=Decimal(kw),
        kwh=Decimal(kwh),
        eur=Decimal(0),
        sent_at=at(seq),
    )


def active() -> CpRecord:
    record, _ = run(rules.unknown_cp(CP), connected())
    assert record.state is CpState.ACTIVE
    return record


def supplying() -> tuple[CpRecord, str]:
    record, (outcome,) = run(active(), request())
    (authorised,) = sent(outcome, SupplyAuthorised)
    assert isinstance(authorised, SupplyAuthorised)
    return record, authorised.session_id


# --- pricing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwh", "price", "eur"),
    [
        ("0", "0.350", "0.00"),
        ("1.234", "0.350", "0.43"),  # 0.4319
        ("0.100", "0.050", "0.01"),  # 0.005: half up, not to even
        ("0.300", "0.050", "0.02"),  # 0.015
        ("12.345", "0.410", "5.06"),  # 5.06145
        ("123456.789", "0.999", "123333.33"),  # 123333.332211
    ],
)
def test_price_is_kwh_times_price_rounded_half_up_to_the_cent(kwh: str, price: str, eur: str) -> None:
    assert rules.price(Decimal(kwh), Decimal(price)) == Decimal(eur)


# --- state ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        ({}, CpState.DISCONNECTED),
        ({"connected": False, "stopped": True, "engine_ok": False}, CpState.DISCONNECTED),
        ({"connected": True}, CpState.ACTIVE),
        ({"connected": True, "engine_ok": False}, CpState.FAULTY),
        ({"connected": True, "engine_ok": False, "stopped": True}, CpState.FAULTY),
        ({"connected": True, "stopped": True}, CpState.STOPPED),
    ],
)
def test_state_follows_the_spec_table(facts: dict[str, bool], state: CpState) -> None:
    assert CpRecord.model_validate({"cp_id": CP, **facts}).state is state


def test_a_cp_unheard_of_since_start_up_is_disconnected() -> None:
    assert rules.unknown_cp(CP).state is CpState.DISCONNECTED


def test_connecting_with_an_engine_ko_is_faulty_and_says_so() -> None:
    record, (outcome,) = run(rules.unknown_cp(CP), connected(health=EngineHealth.KO))
    assert record.state is CpState.FAULTY
    assert SaveCpState(CP, CpState.FAULTY, T0) in outcome.effects
    (status,) = sent(outcome, CpStatus)
    assert isinstance(status, CpStatus)
    assert (status.state, status.location, status.price_per_kwh) == (CpState.FAULTY, "Alicante", PRICE)


def test_an_older_fault_does_not_override_a_newer_connection_report() -> None:
    late_fault = Fault(cp_id=CP, sent_at=at(-1))
    record, (_, outcome) = run(rules.unknown_cp(CP), connected(0), late_fault)
    assert record.state is CpState.ACTIVE
    assert outcome.record is None


def test_the_close_of_an_older_connection_does_not_disconnect_the_new_one() -> None:
    record, _ = run(active(), CpDisconnected(cp_id=CP, connection_id="c0", sent_at=at(-1)))
    assert record.state is CpState.ACTIVE


def test_a_disconnect_of_the_current_connection_disconnects() -> None:
    record, (outcome,) = run(active(), CpDisconnected(cp_id=CP, connection_id="c1", sent_at=at(1)))
    assert record.state is CpState.DISCONNECTED
    assert SaveCpState(CP, CpState.DISCONNECTED, at(1)) in outcome.effects


def test_central_auths_restart_announcement_disconnects_whatever_connection() -> None:
    announcement = CpDisconnected(cp_id=CP, connection_id="auth-2-start", sent_at=at(5))
    record, _ = run(active(), announcement)
    assert record.state is CpState.DISCONNECTED
    record, _ = run(record, connected(6, conn="c9"))
    assert record.state is CpState.ACTIVE


def test_a_repeated_connection_report_changes_nothing() -> None:
    _, (outcome,) = run(active(), connected())
    assert outcome == Outcome(None, (), outcome.note)


# --- authorisation ----------------------------------------------------------------------


def test_a_registered_driver_at_an_active_cp_is_authorised_and_the_cp_told() -> None:
    record, (outcome,) = run(active(), request())
    session = record.session
    assert session is not None
    assert record.state is CpState.SUPPLYING
    assert session.session_id == rules.session_id_for(CP, "r1")
    authorised, start, status = outcome.messages
    assert isinstance(authorised, SupplyAuthorised)
    assert (authorised.driver_id, authorised.price_per_kwh, authorised.request_id) == ("D1", PRICE, "r1")
    assert isinstance(start, StartSupply)
    assert (start.session_id, start.driver_id) == (session.session_id, "D1")
    assert isinstance(status, CpStatus)
    assert (status.state, status.driver_id) == (CpState.SUPPLYING, "D1")
    (saved,) = [e for e in outcome.effects if isinstance(e, SaveSupply)]
    assert saved.row.status == "en_curso"
    assert saved.row.ended_at is None
    assert saved.row.kwh == 0
    assert [e.topic for e in outcome.effects if isinstance(e, rules.Send)] == [
        t.DRIVER_RESPONSES,
        t.CP_COMMANDS,
        t.CP_STATUS,
    ]


@pytest.mark.parametrize(
    ("record", "event", "reason"),
    [
        (CpRecord(cp_id=CP, connected=True), request(driver="NOBODY"), DenialReason.UNKNOWN_DRIVER),
        (CpRecord(cp_id="CPX", connected=True), request(cp="CPX"), DenialReason.UNKNOWN_CP),
        (CpRecord(cp_id=CP, connected=True, stopped=True), request(), DenialReason.CP_STOPPED),
        (CpRecord(cp_id=CP, connected=True, engine_ok=False), request(), DenialReason.CP_FAULTY),
        (CpRecord(cp_id=CP), request(), DenialReason.CP_DISCONNECTED),
        (CpRecord(cp_id=CP, connected=True), request(expires=-0.001), DenialReason.REQUEST_EXPIRED),
    ],
)
def test_every_denial_says_why(record: CpRecord, event: SupplyRequest, reason: DenialReason) -> None:
    new, (outcome,) = run(record, event)
    (denial,) = outcome.messages
    assert isinstance(denial, SupplyDenied)
    assert (denial.reason, denial.request_id, denial.driver_id) == (reason, "r1", event.driver_id)
    assert new.session is None


def test_an_expired_request_is_never_authorised_late() -> None:
    """A request made while the central was down is judged when it is processed."""
    _, (outcome,) = run(active(), request(expires=30), now=at(31))
    (denial,) = outcome.messages
    assert isinstance(denial, SupplyDenied)
    assert denial.reason is DenialReason.REQUEST_EXPIRED


def test_nothing_is_remembered_about_an_unregistered_cp() -> None:
    _, (outcome,) = run(CpRecord(cp_id="CPX", connected=True), request(cp="CPX"))
    assert outcome.record is None


def test_of_two_simultaneous_requests_exactly_one_wins() -> None:
    record, (first, second) = run(active(), request("D1", "r1"), request("D2", "r2"))
    assert isinstance(first.messages[0], SupplyAuthorised)
    (denial,) = second.messages
    assert isinstance(denial, SupplyDenied)
    assert denial.reason is DenialReason.CP_BUSY
    assert record.session is not None
    assert record.session.driver_id == "D1"


def test_a_redelivered_request_is_answered_once() -> None:
    record, (_, again) = run(active(), request(), request())
    assert again.record is None
    assert again.effects == ()
    assert record.session is not None


def test_re_processing_a_request_from_the_same_record_repeats_the_same_messages() -> None:
    """What a crash before the record was saved leads to: the same ids, so the same messages."""
    redelivered = request()
    _, (first,) = run(active(), redelivered)
    _, (second,) = run(active(), redelivered)
    assert [m.message_id for m in first.messages] == [m.message_id for m in second.messages]
    assert first.effects[0] == second.effects[0]


# --- telemetry ------------------------------------------------------------------------


def test_telemetry_updates_kwh_and_euros_and_goes_to_the_driver_only() -> None:
    record, session = supplying()
    record, (outcome,) = run(record, telemetry(session, 0, "1.234"))
    assert record.session is not None
    assert (record.session.kwh, record.session.eur, record.session.kw) == (
        Decimal("1.234"),
        Decimal("0.43"),
        Decimal("7.2"),
    )
    assert outcome.live_only
    update, status = outcome.messages
    assert isinstance(update, SupplyUpdate)
    assert (update.driver_id, update.kwh, update.eur, update.seq) == (
        "D1",
        Decimal("1.234"),
        Decimal("0.43"),
        0,
    )
    assert isinstance(status, CpStatus)
    assert (status.kwh, status.eur, status.driver_id) == (Decimal("1.234"), Decimal("0.43"), "D1")
    assert not any(isinstance(e, (SaveCpState, SaveSupply)) for e in outcome.effects)


def test_the_first_telemetry_marks_the_start_of_the_supply() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "0.002"), telemetry(session, 1, "0.004"))
    assert record.session is not None
    assert record.session.started_at == at(0)


@pytest.mark.parametrize("seq", [3, 2])
def test_repeated_or_older_telemetry_changes_nothing(seq: int) -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 2, "1.0"), telemetry(session, 3, "1.5"))
    again, (outcome,) = run(record, telemetry(session, seq, "9.9"))
    assert outcome.record is None
    assert outcome.effects == ()
    assert again.session is not None
    assert again.session.kwh == Decimal("1.5")


def test_telemetry_of_another_session_changes_nothing() -> None:
    record, _ = supplying()
    _, (outcome,) = run(record, telemetry("someone-else", 5, "3.0"))
    assert outcome.record is None


def test_a_lower_kwh_never_lowers_the_bill() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 1, "2.0"), telemetry(session, 2, "1.0"))
    assert record.session is not None
    assert record.session.kwh == Decimal("2.0")


# --- the end of a session ---------------------------------------------------------------


def test_unplugging_closes_the_session_bills_it_and_frees_the_cp() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "0.5"), telemetry(session, 1, "1.234"))
    end = SupplyEnded(
        cp_id=CP, session_id=session, seq=2, kwh=Decimal("1.234"), eur=Decimal(0), sent_at=at(2)
    )
    record, (outcome,) = run(record, end)
    assert record.state is CpState.ACTIVE
    assert record.session is None
    ticket, status = outcome.messages
    assert isinstance(ticket, Ticket)
    assert ticket.model_dump(
        include={"ticket_id", "driver_id", "kwh", "total_eur", "ended_by", "started_at"}
    ) == {
        "ticket_id": session,
        "driver_id": "D1",
        "kwh": Decimal("1.234"),
        "total_eur": Decimal("0.43"),
        "ended_by": EndReason.UNPLUGGED,
        "started_at": at(0),
    }
    assert (ticket.ended_at, ticket.price_per_kwh) == (at(2), PRICE)
    assert isinstance(status, CpStatus)
    assert (status.state, status.driver_id) == (CpState.ACTIVE, None)
    (saved,) = [e for e in outcome.effects if isinstance(e, SaveSupply)]
    assert (saved.row.status, saved.row.kwh, saved.row.eur, saved.row.ended_at) == (
        "unplugged",
        Decimal("1.234"),
        Decimal("0.43"),
        at(2),
    )
    assert SaveCpState(CP, CpState.ACTIVE, at(2)) in outcome.effects


def test_a_fast_cps_clock_and_charging_time_reach_the_driver_the_page_the_ticket_and_the_row() -> None:
    """A demo CP counts each real second as a minute: what it says about its clock goes
    everywhere a duration is shown, so kWh = kW × the charging time shown still holds."""
    record, session = supplying()
    fast = {"time_factor": Decimal(60), "duration_s": Decimal("60.000")}
    record, (outcome,) = run(record, telemetry(session, 0, "0.367").model_copy(update=fast))
    update, status = outcome.messages
    assert isinstance(update, SupplyUpdate)
    assert isinstance(status, CpStatus)
    assert (
        (update.time_factor, update.duration_s)
        == (status.time_factor, status.duration_s)
        == (Decimal(60), Decimal(60))
    )
    end = SupplyEnded(
        cp_id=CP,
        session_id=session,
        seq=1,
        kwh=Decimal("0.734"),
        eur=Decimal(0),
        time_factor=Decimal(60),
        duration_s=Decimal("120.000"),
    )
    _, (outcome,) = run(record, end)
    (ticket,) = sent(outcome, Ticket)
    assert isinstance(ticket, Ticket)
    assert (ticket.kwh, ticket.time_factor, ticket.duration_s) == (
        Decimal("0.734"),
        Decimal(60),
        Decimal(120),
    )
    (saved,) = [e for e in outcome.effects if isinstance(e, SaveSupply)]
    assert (saved.row.time_factor, saved.row.duration_s) == (Decimal(60), Decimal(120))


def test_an_older_engine_that_reports_no_clock_gives_a_real_time_ticket() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "0.5"))
    end = SupplyEnded(cp_id=CP, session_id=session, seq=1, kwh=Decimal("0.5"), eur=Decimal(0))
    _, (outcome,) = run(record, end)
    (ticket,) = sent(outcome, Ticket)
    assert isinstance(ticket, Ticket)
    assert (ticket.time_factor, ticket.duration_s) == (Decimal(1), None)


def test_the_end_report_brings_the_last_kwh_that_telemetry_had_not() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "1.0"))
    end = SupplyEnded(cp_id=CP, session_id=session, seq=1, kwh=Decimal("1.1"), eur=Decimal(0))
    _, (outcome,) = run(record, end)
    (ticket,) = sent(outcome, Ticket)
    assert isinstance(ticket, Ticket)
    assert (ticket.kwh, ticket.total_eur) == (Decimal("1.1"), Decimal("0.39"))


def test_a_repeated_end_issues_no_second_ticket() -> None:
    record, session = supplying()
    end = SupplyEnded(cp_id=CP, session_id=session, seq=1, kwh=Decimal("1.0"), eur=Decimal(0))
    _, (first, again) = run(record, end, end)
    assert len(sent(first, Ticket)) == 1
    assert again.effects == ()
    assert again.record is None


def test_the_ticket_is_the_same_message_however_often_it_is_computed() -> None:
    record, session = supplying()
    end = SupplyEnded(cp_id=CP, session_id=session, seq=1, kwh=Decimal("1.0"), eur=Decimal(0))
    _, (a,) = run(record, end)
    _, (b,) = run(record, end)
    assert sent(a, Ticket)[0].message_id == sent(b, Ticket)[0].message_id


def test_a_supply_cut_by_the_engine_itself_tells_the_driver_why() -> None:
    record, session = supplying()
    end = SupplyEnded(
        cp_id=CP, session_id=session, seq=1, kwh=Decimal("1.0"), eur=Decimal(0), reason=EndReason.FAULT
    )
    _, (outcome,) = run(record, end)
    assert [type(m) for m in outcome.messages] == [SupplyInterrupted, Ticket, CpStatus]


# --- faults ---------------------------------------------------------------------------


def test_a_fault_during_a_supply_ends_it_at_once_with_a_ticket_for_what_was_supplied() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "2.5"))
    record, (outcome,) = run(record, Fault(cp_id=CP, detail="engine KO", sent_at=at(5)))
    assert record.state is CpState.FAULTY
    assert record.session is None
    end, interrupted, ticket, status = outcome.messages
    assert isinstance(end, EndSupply)
    assert (end.session_id, end.reason) == (session, EndReason.FAULT)
    assert isinstance(interrupted, SupplyInterrupted)
    assert (interrupted.driver_id, interrupted.reason) == ("D1", EndReason.FAULT)
    assert isinstance(ticket, Ticket)
    assert (ticket.kwh, ticket.total_eur, ticket.ended_by, ticket.ended_at) == (
        Decimal("2.5"),
        Decimal("0.88"),
        EndReason.FAULT,
        at(5),
    )
    assert isinstance(status, CpStatus)
    assert status.state is CpState.FAULTY
    assert SaveCpState(CP, CpState.FAULTY, at(5)) in outcome.effects


def test_the_engines_end_report_after_a_fault_changes_nothing() -> None:
    record, session = supplying()
    record, _ = run(record, Fault(cp_id=CP, sent_at=at(5)))
    _, (outcome,) = run(
        record, SupplyEnded(cp_id=CP, session_id=session, seq=9, kwh=Decimal(1), eur=Decimal(0))
    )
    assert outcome.effects == ()


def test_a_recovery_returns_the_cp_to_active() -> None:
    record, _ = run(active(), Fault(cp_id=CP, sent_at=at(1)))
    assert record.state is CpState.FAULTY
    record, (outcome,) = run(record, Recovery(cp_id=CP, sent_at=at(2)))
    assert record.state is CpState.ACTIVE
    assert SaveCpState(CP, CpState.ACTIVE, at(2)) in outcome.effects


def test_a_repeated_fault_changes_nothing() -> None:
    record, _ = run(active(), Fault(cp_id=CP, sent_at=at(1)))
    _, (outcome,) = run(record, Fault(cp_id=CP, sent_at=at(2)))
    assert outcome.effects == ()


# --- a whole CP's crash: the engine starts afresh ----------------------------------------


def test_a_supply_lost_with_a_crashed_cp_is_billed_up_to_its_last_report_when_its_engine_starts() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "1.5"))
    record, _ = run(record, CpDisconnected(cp_id=CP, connection_id="c1", sent_at=at(4)))
    record, _ = run(record, connected(8, conn="c2"))
    assert record.state is CpState.SUPPLYING, "until the engine says otherwise"

    record, (outcome,) = run(record, EngineStarted(cp_id=CP, sent_at=at(9)))
    assert (record.session, record.state) == (None, CpState.ACTIVE)
    interrupted, ticket, status = outcome.messages  # no EndSupply: the engine holds nothing
    assert isinstance(interrupted, SupplyInterrupted)
    assert interrupted.reason is EndReason.FAULT
    assert isinstance(ticket, Ticket)
    assert (ticket.ticket_id, ticket.kwh, ticket.ended_by, ticket.ended_at) == (
        session,
        Decimal("1.5"),
        EndReason.FAULT,
        at(9),
    )
    assert isinstance(status, CpStatus)
    assert status.state is CpState.ACTIVE


def test_an_engine_start_leaves_a_supply_asked_for_since_and_a_free_cp_alone() -> None:
    record, _ = supplying()  # asked for at T0
    _, (outcome,) = run(record, EngineStarted(cp_id=CP, sent_at=at(-1)))
    assert outcome.effects == ()
    _, (outcome,) = run(active(), EngineStarted(cp_id=CP, sent_at=at(5)))
    assert outcome.effects == ()


def test_an_engine_start_after_its_fault_closed_the_supply_changes_nothing() -> None:
    record, _ = supplying()
    record, _ = run(record, Fault(cp_id=CP, sent_at=at(5)))
    _, (outcome,) = run(record, EngineStarted(cp_id=CP, sent_at=at(6)))
    assert outcome.effects == ()


# --- a monitor's failure -------------------------------------------------------------------


def test_a_supply_goes_on_while_the_monitor_is_away_and_is_billed_when_it_ends() -> None:
    record, session = supplying()
    record, _ = run(record, CpDisconnected(cp_id=CP, connection_id="c1"))
    assert record.state is CpState.DISCONNECTED
    assert run(record, request("D2", "r2"))[1][0].messages[0].reason is DenialReason.CP_DISCONNECTED  # type: ignore[attr-defined]
    record, _ = run(record, telemetry(session, 0, "3.0"))
    record, _ = run(record, connected(10, conn="c2"))
    assert record.state is CpState.SUPPLYING
    end = SupplyEnded(cp_id=CP, session_id=session, seq=1, kwh=Decimal("3.0"), eur=Decimal(0))
    record, (outcome,) = run(record, end)
    (ticket,) = sent(outcome, Ticket)
    assert isinstance(ticket, Ticket)
    assert ticket.total_eur == Decimal("1.05")
    assert record.state is CpState.ACTIVE


# --- operator ----------------------------------------------------------------------------


def operator(action: OperatorAction, seconds: float = 3) -> OperatorCommand:
    return OperatorCommand(cp_id=CP, action=action, operator="op", sent_at=at(seconds))


def test_stop_ends_the_supply_with_a_ticket_and_leaves_the_cp_stopped() -> None:
    record, session = supplying()
    record, _ = run(record, telemetry(session, 0, "1.0"))
    record, (outcome,) = run(record, operator(OperatorAction.STOP))
    assert record.state is CpState.STOPPED
    kinds = [type(m) for m in outcome.messages]
    assert kinds == [EndSupply, SupplyInterrupted, Ticket, CpStatus, StopCp]
    (ticket,) = sent(outcome, Ticket)
    assert isinstance(ticket, Ticket)
    assert (ticket.ended_by, ticket.total_eur) == (EndReason.OPERATOR_STOP, Decimal("0.35"))


def test_resume_returns_a_stopped_cp_to_active_and_tells_it() -> None:
    record, _ = run(active(), operator(OperatorAction.STOP))
    assert record.state is CpState.STOPPED
    record, (outcome,) = run(record, operator(OperatorAction.RESUME, 4))
    assert record.state is CpState.ACTIVE
    assert [type(m) for m in outcome.messages] == [CpStatus, ResumeCp]


def test_a_faulty_cp_stopped_by_the_operator_is_stopped_once_it_recovers() -> None:
    record, _ = run(active(), Fault(cp_id=CP, sent_at=at(1)), operator(OperatorAction.STOP))
    assert record.state is CpState.FAULTY
    record, _ = run(record, Recovery(cp_id=CP, sent_at=at(5)))
    assert record.state is CpState.STOPPED


def test_stopping_a_stopped_cp_only_tells_the_cp_again() -> None:
    record, _ = run(active(), operator(OperatorAction.STOP))
    _, (outcome,) = run(record, operator(OperatorAction.STOP, 5))
    assert outcome.record is None
    assert [type(m) for m in outcome.messages] == [StopCp]


def test_a_derived_id_is_the_uuid5_of_its_parts() -> None:
    """Ids already stored (sessions, tickets) must come out the same as before."""
    for parts in [("session", "CP1", "r-1"), ("update", "ab" * 16, "7"), ("ñ", ""), ()]:
        assert rules.derived_id(*parts) == uuid.uuid5(rules._ID_NAMESPACE, "\x1f".join(parts)).hex


def test_a_request_made_at_the_cp_is_denied_to_the_cp_too() -> None:
    at_the_cp = request(driver="NOBODY").model_copy(update={"origin": RequestOrigin.CP})
    _, (outcome,) = run(active(), at_the_cp)
    sends = [e for e in outcome.effects if isinstance(e, rules.Send)]
    assert [send.topic for send in sends] == [t.DRIVER_RESPONSES, t.CP_COMMANDS]
    to_driver, to_cp = (send.message for send in sends)
    assert isinstance(to_cp, SupplyDenied)
    assert (to_cp.cp_id, to_cp.request_id, to_cp.reason) == (CP, "r1", DenialReason.UNKNOWN_DRIVER)
    assert to_cp.message_id != to_driver.message_id


def test_a_drivers_request_is_denied_to_the_driver_alone() -> None:
    _, (outcome,) = run(active(), request(driver="NOBODY"))
    assert [e.topic for e in outcome.effects if isinstance(e, rules.Send)] == [t.DRIVER_RESPONSES]
