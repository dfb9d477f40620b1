"""The two faces of the driver app: what every command reports, and its JSON form.

Commands talk to an `Output`; whether that becomes a live terminal display
(`screen.RichOutput`) or one JSON object per line for scripts (`JsonOutput`) is
decided once, in the CLI. JSON Lines was chosen over one big document so a
script can react to `authorised` and `update` events while a charge is going on.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol, TextIO

from driver import texts
from driver.outcome import Outcome, Summary
from driver.tracker import ChargeTracker
from evcharging.messages import CpStatus, SupplyRequest, Ticket


class Output(Protocol):
    def statuses(self, statuses: list[CpStatus]) -> None: ...
    def tickets(self, tickets: list[Ticket]) -> None: ...
    def ticket_while_away(self, ticket: Ticket) -> None: ...
    def requesting(self, request: SupplyRequest) -> None: ...
    def authorised(self, tracker: ChargeTracker) -> None: ...
    def update(self, tracker: ChargeTracker) -> None: ...
    def tick(self, tracker: ChargeTracker) -> None: ...
    def interrupted(self, tracker: ChargeTracker) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...
    def next_in(self, seconds: float, line: int, total: int, cp_id: str) -> None: ...
    def summary(self, summary: Summary) -> None: ...
    def error(self, text: str) -> None: ...


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    data = ticket.model_dump(mode="json", exclude={"type", "version", "message_id", "sent_at"})
    data["ended_by_text"] = texts.ending(ticket.ended_by)
    return data


def status_json(status: CpStatus) -> dict[str, Any]:
    return status.model_dump(mode="json", exclude={"type", "version", "message_id"})


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "cp_id": outcome.cp_id,
        "result": outcome.result.value,
        "message": outcome.message,
        "denial": outcome.denial.value if outcome.denial else None,
        "ticket": ticket_json(outcome.ticket) if outcome.ticket else None,
        "learned_at": outcome.learned_at.isoformat(),
    }


class JsonOutput:
    """One JSON object per line on stdout; `list` and `tickets` print one JSON array."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def _emit(self, value: Any) -> None:
        self._stream.write(json.dumps(value, ensure_ascii=False) + "\n")
        self._stream.flush()

    def statuses(self, statuses: list[CpStatus]) -> None:
        self._emit([status_json(s) for s in statuses])

    def tickets(self, tickets: list[Ticket]) -> None:
        self._emit([ticket_json(t) for t in tickets])

    def ticket_while_away(self, ticket: Ticket) -> None:
        self._emit({"event": "ticket_while_away", "ticket": ticket_json(ticket)})

    def requesting(self, request: SupplyRequest) -> None:
        self._emit(
            {
                "event": "requested",
                "cp_id": request.cp_id,
                "driver_id": request.driver_id,
                "request_id": request.request_id,
                "sent_at": request.sent_at.isoformat(),
                "expires_at": request.expires_at.isoformat(),
            }
        )

    def authorised(self, tracker: ChargeTracker) -> None:
        self._emit(
            {
                "event": "authorised",
                "cp_id": tracker.cp_id,
                "session_id": tracker.session_id,
                "price_per_kwh": str(tracker.price_per_kwh),
            }
        )

    def update(self, tracker: ChargeTracker) -> None:
        self._emit(
            {
                "event": "update",
                "cp_id": tracker.cp_id,
                "session_id": tracker.session_id,
                "seq": tracker.last_seq,
                "kw": str(tracker.kw),
                "kwh": str(tracker.kwh),
                "eur": str(tracker.eur),
                "duration_s": None if tracker.duration_s is None else str(tracker.duration_s),
                "time_factor": str(tracker.time_factor),
            }
        )

    def tick(self, tracker: ChargeTracker) -> None:
        return None

    def interrupted(self, tracker: ChargeTracker) -> None:
        reason = tracker.interruption
        self._emit(
            {
                "event": "interrupted",
                "cp_id": tracker.cp_id,
                "session_id": tracker.session_id,
                "reason": reason.value if reason else None,
                "message": texts.ending(reason) if reason else "",
            }
        )

    def finished(self, outcome: Outcome) -> None:
        self._emit({"event": "finished", **outcome_json(outcome)})

    def next_in(self, seconds: float, line: int, total: int, cp_id: str) -> None:
        self._emit({"event": "waiting", "seconds": seconds, "next_line": line, "of": total, "cp_id": cp_id})

    def summary(self, summary: Summary) -> None:
        self._emit(
            {
                "event": "summary",
                "requests": len(summary.outcomes),
                "charged": summary.charged,
                "failed": summary.failed,
                "kwh": str(summary.kwh),
                "eur": str(summary.eur),
                "outcomes": [outcome_json(o) for o in summary.outcomes],
            }
        )

    def error(self, text: str) -> None:
        self._emit({"event": "error", "message": text})
