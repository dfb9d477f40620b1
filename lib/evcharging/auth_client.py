"""The CP monitor's side of central-auth: identify the CP, then heart-beat forever.

    client = AuthClient(
        "central-auth:7000",
        enrolment_key=os.environ["CP_ENROLMENT_KEY"],
        profile=CpProfile(location="Alicante, Av. de la Estación 12", price_per_kwh=Decimal("0.35")),
        cp_id=os.environ.get("CP_ID"),                                  # None: a scaled replica
        credentials=FileCredentialStore(Path(os.environ["CP_CREDENTIAL_FILE"])) if hand_run else None,
    )
    task = asyncio.create_task(client.run(lambda: engine_health))      # runs until cancelled
    cp_id = await client.wait_authenticated()                           # the id, explicit or claimed
    ...
    client.nudge()        # the engine's health just changed: report it now, not within a second

How the CP is identified on each (re)connection:

- explicit id, credential known  -> Authenticate; if the server no longer knows the CP
  (`unknown_cp`, `not_enrolled`) -> Register again, then Authenticate.
- explicit id, no credential     -> Register (enrolment key), save the credential, Authenticate.
- no id (a replica)              -> Claim: the server picks the lowest free auto id and opens
  the session at once. After a lost connection the replica first tries to get the
  same id back (Authenticate with the claimed credential) and claims anew only if
  that id has gone to someone else meanwhile.

Reconnection: a lost connection, a server that does not answer a heartbeat within
its timeout, or a transient refusal (`already_connected` while the server still
holds the old connection, `server_busy`, `unavailable`) leads to a new attempt
after an exponential, jittered backoff (tenacity). A refusal that no retry can
cure (wrong enrolment key, wrong credential, id already registered by someone
else) ends `run` with AuthRefused: someone must change the configuration.

TLS (a monitor on another host than the central): with `tls=CentralTls(ca_file)` the
client speaks TLS, verifying central-auth's certificate against the project CA and the
host name it was given. A failure a person must fix (the wrong CA, a name missing from
the certificate, the plain port given for the TLS one or the reverse) becomes one
sentence that says what to change (evcharging.central_tls); the
client goes on retrying with its backoff, reports the sentence through `on_problem`,
and reports None there once it is authenticated again. The CA file is read at each
attempt, so copying the right one in place is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from evcharging.central_tls import CentralTls, TlsSetupError, explain_no_answer, explain_tls_failure
from evcharging.config import HostPort
from evcharging.framed import FramedConnection, PeerClosed
from evcharging.framing import FramingError
from evcharging.messages import EngineHealth
from evcharging.retry import backoff_wait
from evcharging.wire import (
    CODEC,
    TRANSIENT,
    Authenticate,
    Authenticated,
    Claim,
    Claimed,
    Error,
    Heartbeat,
    HeartbeatAck,
    Reason,
    Record,
    Register,
    Registered,
    WireError,
)

log = logging.getLogger(__name__)

HealthProbe = Callable[[], EngineHealth]
"""Returns the engine's health as last checked; called once per heartbeat, must not block."""


class LinkState(StrEnum):
    CONNECTING = "connecting"
    AUTHENTICATED = "authenticated"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"


