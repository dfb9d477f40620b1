"""What the driver app says to a person, kept apart from how it is shown.

Every denial reason and every way a supply can end has one sentence here, so the
human output, the JSON output and the tests all use the same words, and a new
reason in the contract fails the unit test that walks the enum.
"""

from __future__ import annotations

from decimal import Decimal

from evcharging import simtime
from evcharging.exhaustive import every_member
from evcharging.messages import CpState, DenialReason, EndReason

_DENIALS = every_member(
    DenialReason,
    {
        DenialReason.UNKNOWN_DRIVER: (
            "Driver {driver} is not registered with the network."
            " Check your driver id (--driver or DRIVER_ID)."
        ),
        DenialReason.UNKNOWN_CP: (
            "There is no charging point {cp}. Run 'driver list' to see the charging points."
        ),
        DenialReason.CP_BUSY: "{cp} is busy with another driver. Try another charging point, or again later.",
        DenialReason.CP_STOPPED: "{cp} is out of order: the operator has stopped it.",
        DenialReason.CP_FAULTY: "{cp} has a fault and cannot supply right now.",
        DenialReason.CP_DISCONNECTED: "{cp} is not connected to the network right now.",
        DenialReason.REQUEST_EXPIRED: (
            "Your request for {cp} reached the central after it had expired, so it was not authorised. "
            "Please try again."
        ),
    },
)

_ENDINGS = every_member(
    EndReason,
    {
        EndReason.UNPLUGGED: "vehicle unplugged",
        EndReason.FAULT: "fault at the charging point",
        EndReason.OPERATOR_STOP: "stopped by the operator",
        EndReason.DISCONNECTED: "charging point disconnected",
    },
)

_STATES = every_member(
    CpState,
    {
        CpState.ACTIVE: "available",
        CpState.SUPPLYING: "supplying",
        CpState.STOPPED: "out of order",
        CpState.FAULTY: "faulty",
        CpState.DISCONNECTED: "disconnected",
    },
)


def denial(reason: DenialReason, cp_id: str, driver_id: str) -> str:
    """The sentence that tells a driver why a request was refused and what to do."""
    return _DENIALS[reason].format(cp=cp_id, driver=driver_id)


def ending(reason: EndReason) -> str:
    """How a supply ended, as printed on the ticket."""
    return _ENDINGS[reason]


def state_label(state: CpState) -> str:
    """A CP state in plain words (the DB values are Spanish identifiers)."""
    return _STATES[state]


def central_silent(cp_id: str, waited: float) -> str:
    """The message for a request nobody answered in time."""
    return (
        f"The central is not answering: no reply for your request at {cp_id} after {waited:.0f} s. "
        "The request has expired and will never be authorised late; try again in a moment."
    )


def kafka_unreachable(bootstrap: str, why: str | None = None, detail: str | None = None) -> str:
    """`why`: the broker refused this app's sign-in, in the sentence that says what to change;
    `detail`: else, what did not answer."""
    if why:
        return f"Cannot use the network's message broker at {bootstrap}: {why}."
    seen = f" ({detail})" if detail else ""
    return (
        f"Cannot reach the network's message broker at {bootstrap}{seen}. Check KAFKA_BOOTSTRAP or --broker."
    )


def euros(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.2f} €"


def kwh(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.3f} kWh"


def kw(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.2f} kW"


def price(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.3f} €/kWh"


def duration(seconds: float | Decimal) -> str:
    """`1:02:03` or `02:03`: how long a supply has lasted."""
    return simtime.clock(seconds)


def charging_time(seconds: float | Decimal, time_factor: Decimal) -> str:
    """A charging time in the CP's time, saying so when its clock runs fast:
    `20:00 (simulated time ×60)`."""
    note = simtime.note(time_factor)
    return duration(seconds) + (f" ({note})" if note else "")
