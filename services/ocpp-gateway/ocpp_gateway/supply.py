"""One charger's supplies: the network's sessions behind its OCPP transactions.

The gateway is to a charger what an engine is to its CP on Kafka:

- a driver at the charger (Authorize, or a StartTransaction without one) is a supply
  request at this CP, authorised or denied by the central like any other;
- a driver's request from the driver application, once authorised (StartSupply), is a
  RemoteStartTransaction; the charger's StartTransaction then takes that session;
- MeterValues are the supply's telemetry and StopTransaction its end (metering);
- the central's own end of a supply (a fault, an operator's stop) is a
  RemoteStopTransaction, an operator's stop and resume a ChangeAvailability.

What outlives the gateway is the charger's transaction (the Ledger); a session the
central authorised but the charger had not started yet when the gateway stopped is
ended by the central's rules, as an engine's would be.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from ocpp.v16.enums import AuthorizationStatus

from evcharging import messages as m
from evcharging.topics import SUPPLY_ENDED, SUPPLY_REQUESTS, TELEMETRY
from ocpp_gateway import metering
from ocpp_gateway.ledger import Ledger
from ocpp_gateway.network import Outbox

log = logging.getLogger(__name__)

REQUEST_LIFETIME = timedelta(seconds=15)
"""A request made at the charger is void if the central has not answered by then (as
an engine's)."""


class Remote(Protocol):
    """The central system's calls to the charger (the Charger's OCPP side)."""

    async def remote_start(self, driver_id: str) -> bool: ...

    async def remote_stop(self, transaction_id: int) -> bool: ...

    async def set_available(self, available: bool) -> bool: ...


class Supplies:
    def __init__(
        self, cp_id: str, outbox: Outbox, ledger: Ledger, remote: Remote, authorize_within: float
    ) -> None:
        self.cp_id = cp_id
        self._outbox = outbox
        self._ledger = ledger
        self._remote = remote
        self._within = authorize_within
        self._authorised: m.StartSupply | None = None
        self._awaited: dict[str, asyncio.Future[m.StartSupply]] = {}
        self._denials: dict[str, asyncio.Future[m.DenialReason]] = {}
        self._last_reading: metering.Reading | None = None
        self._stop_asked: int | None = None
        """The transaction a RemoteStopTransaction was sent for: the central ends a supply
        for the operator with an EndSupply and a StopCp, and the charger needs one stop."""

    # --- the charger's messages --------------------------------------------------

    async def authorize(self, driver_id: str) -> AuthorizationStatus:
        """Authorize: the driver of the transaction in progress is accepted without asking
        (a charger asks for the card that is to end its transaction); any other is asked for."""
        in_progress = self._ledger.open(self.cp_id)
        if in_progress is not None and in_progress.driver_id == driver_id:
            return AuthorizationStatus.accepted
        return await self._authorise(driver_id)

    async def _authorise(self, driver_id: str) -> AuthorizationStatus:
        """Ask the central to authorise `driver_id` here; its answer as OCPP says it."""
        if self._authorised is not None and self._authorised.driver_id == driver_id:
            return AuthorizationStatus.accepted
        loop = asyncio.get_running_loop()
        request = m.SupplyRequest(
            cp_id=self.cp_id,
            driver_id=driver_id,
            origin=m.RequestOrigin.CP,
            expires_at=datetime.now(UTC) + REQUEST_LIFETIME,
        )
        started = self._awaited[driver_id] = loop.create_future()
        denied = self._denials[request.request_id] = loop.create_future()
        try:
            await self._outbox.deliver(SUPPLY_REQUESTS, request)
            await asyncio.wait({started, denied}, timeout=self._within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._awaited.pop(driver_id, None)
            self._denials.pop(request.request_id, None)
        if started.done():
            self._authorised = started.result()
            return AuthorizationStatus.accepted
        if denied.done():
            log.info("%s: %s denied: %s", self.cp_id, driver_id, denied.result().value)
            return metering.AUTHORIZATION[denied.result()]
        log.warning("%s: the central did not answer for %s within %g s", self.cp_id, driver_id, self._within)
        return AuthorizationStatus.invalid

    async def start(
        self, driver_id: str, meter_start_wh: int, timestamp: str
    ) -> tuple[int, AuthorizationStatus]:
        """StartTransaction: the transaction id and whether the driver may charge."""
        started_at = metering.moment(timestamp)
        repeat = self._ledger.open(self.cp_id)
        if repeat is not None and (repeat.driver_id, repeat.meter_start_wh, repeat.started_at) == (
            driver_id,
            meter_start_wh,
            started_at,
        ):
            return repeat.transaction_id, AuthorizationStatus.accepted  # its answer was lost
        status = await self._authorise(driver_id)
        transaction_id = self._ledger.next_id(self.cp_id, datetime.now(UTC))
        authorised = self._authorised
        if status is not AuthorizationStatus.accepted or authorised is None:
            return transaction_id, status
        await self._ledger.record(
            m.OcppTransaction(
                cp_id=self.cp_id,
                transaction_id=transaction_id,
                session_id=authorised.session_id,
                driver_id=driver_id,
                price_per_kwh=authorised.price_per_kwh,
                meter_start_wh=meter_start_wh,
                started_at=started_at,
            )
        )
        self._authorised = None
        self._last_reading = None
        log.info("%s: transaction %d is supply %s", self.cp_id, transaction_id, authorised.session_id)
        return transaction_id, AuthorizationStatus.accepted

    async def meter(self, transaction_id: int | None, meter_value: list[dict[str, Any]]) -> None:
        """MeterValues of a transaction: its telemetry, each reading in order."""
        transaction = self._find(transaction_id, "meter values")
        if transaction is None:
            return
        for reading in metering.readings(meter_value):
            kw = metering.power_between(self._last_reading, reading)
            report = metering.telemetry(transaction, reading, kw)
            if reading.register_kwh is not None:
                self._last_reading = reading
            if report is not None:
                await self._outbox.deliver(TELEMETRY, report)

    async def stop(self, transaction_id: int, meter_stop_wh: int, timestamp: str, reason: str | None) -> None:
        """StopTransaction: the supply's end, with the meter's final figure."""
        transaction = self._find(transaction_id, "stop")
        if transaction is None:
            return
        ending = metering.end_reason(reason)
        at = metering.moment(timestamp)
        await self._outbox.deliver(
            SUPPLY_ENDED, metering.supply_ended(transaction, meter_stop_wh, at, ending)
        )
        if not transaction.ended:
            await self._ledger.record(transaction.model_copy(update={"ended": True}))
        log.info("%s: transaction %d ended (%s)", self.cp_id, transaction_id, ending.value)

    def _find(self, transaction_id: int | None, what: str) -> m.OcppTransaction | None:
        transaction = None if transaction_id is None else self._ledger.find(self.cp_id, transaction_id)
        if transaction is None:
            log.warning(
                "%s: %s of transaction %s, not its last one: ignored", self.cp_id, what, transaction_id
            )
        return transaction

    # --- the central's words -----------------------------------------------------

    def denied(self, denial: m.SupplyDenied) -> None:
        waiting = self._denials.get(denial.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(denial.reason)

    async def obey(self, command: m.Message) -> None:
        """Carry out a command of the central for this CP; a repeated one changes nothing."""
        match command:
            case m.StartSupply():
                await self._supply(command)
            case m.EndSupply():
                await self._end(command.session_id)
            case m.StopCp():
                await self._end(None)
                await self._remote.set_available(False)
            case m.ResumeCp():
                await self._remote.set_available(True)

    async def _supply(self, command: m.StartSupply) -> None:
        waiting = self._awaited.get(command.driver_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(command)  # the charger's own request: it starts by itself
            return
        open_now = self._ledger.open(self.cp_id)
        known = {s.session_id for s in (self._authorised, open_now) if s is not None}
        if command.session_id in known:
            return
        self._authorised = command
        if not await self._remote.remote_start(command.driver_id):
            self._authorised = None
            log.warning("%s: refused to start supply %s", self.cp_id, command.session_id)
            await self._outbox.deliver(SUPPLY_ENDED, _never_started(command))

    async def _end(self, session_id: str | None) -> None:
        """End the supply `session_id` (None: whichever is in progress)."""
        if self._authorised is not None and session_id in (None, self._authorised.session_id):
            self._authorised = None
        transaction = self._ledger.open(self.cp_id)
        if transaction is None or session_id not in (None, transaction.session_id):
            return
        if self._stop_asked != transaction.transaction_id:
            self._stop_asked = transaction.transaction_id
            await self._remote.remote_stop(transaction.transaction_id)


def _never_started(command: m.StartSupply) -> m.SupplyEnded:
    """The end of a supply the charger would not start: nothing supplied, the CP free."""
    return m.SupplyEnded(
        message_id=f"{command.session_id}-ocpp-refused",
        cp_id=command.cp_id,
        session_id=command.session_id,
        seq=0,
        kwh=Decimal(0),
        eur=Decimal(0),
        reason=m.EndReason.DISCONNECTED,
    )
