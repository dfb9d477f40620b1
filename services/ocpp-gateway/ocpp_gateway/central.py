"""One charger's CP session at central-auth: the gateway is the charger's monitor.

    link = CentralLink(settings, "OCPP01", password)
    await link.open()          # Refused (wrong password, unknown charger) or Unreachable
    link.report(EngineHealth.KO)  # a StatusNotification said Faulted: told at once
    await link.close()         # the WebSocket ended: central-auth sees the CP go

The session is central-auth's own (evcharging.auth_client), so a charger is the very
CP a monitor would make it: the same credential check (its Basic-authentication
password is its CP credential, hashed at the central), the same heartbeats and the
same disconnection when the session ends. The link never registers a charger: an
operator provisions it (`make ocpp-charger`, central_auth.chargers), so a charger the
central does not know is refused rather than enrolled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from evcharging.auth_client import AuthClient, AuthRefused, MemoryCredentialStore
from evcharging.messages import EngineHealth
from ocpp_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class Refused(Exception):
    """central-auth refused the charger: its password or its id is wrong."""


class Unreachable(Exception):
    """central-auth did not accept the charger in time (it may be restarting)."""


class CpSession(Protocol):
    """What the gateway needs of a charger's CP session (CentralLink; a stand-in in unit tests)."""

    cp_id: str

    async def open(self) -> None: ...

    @property
    def ended(self) -> asyncio.Future[None]: ...

    @property
    def refused(self) -> bool: ...

    def report(self, health: EngineHealth) -> None: ...

    async def close(self) -> None: ...


class CentralLink:
    """The CP session of one charger at central-auth, held while its WebSocket is open."""

    def __init__(self, settings: GatewaySettings, cp_id: str, password: str) -> None:
        self.cp_id = cp_id
        self._admit_within = settings.admit_within
        credentials = MemoryCredentialStore()
        credentials.save(cp_id, password)
        self._client = AuthClient(
            settings.central_auth, enrolment_key=None, cp_id=cp_id, credentials=credentials
        )
        self._health = EngineHealth.OK
        self._session: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the CP's session; Refused or Unreachable when central-auth does not accept it."""
        session = self._session = asyncio.create_task(self._client.run(lambda: self._health))
        accepted = asyncio.create_task(self._client.wait_authenticated())
        done, _ = await asyncio.wait(
            {session, accepted}, timeout=self._admit_within, return_when="FIRST_COMPLETED"
        )
        if accepted in done:
            return
        accepted.cancel()
        refusal = session.exception() if session in done else None
        await self.close()
        if isinstance(refusal, AuthRefused):
            raise Refused(f"central-auth refused {self.cp_id}: {refusal.detail}")
        problem = self._client.problem or "no answer"
        raise Unreachable(
            f"central-auth did not accept {self.cp_id} within {self._admit_within:g} s ({problem})"
        )

    @property
    def ended(self) -> asyncio.Task[None]:
        """Done once the session is over for good (central-auth refused the CP later on)."""
        assert self._session is not None, "open() first"
        return self._session

    @property
    def refused(self) -> bool:
        session = self._session
        return (
            session is not None
            and session.done()
            and not session.cancelled()
            and session.exception() is not None
        )

    def report(self, health: EngineHealth) -> None:
        """The charger's health changed: central-auth hears it with the next heartbeat, sent now."""
        if health is not self._health:
            self._health = health
            log.info("%s: health %s", self.cp_id, health.value)
            self._client.nudge()

    async def close(self) -> None:
        """End the session: central-auth publishes the CP's disconnection."""
        session = self._session
        if session is None or session.done():
            return
        session.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await session
