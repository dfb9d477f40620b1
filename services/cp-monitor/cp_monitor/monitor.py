"""The monitor: keeps its engine watched and its CP authenticated with central-auth.

The engine's health travels with every heartbeat (and at once when it changes),
so central-auth reports faults and recoveries. Once the CP is authenticated the
monitor tells the engine which CP it is, again after either side comes back.
"""

from __future__ import annotations

import asyncio
import logging

from cp_monitor.engine_watch import EngineWatch
from cp_monitor.settings import Settings
from evcharging import health
from evcharging.auth_client import (
    AuthClient,
    CpProfile,
    CredentialStore,
    FileCredentialStore,
    LinkState,
    MemoryCredentialStore,
)

log = logging.getLogger("cp-monitor")


class Monitor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.watch = EngineWatch(
            settings.engine_host,
            settings.engine_port,
            timeout=settings.check_timeout,
            period=settings.check_period,
            on_change=lambda _health: self._nudge(),
            cp_id=settings.cp_id,
        )
        self.client: AuthClient | None = None
        self.problem: str | None = None
        """The sentence this monitor wrote to the health problem file, if any."""
        self.credentials: CredentialStore = (
            FileCredentialStore(settings.credential_file)
            if settings.credential_file
            else MemoryCredentialStore()
        )

    async def run(self) -> None:
        """Watch and authenticate until cancelled; then close both connections (the
        AuthClient closes its own: central-auth sees the CP leave at once)."""
        watching = asyncio.create_task(self.watch.run())
        try:
            await self._serve(watching)
        finally:
            watching.cancel()
            self.watch.close()

    async def _serve(self, watching: asyncio.Task[None]) -> None:
        engine = await self.watch.wait_attached()
        cp_id = self.settings.cp_id or engine.cp_id
        if self.settings.cp_id is None and engine.cp_id and engine.credential:
            log.info("the engine is already CP %s: authenticating as it", engine.cp_id)
            self.credentials.save(engine.cp_id, engine.credential)
        self.client = AuthClient(
            self.settings.central_address,
            enrolment_key=self.settings.enrolment_key,
            profile=CpProfile(self.settings.location, self.settings.price_per_kwh),
            cp_id=cp_id,
            credentials=self.credentials,
            on_state=self._on_link_state,
            tls=self.settings.central_tls,
            on_problem=self._on_problem,
        )
        await asyncio.gather(
            watching, self.client.run(lambda: self.watch.health), self._keep_engine_informed()
        )

    def _nudge(self) -> None:
        if self.client is not None:
            self.client.nudge()

    def _on_link_state(self, state: LinkState, cp_id: str | None) -> None:
        log.info(
            "CP %s · engine %s · central-auth %s",
            cp_id or "(no id yet)",
            self.watch.health.value,
            state.value,
        )

    def _on_problem(self, problem: str | None) -> None:
        """What keeps the CP from central-auth, in the health problem file too (the
        container's health check prints it); cleared once authenticated again. Only our
        own sentence is cleared: the engine, in the same container, may have its own."""
        if problem is not None:
            self.problem = problem
            health.report_problem(problem)
            return
        if self.problem is not None and health.problem() == self.problem:
            health.clear_problem()
        self.problem = None

    async def _keep_engine_informed(self) -> None:
        """Whenever the CP is authenticated, make sure the attached engine knows its id."""
        assert self.client is not None
        while True:
            cp_id = await self.client.wait_authenticated()
            identity = self.watch.identity
            if self.watch.connection is not None and (identity is None or identity.cp_id != cp_id):
                await self.watch.assign(cp_id, self.credentials.load(cp_id), self.settings.price_per_kwh)
            await asyncio.sleep(self.settings.check_period)
