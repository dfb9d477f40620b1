"""Operator actions, shared by the page's forms and the JSON API."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from central_web.feed import load_cp
from central_web.live import LiveBoard
from central_web.operator import CommandPublisher, commands_for
from evcharging.db_threads import DatabaseThreads
from evcharging.messages import OperatorAction, OperatorCommand

log = logging.getLogger(__name__)


class ActionError(Exception):
    """An action that was refused; nothing was sent."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Controls:
    live: LiveBoard
    publisher: CommandPublisher
    database: DatabaseThreads | None

    def act(self, action: str, cp_id: str | None, operator: str) -> list[OperatorCommand]:
        """Send `action` to one CP, or to every known CP when `cp_id` is None."""
        try:
            verb = OperatorAction(action)
        except ValueError:
            message = f"Unknown action '{action}': use stop or resume."
            raise ActionError(404, "unknown_action", message) from None
        if cp_id is None:
            targets = self.live.cp_ids()
            if not targets:
                raise ActionError(409, "no_cps", "There are no charging points to send this to yet.")
        elif self._known(cp_id):
            targets = [cp_id]
        else:
            raise ActionError(404, "unknown_cp", f"There is no charging point '{cp_id}'.")
        commands = commands_for(targets, verb, operator)
        try:
            self.publisher.publish(commands)
        except Exception as error:
            log.error("operator command not sent: %s", error)
            message = "The command could not be sent: Kafka is not answering. Try again."
            raise ActionError(503, "not_sent", message) from None
        log.info("operator %s: %s %s", operator, verb.value, ", ".join(targets))
        return commands

    def _known(self, cp_id: str) -> bool:
        """On the board, or registered since its last refresh; ActionError (503) when the
        database cannot say."""
        if self.live.knows(cp_id):
            return True
        if self.database is None:
            return False
        try:
            rows = load_cp(self.database, cp_id)
        except Exception as error:  # not "unknown": the operator would believe a typo
            log.error("looking up CP %s failed: %s", cp_id, error)
            message = (
                f"Charging point '{cp_id}' could not be looked up: the database is not answering. Try again."
            )
            raise ActionError(503, "database_unavailable", message) from None
        if rows:  # registered since the last refresh
            self.live.change(lambda board: board.load_database(rows, datetime.now(UTC)))
        return bool(rows)
