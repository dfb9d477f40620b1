"""What each request means: central-auth's rules, apart from sockets and bytes.

The server turns bytes into records and hands each to the connection's
Conversation, which answers it and keeps that connection's CP session. The
AuthService holds what conversations share: settings, the database, Kafka and
the registry of live CPs.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from central_auth.auto_ids import choose_auto_id, is_auto_id
from central_auth.credentials import hash_credential, new_credential, verify_credential
from central_auth.liveness import CpSession
from central_auth.publisher import EventPublisher
from central_auth.registry import LiveRegistry
from central_auth.settings import AuthSettings
from central_auth.store import CpStore, Registration
from central_auth.terms import Terms, terms_for
from central_auth.unconfirmed import UnconfirmedCredentials
from evcharging import topics
from evcharging.db import DatabaseRefused
from evcharging.db_retry import DatabaseUnavailable
from evcharging.messages import CpDisconnected, EngineHealth, utc_now
from evcharging.wire import (
    Authenticate,
    Authenticated,
    Claim,
    Claimed,
    Error,
    Heartbeat,
    HeartbeatAck,
    Ping,
    Pong,
    Reason,
    Record,
    Register,
    Registered,
)

log = logging.getLogger(__name__)

RESTART_DETAIL = "central-auth restarted"
CLAIM_ATTEMPTS = 5
"""A claim races only with rows created behind central-auth's back; a few retries settle it."""


@dataclass(frozen=True)
class Expiry:
    """When a conversation must end unless the peer does something, and what to tell it then."""

    at: float
    reason: Reason
    detail: str