class AuthRefused(Exception):
    """central-auth refused the CP for a reason that retrying cannot cure."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"central-auth refused the CP: {reason.value}: {detail}")


@dataclass(frozen=True)
class CpProfile:
    """What central-auth records about a CP when it registers or claims an id."""

    location: str
    price_per_kwh: Decimal


@dataclass(frozen=True)
class Backoff:
    """Waits between connection attempts: initial·2ⁿ plus up to `jitter`, capped at `maximum` (s)."""

    initial: float = 0.5
    maximum: float = 15.0
    jitter: float = 0.5


class CredentialStore(Protocol):
    def load(self, cp_id: str) -> str | None: ...

    def save(self, cp_id: str, credential: str) -> None: ...


class MemoryCredentialStore:
    """Keeps credentials for the life of the process only."""

    def __init__(self) -> None:
        self._credentials: dict[str, str] = {}

    def load(self, cp_id: str) -> str | None:
        return self._credentials.get(cp_id)

    def save(self, cp_id: str, credential: str) -> None:
        self._credentials[cp_id] = credential


class FileCredentialStore:
    """Keeps a hand-run CP's credential in a file (JSON, mode 0600), so the CP
    authenticates with it after a restart instead of registering again.

    The file names the CP it belongs to: pointed at another CP's file, `load`
    finds nothing rather than sending the wrong credential.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, cp_id: str) -> str | None:
        try:
            saved = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            log.warning("credential file %s unreadable (%s); ignoring it", self.path, error)
            return None
        if not isinstance(saved, dict) or saved.get("cp_id") != cp_id:
            return None
        credential = saved.get("credential")
        return credential if isinstance(credential, str) else None

    def save(self, cp_id: str, credential: str) -> None:
        """Write atomically: a crash mid-write leaves the old file, never half a credential."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".credential-")
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump({"cp_id": cp_id, "credential": credential}, file)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


# --- the identification plan (pure) ----------------------------------------------------


class Step(Enum):
    AUTHENTICATE = "authenticate"
    REGISTER = "register"
    CLAIM = "claim"


class RetryLater(Exception):
    """This attempt failed in a way that a later one may not: back off and reconnect."""


def first_step(explicit_id: bool, has_credential: bool) -> Step:
    if has_credential:
        return Step.AUTHENTICATE
    return Step.REGISTER if explicit_id else Step.CLAIM


def step_after_refusal(explicit_id: bool, step: Step, refusal: Error, *, may_enrol: bool = True) -> Step:
    """What to try next on the same connection after `step` was refused.

    Raises RetryLater for a transient refusal and AuthRefused when nothing will help.
    A client that may not enrol (no enrolment key: a CP provisioned by the operator,
    such as an OCPP charger) takes a forgotten CP as a refusal.
    """
    if refusal.reason in TRANSIENT:
        raise RetryLater(f"{step.value}: {refusal.reason.value}: {refusal.detail}")
    if step is Step.AUTHENTICATE and may_enrol:
        forgotten = {Reason.UNKNOWN_CP, Reason.NOT_ENROLLED}
        if explicit_id and refusal.reason in forgotten:
            return Step.REGISTER
        if not explicit_id and refusal.reason in {*forgotten, Reason.BAD_CREDENTIAL}:
            return Step.CLAIM  # our old auto id went to another replica, or was removed
    raise AuthRefused(refusal.reason, refusal.detail)


# --- the client ----------------------------------------------------------------------------


_Link = FramedConnection[Record]
"""One connection to central-auth, used one request at a time."""


class LinkLost(Exception):
    """The connection broke, or the server stopped answering in time."""


class LinkTimeout(LinkLost):
    """The server did not answer in time (the connection may still be open)."""


class LinkProblem(LinkLost):
    """A failed attempt, in one sentence. `attention`: a person must change something
    (TLS set-up, addresses); the others (a refused connection...) may cure themselves."""

    def __init__(self, sentence: str, attention: bool) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.attention = attention


class _ClosedEarly(Exception):
    """central-auth closed the connection before any answer (or during the handshake)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


@dataclass(frozen=True)
class _Session:
    cp_id: str
    connection_id: str
    heartbeat_interval: float
    heartbeat_timeout: float