class AuthService:
    def __init__(
        self,
        settings: AuthSettings,
        store: CpStore,
        publisher: EventPublisher,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.registry = LiveRegistry()
        self.unconfirmed = UnconfirmedCredentials()
        self.clock = clock
        self.incarnation = uuid.uuid4().hex[:12]
        """Tells this run's connection ids from those of earlier runs."""
        self.started_at = utc_now()
        """Before the restart announcement: every event of this run is sent after it."""
        self._numbers = itertools.count(1)
        self._open: set[Conversation] = set()

    def open_conversation(self, opened_at: float | None = None) -> Conversation:
        """A new connection's conversation; `opened_at` (default: now) starts its handshake deadline."""
        opened_at = self.clock() if opened_at is None else opened_at
        conversation = Conversation(self, f"{self.incarnation}-{next(self._numbers)}", opened_at)
        self._open.add(conversation)
        return conversation

    def forget(self, conversation: Conversation) -> None:
        self._open.discard(conversation)

    @property
    def connections(self) -> int:
        return len(self._open)

    async def announce_restart(self) -> int:
        """Publish CpDisconnected for every registered CP (SPEC step 1): whatever a
        previous run said about them is stale until they authenticate again."""
        announced = 0
        for cp_id in await self.store.all_ids():
            if not cp_id.startswith(self.settings.restart_announce_prefix):
                continue
            try:
                message = CpDisconnected(
                    cp_id=cp_id, connection_id=f"{self.incarnation}-start", detail=RESTART_DETAIL
                )
            except ValidationError:
                log.warning("charging_points has an id that breaks the contract: %r; not announced", cp_id)
                continue
            self.publisher.publish([(topics.CP_CONNECTIONS, message)])
            announced += 1
        log.info("announced %d CPs as disconnected until they authenticate again", announced)
        return announced

    def close_all(self, detail: str) -> None:
        for conversation in list(self._open):
            conversation.close(detail)

    def terms(self) -> Terms:
        """The heartbeat terms for a CP now, given how many are connected."""
        settings = self.settings
        base = Terms(settings.deadlines.heartbeat_interval, settings.deadlines.heartbeat_timeout)
        return terms_for(len(self.registry), base, settings.heartbeat_budget)

    def enrolment_key_matches(self, key: str) -> bool:
        return hmac.compare_digest(key.encode(), self.settings.enrolment_key.encode())


class Conversation:
    """One connection's requests and, once authenticated, its CP session."""

    def __init__(self, service: AuthService, connection_id: str, opened_at: float) -> None:
        self._service = service
        self.connection_id = connection_id
        self._opened_at = opened_at
        self.session: CpSession | None = None
        self.terms = service.terms()
        """The heartbeat terms, as the CP was last told them (set anew when the session opens)."""
        self.closed = False

    def expiry(self) -> Expiry:
        deadlines = self._service.settings.deadlines
        if self.session is None:
            return Expiry(
                self._opened_at + deadlines.handshake,
                Reason.TIMEOUT,
                f"not authenticated within {deadlines.handshake:g} s of connecting",
            )
        return Expiry(
            self.session.deadline(self.terms.timeout),
            Reason.HEARTBEAT_TIMEOUT,
            f"no heartbeat for {self.terms.timeout:g} s",
        )

    async def answer(self, request: Record) -> Record:
        """The reply to one request; every request gets one."""
        try:
            match request:
                case Ping():
                    return Pong()
                case Heartbeat():
                    return self._heartbeat(request)
                case Register() | Authenticate() | Claim() if self.session is not None:
                    return Error(
                        reason=Reason.UNEXPECTED_REQUEST,
                        detail=f"already authenticated as {self.session.cp_id}",
                    )
                case Register():
                    return await self._register(request)
                case Authenticate():
                    return await self._authenticate(request)
                case Claim():
                    return await self._claim(request)
                case _:
                    return Error(
                        reason=Reason.UNEXPECTED_REQUEST, detail=f"{type(request).__name__} is not a request"
                    )
        except (DatabaseUnavailable, DatabaseRefused) as error:
            log.warning("%s: %s", self.connection_id, error)
            return Error(reason=Reason.UNAVAILABLE, detail="the database is unavailable; try again shortly")

    def close(self, detail: str) -> None:
        """The connection is over: publish the CP's disconnection and free its id."""
        if self.closed:
            return
        self.closed = True
        self._service.forget(self)
        if self.session is not None:
            self._service.publisher.publish(self.session.close(detail))
            self._service.registry.release(self.session.cp_id, self.connection_id)

    # --- the requests -------------------------------------------------------------

    async def _register(self, request: Register) -> Record:
        service = self._service
        if not service.enrolment_key_matches(request.enrolment_key):
            return Error(reason=Reason.BAD_ENROLMENT_KEY, detail="the enrolment key is not the operator's")
        if is_auto_id(service.settings.auto_id_prefix, request.cp_id):
            return Error(
                reason=Reason.RESERVED_ID, detail=f"{request.cp_id} is an auto-provisioned id; use Claim"
            )
        credential = new_credential()
        hashed = await asyncio.to_thread(hash_credential, credential)
        outcome = await service.store.register(request.cp_id, request.location, request.price_per_kwh, hashed)
        if outcome is Registration.ALREADY_REGISTERED and not await self._reissue(request, hashed):
            return Error(
                reason=Reason.ALREADY_REGISTERED,
                detail=f"{request.cp_id} has a credential already; authenticate with it",
            )
        service.unconfirmed.issued(request.cp_id, hashed)
        how = "credential reissued" if outcome is Registration.ALREADY_REGISTERED else outcome.value
        log.info("%s: CP %s registered (%s)", self.connection_id, request.cp_id, how)
        return Registered(cp_id=request.cp_id, credential=credential)

    async def _reissue(self, request: Register, hashed: str) -> bool:
        """Replace a credential this run issued and nobody has used: its answer was lost
        (central_auth.unconfirmed says why)."""
        previous = self._service.unconfirmed.reissuable(request.cp_id)
        if previous is None:
            return False
        store = self._service.store
        return await store.reissue(request.cp_id, request.location, request.price_per_kwh, previous, hashed)

    async def _authenticate(self, request: Authenticate) -> Record:
        stored = await self._service.store.find(request.cp_id)
        if stored is None:
            return Error(reason=Reason.UNKNOWN_CP, detail=f"no CP {request.cp_id} is registered")
        if stored.credential_hash is None:
            return Error(
                reason=Reason.NOT_ENROLLED, detail=f"{request.cp_id} has no credential yet; register it"
            )
        if not await asyncio.to_thread(verify_credential, request.credential, stored.credential_hash):
            return Error(reason=Reason.BAD_CREDENTIAL, detail=f"wrong credential for {request.cp_id}")
        if not self._take(request.cp_id):
            return Error(
                reason=Reason.ALREADY_CONNECTED, detail=f"{request.cp_id} is connected on another connection"
            )
        self._service.unconfirmed.confirmed(request.cp_id)
        self._open_session(request.cp_id, request.engine_health)
        return Authenticated(cp_id=request.cp_id, connection_id=self.connection_id, **self._terms())

    async def _claim(self, request: Claim) -> Record:
        service = self._service
        if not service.enrolment_key_matches(request.enrolment_key):
            return Error(reason=Reason.BAD_ENROLMENT_KEY, detail="the enrolment key is not the operator's")
        prefix = service.settings.auto_id_prefix
        for _ in range(CLAIM_ATTEMPTS):
            rows = await service.store.with_prefix(prefix)
            choice = choose_auto_id(
                prefix,
                reusable=[row.cp_id for row in rows if row.auto_provisioned],
                existing=[row.cp_id for row in rows],
                taken=service.registry.live_ids(),
            )
            if not self._take(choice.cp_id):  # cannot happen: chosen among the free ones, no await since
                continue
            try:
                credential = new_credential()
                hashed = await asyncio.to_thread(hash_credential, credential)
                record = service.store.insert_auto if choice.is_new else service.store.reassign_auto
                stored = await record(choice.cp_id, request.location, request.price_per_kwh, hashed)
            except BaseException:
                service.registry.release(choice.cp_id, self.connection_id)
                raise
            if not stored:  # created or deleted behind our back meanwhile: choose again
                service.registry.release(choice.cp_id, self.connection_id)
                continue
            if self.closed:
                service.registry.release(choice.cp_id, self.connection_id)
                return Error(reason=Reason.TIMEOUT, detail="the connection closed during the claim")
            log.info(
                "%s: claimed %s (%s)", self.connection_id, choice.cp_id, "new" if choice.is_new else "reused"
            )
            self._open_session(choice.cp_id, request.engine_health)
            return Claimed(
                cp_id=choice.cp_id, credential=credential, connection_id=self.connection_id, **self._terms()
            )
        return Error(reason=Reason.UNAVAILABLE, detail="could not settle on a free id; try again")

    def _heartbeat(self, request: Heartbeat) -> Record:
        if self.session is None:
            return Error(reason=Reason.UNEXPECTED_REQUEST, detail="authenticate before sending heartbeats")
        self._service.publisher.publish(self.session.heartbeat(request.engine_health, self._service.clock()))
        terms = self._service.terms()
        if terms == self.terms:
            return HeartbeatAck()
        self.terms = terms
        return HeartbeatAck(heartbeat_interval=terms.interval, heartbeat_timeout=terms.timeout)

    # --- helpers --------------------------------------------------------------------

    def _take(self, cp_id: str) -> bool:
        """Make this connection the holder of `cp_id`, unless it is closed or another holds it."""
        return not self.closed and self._service.registry.take(cp_id, self.connection_id)

    def _open_session(self, cp_id: str, health: EngineHealth) -> None:
        self.session = CpSession(cp_id, self.connection_id, health, last_heard=self._service.clock())
        self.terms = self._service.terms()
        self._service.publisher.publish(self.session.opened())
        log.info("%s: %s authenticated, engine %s", self.connection_id, cp_id, health.value)

    def _terms(self) -> dict[str, float]:
        return {"heartbeat_interval": self.terms.interval, "heartbeat_timeout": self.terms.timeout}