class AuthClient:
    """Keeps one CP authenticated with central-auth and heart-beating, reconnecting by itself.

    Read `cp_id`, `state` and `connection_id` at any time; `wait_authenticated()`
    waits for the next authenticated session. One `run` at a time per client.
    """

    def __init__(
        self,
        address: str | tuple[str, int],
        *,
        enrolment_key: str | None,
        profile: CpProfile | None = None,
        cp_id: str | None = None,
        credentials: CredentialStore | None = None,
        backoff: Backoff = Backoff(),
        request_timeout: float = 10.0,
        on_state: Callable[[LinkState, str | None], None] | None = None,
        tls: CentralTls | None = None,
        on_problem: Callable[[str | None], None] | None = None,
    ) -> None:
        self._host, self._port = _split_address(address)
        if enrolment_key is None and (cp_id is None or credentials is None):
            raise ValueError("a CP without an enrolment key needs its id and its credential")
        if enrolment_key is not None and profile is None:
            raise ValueError("a CP that may enrol needs the profile it enrols with")
        self._enrolment_key = enrolment_key
        self._profile = profile
        self._explicit_id = cp_id is not None
        self._cp_id = cp_id
        self._credentials = credentials or MemoryCredentialStore()
        self._backoff = backoff
        self._request_timeout = request_timeout
        self._on_state = on_state
        self._tls = tls
        self._on_problem = on_problem
        self._problem: str | None = None
        self._closed_in_a_row = 0
        self._state = LinkState.STOPPED
        self._session: _Session | None = None
        self._authenticated = asyncio.Event()
        self._nudged = asyncio.Event()

    @property
    def cp_id(self) -> str | None:
        """The CP's id: the explicit one, or the one claimed (None before the first claim)."""
        return self._cp_id

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def problem(self) -> str | None:
        """The sentence for the last failure a person must fix; None once authenticated again."""
        return self._problem

    @property
    def connection_id(self) -> str | None:
        """The server's name for the current session (None when not authenticated)."""
        return self._session.connection_id if self._session else None

    @property
    def heartbeat_interval(self) -> float | None:
        """Seconds between heartbeats, as the server last set them (None when not authenticated)."""
        return self._session.heartbeat_interval if self._session else None

    async def wait_authenticated(self) -> str:
        """Wait until a session is open; returns the CP's id. Bound it with asyncio.timeout."""
        await self._authenticated.wait()
        assert self._cp_id is not None
        return self._cp_id

    def nudge(self) -> None:
        """Send the next heartbeat now: the engine's health has just changed."""
        self._nudged.set()

    async def run(self, health: HealthProbe) -> None:
        """Connect, identify, heart-beat; reconnect when the link is lost. Runs until
        cancelled (then closes the connection) or until AuthRefused."""
        try:
            while True:
                link, session = await self._connect_with_backoff(health)
                try:
                    await self._heartbeat(link, session, health)
                except (LinkLost, OSError) as error:
                    log.warning("lost central-auth (%s); reconnecting", error)
                finally:
                    self._session = None
                    self._authenticated.clear()
                    link.close()
                    self._set_state(LinkState.CONNECTING)
                # Spread the reconnections of many CPs after a central-auth restart.
                await asyncio.sleep(random.uniform(0, self._backoff.initial))
        finally:
            self._session = None
            self._authenticated.clear()
            self._set_state(LinkState.STOPPED)

    # --- connecting --------------------------------------------------------------------

    async def _connect_with_backoff(self, health: HealthProbe) -> tuple[_Link, _Session]:
        self._set_state(LinkState.CONNECTING)
        retrying = AsyncRetrying(
            wait=backoff_wait(self._backoff.initial, self._backoff.maximum, self._backoff.jitter),
            retry=retry_if_exception_type((OSError, TimeoutError, LinkLost, RetryLater)),
            before_sleep=self._backing_off,
        )
        async for attempt in retrying:
            with attempt:
                return await self._connect(health)
        raise AssertionError("tenacity retries forever")

    def _backing_off(self, retry: RetryCallState) -> None:
        self._set_state(LinkState.BACKING_OFF)
        error = retry.outcome.exception() if retry.outcome else None
        if isinstance(error, LinkProblem) and error.attention:
            self._report(error.sentence)
        pause = retry.next_action.sleep if retry.next_action else 0.0
        log.info("central-auth attempt %d failed (%s); next in %.1f s", retry.attempt_number, error, pause)

    async def _connect(self, health: HealthProbe) -> tuple[_Link, _Session]:
        """One attempt: open a connection and identify the CP on it."""
        self._set_state(LinkState.CONNECTING)
        try:
            link = await self._open()
            session = await self._identify_on(link, _probe(health))
        except _ClosedEarly as closed:
            # Said once, this may be central-auth stopping; twice in a row, it is the set-up.
            self._closed_in_a_row += 1
            raise LinkProblem(closed.sentence, attention=self._closed_in_a_row > 1) from None
        except BaseException:
            self._closed_in_a_row = 0
            raise
        self._closed_in_a_row = 0
        self._session = session
        self._cp_id = session.cp_id
        self._set_state(LinkState.AUTHENTICATED)
        self._authenticated.set()
        self._report(None)
        log.info("authenticated as %s (%s)", session.cp_id, session.connection_id)
        return link, session

    async def _identify_on(self, link: _Link, health: EngineHealth) -> _Session:
        try:
            return await self._identify(link, health)
        except (LinkLost, OSError) as error:
            link.close()
            if self._tls is None and not link.arrived and not isinstance(error, LinkTimeout):
                raise _ClosedEarly(explain_no_answer(self._host, self._port)) from error
            raise
        except BaseException:
            link.close()
            raise

    async def _open(self) -> _Link:
        """A connection to central-auth, inside TLS when configured; LinkProblem if not."""
        host, port, timeout = self._host, self._port, self._request_timeout
        try:  # the CA file is read at each attempt: copying the right one in place cures
            context = self._tls.context() if self._tls is not None else None
        except TlsSetupError as error:
            raise LinkProblem(str(error), attention=True) from None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            sentence = f"central-auth at {host}:{port} did not accept a connection within {timeout:g} s"
            raise LinkProblem(sentence, attention=False) from None
        except OSError as error:
            sentence = f"cannot connect to central-auth at {host}:{port}: {error.strerror or error}"
            raise LinkProblem(sentence, attention=False) from None
        if context is not None and self._tls is not None:
            try:
                async with asyncio.timeout(timeout):
                    await writer.start_tls(context, server_hostname=host)
            except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
                writer.transport.abort()
                sentence = explain_tls_failure(error, host, port, self._tls.ca_file, timeout)
                if isinstance(error, ssl.SSLEOFError | ConnectionError):
                    raise _ClosedEarly(sentence) from None
                raise LinkProblem(sentence, attention=True) from None
            except BaseException:
                writer.transport.abort()
                raise
        return FramedConnection(reader, writer, CODEC)

    def _report(self, problem: str | None) -> None:
        """Tell `on_problem` when the sentence changes (None: solved)."""
        if problem == self._problem:
            return
        self._problem = problem
        if problem is not None:
            log.warning("%s", problem)
        if self._on_problem is not None:
            self._on_problem(problem)

    async def _identify(self, link: _Link, health: EngineHealth) -> _Session:
        """Run the identification plan on a fresh connection until a session opens."""
        has_credential = self._known_credential() is not None
        may_enrol = self._enrolment_key is not None
        step = first_step(self._explicit_id, has_credential) if may_enrol else Step.AUTHENTICATE
        while True:
            reply = await _ask(link, self._request_for(step, health), self._request_timeout)
            match reply:
                case Registered(cp_id=cp_id, credential=credential):
                    self._credentials.save(cp_id, credential)
                    step = Step.AUTHENTICATE
                case Authenticated() | Claimed():
                    if isinstance(reply, Claimed):
                        self._credentials.save(reply.cp_id, reply.credential)
                    return _Session(
                        reply.cp_id, reply.connection_id, reply.heartbeat_interval, reply.heartbeat_timeout
                    )
                case Error():
                    step = step_after_refusal(self._explicit_id, step, reply, may_enrol=may_enrol)
                case _:
                    raise LinkLost(f"answered {step.value} with {type(reply).__name__}")

    def _request_for(self, step: Step, health: EngineHealth) -> Record:
        if step is Step.AUTHENTICATE:
            credential = self._known_credential()
            assert self._cp_id is not None
            if credential is None:  # only a CP that may not enrol gets here without one
                raise AuthRefused(Reason.BAD_CREDENTIAL, f"no credential for {self._cp_id}")
            return Authenticate(cp_id=self._cp_id, credential=credential, engine_health=health)
        profile, enrolment_key = self._profile, self._enrolment_key
        assert profile is not None
        assert enrolment_key is not None
        if step is Step.REGISTER:
            assert self._cp_id is not None
            return Register(
                enrolment_key=enrolment_key,
                cp_id=self._cp_id,
                location=profile.location,
                price_per_kwh=profile.price_per_kwh,
            )
        return Claim(
            enrolment_key=enrolment_key,
            location=profile.location,
            price_per_kwh=profile.price_per_kwh,
            engine_health=health,
        )

    def _known_credential(self) -> str | None:
        return self._credentials.load(self._cp_id) if self._cp_id is not None else None

    # --- heart-beating -----------------------------------------------------------------

    async def _heartbeat(self, link: _Link, session: _Session, health: HealthProbe) -> None:
        """Send a heartbeat every interval (or when nudged) until the link breaks."""
        while True:
            self._nudged.clear()
            reply = await _ask(link, Heartbeat(engine_health=_probe(health)), session.heartbeat_timeout)
            if not isinstance(reply, HeartbeatAck):
                raise LinkLost(f"heartbeat answered with {reply!r}")
            session = self._adopt_terms(session, reply)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(session.heartbeat_interval):
                    await self._nudged.wait()

    def _adopt_terms(self, session: _Session, ack: HeartbeatAck) -> _Session:
        """The server stretches the terms as more CPs connect; its ack says when."""
        if ack.heartbeat_interval is None or ack.heartbeat_timeout is None:
            return session
        self._session = replace(
            session, heartbeat_interval=ack.heartbeat_interval, heartbeat_timeout=ack.heartbeat_timeout
        )
        log.info("heartbeat every %g s from now on", ack.heartbeat_interval)
        return self._session

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        self._state = state
        if self._on_state is not None:
            self._on_state(state, self._cp_id)


async def _ask(link: _Link, record: Record, timeout: float) -> Record:
    """Send `record` and return the answer; LinkLost if none comes within `timeout` s."""
    try:
        return await link.request(record, timeout)
    except TimeoutError:
        raise LinkTimeout(f"no answer to {type(record).__name__} within {timeout:g} s") from None
    except PeerClosed:
        raise LinkLost("central-auth closed the connection") from None
    except (FramingError, WireError) as error:
        raise LinkLost(f"unreadable answer: {error}") from None


def _probe(health: HealthProbe) -> EngineHealth:
    """The engine's health; a probe that fails reports KO rather than killing the link."""
    try:
        return EngineHealth(health())
    except Exception:
        log.exception("engine health probe failed; reporting KO")
        return EngineHealth.KO


def _split_address(address: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(address, tuple):
        return address
    try:
        host, port = HostPort.parse(address)
    except ValueError:
        raise ValueError(f"central-auth address {address!r} is not HOST:PORT") from None
    return host, port
