"""The gateway's WebSocket endpoint: OCPP 1.6J under security profile 2.

A charger connects to `wss://HOST:9000/ocpp/<charger id>` (any path whose last part
is its id) asking for the `ocpp1.6` sub-protocol, with HTTP Basic authentication:
its id as the user name, its password (the CP credential an operator provisioned).
The handshake is where it is admitted, as OCPP-J asks:

- no id in the path, or one the network cannot take as a CP id: 404;
- no `ocpp1.6` among the sub-protocols it offers: 400;
- no credentials, a user name that is not the path's id, or a password central-auth
  refuses: 401 — the charger is not a CP of this network;
- central-auth not answering within OCPP_ADMIT_WITHIN: 503 (the charger retries).

Once admitted, the charger is a CP with an open session at central-auth for as long
as its WebSocket lasts; a ping every OCPP_PING_INTERVAL seconds tells a charger that
went silent, and its session ends with the connection. The central's commands for a
charger are handed to its conversation; those for a charger of this gateway that is
not connected wait for it (PENDING_COMMANDS at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import ssl
from collections import deque
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from websockets import ConnectionClosed, InvalidHeader
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from evcharging import messages as m
from evcharging.config import is_identifier
from ocpp_gateway.central import CentralLink, CpSession, Refused, Unreachable
from ocpp_gateway.charger import Charger
from ocpp_gateway.ledger import Ledger
from ocpp_gateway.network import Outbox
from ocpp_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

OCPP16 = Subprotocol("ocpp1.6")
MAX_MESSAGE = 64 * 1024
"""No OCPP 1.6 call a charger sends comes near this; a bigger one closes the connection."""
PENDING_COMMANDS = 16


SessionFactory = Callable[[GatewaySettings, str, str], CpSession]


class Rejection(Exception):
    """The handshake's answer when a charger is not admitted."""

    def __init__(self, status: http.HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Gateway:
    """Admits chargers and runs one OCPP conversation per charger."""

    def __init__(
        self,
        settings: GatewaySettings,
        outbox: Outbox,
        ledger: Ledger,
        session_for: SessionFactory = CentralLink,
    ) -> None:
        """`session_for(settings, charger id, password)` makes a charger's CP session;
        `outbox` takes what chargers report, `ledger` keeps their transactions."""
        self._settings = settings
        self._outbox = outbox
        self._ledger = ledger
        self._session_for = session_for
        self._admitted: dict[ServerConnection, CpSession] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._chargers: dict[str, Charger] = {}
        self._pending: dict[str, deque[m.Message]] = {}

    def serves(self, cp_id: str) -> bool:
        """Whether `cp_id` is a charger of this gateway: connected, or known to it."""
        return cp_id in self._chargers or cp_id in self._pending or cp_id in self._ledger

    async def on_command(self, command: m.Message) -> None:
        """A command of the central (comandos_cp): to the charger, or kept for it; the
        denial of a request made at a charger, to the request waiting for it."""
        cp_id = getattr(command, "cp_id", None)
        if cp_id is None:
            return
        charger = self._chargers.get(cp_id)
        if isinstance(command, m.SupplyDenied):
            if charger is not None:
                charger.supplies.denied(command)
        elif charger is not None:
            charger.command(command)
        elif self.serves(cp_id):
            self._pending.setdefault(cp_id, deque(maxlen=PENDING_COMMANDS)).append(command)

    async def start(self, tls: ssl.SSLContext, host: str = "0.0.0.0") -> Server:
        settings = self._settings
        server = await serve(
            self._converse,
            host,
            settings.port,
            ssl=tls,
            subprotocols=[OCPP16],
            process_request=self._admit,
            process_response=self._answered,
            ping_interval=None,  # _answers_pings
            max_size=MAX_MESSAGE,
        )
        log.info("OCPP 1.6J chargers admitted on wss://%s:%d", host, settings.port)
        return server

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            self._admitted[connection] = await self._link_for(request)
        except Rejection as rejection:
            log.warning("%s: %s", _peer(connection), rejection.reason)
            response = connection.respond(rejection.status, rejection.reason + "\n")
            if rejection.status is http.HTTPStatus.UNAUTHORIZED:
                response.headers["WWW-Authenticate"] = build_www_authenticate_basic("EVCharging OCPP")
            return response
        return None

    async def _link_for(self, request: Request) -> CpSession:
        """The charger's open CP session, or the Rejection that says why it has none."""
        charger_id = charger_id_of(request.path)
        if not is_identifier(charger_id):
            raise Rejection(
                http.HTTPStatus.NOT_FOUND,
                f"{request.path!r} does not end with a charger id (1-32 letters, digits, '_', '.' or '-')",
            )
        if OCPP16 not in _offered(request.headers):
            raise Rejection(
                http.HTTPStatus.BAD_REQUEST, f"{charger_id} does not offer the ocpp1.6 sub-protocol"
            )
        password = _password_of(request.headers, charger_id)
        link = self._session_for(self._settings, charger_id, password)
        try:
            await link.open()
        except Refused as refused:
            raise Rejection(http.HTTPStatus.UNAUTHORIZED, str(refused)) from None
        except Unreachable as unreachable:
            raise Rejection(http.HTTPStatus.SERVICE_UNAVAILABLE, str(unreachable)) from None
        return link

    def _answered(self, connection: ServerConnection, _request: Request, response: Response) -> None:
        """A handshake that failed after the charger was admitted must not leave its session open."""
        if response.status_code != http.HTTPStatus.SWITCHING_PROTOCOLS:
            link = self._admitted.pop(connection, None)
            if link is not None:
                closing = asyncio.get_running_loop().create_task(link.close())
                self._closing.add(closing)  # the loop keeps only a weak reference to a task
                closing.add_done_callback(self._closing.discard)

    async def _converse(self, connection: ServerConnection) -> None:
        link = self._admitted.pop(connection)
        peer = _peer(connection)
        supplies = (self._outbox, self._ledger, self._settings.authorize_within)
        charger = Charger(connection, link, self._settings.heartbeat_interval, supplies)
        self._chargers[link.cp_id] = charger
        for command in self._pending.setdefault(link.cp_id, deque(maxlen=PENDING_COMMANDS)):
            charger.command(command)
        self._pending[link.cp_id].clear()
        log.info("%s: charger %s connected", peer, link.cp_id)
        conversation = asyncio.create_task(charger.converse())
        pinging = asyncio.create_task(self._answers_pings(connection))
        try:
            await asyncio.wait({conversation, pinging, link.ended}, return_when=asyncio.FIRST_COMPLETED)
            self._let_go(charger)  # commands from now on wait for the next connection
            await link.close()  # the CP is desconectado now, whatever the socket does next
            if pinging.done() and pinging.exception() is None:
                log.warning("%s: charger %s stopped answering pings: dropped", peer, link.cp_id)
                connection.transport.abort()
            elif link.ended.done() and not conversation.done():
                await connection.close(1008, "central-auth no longer accepts this charger")
        finally:
            for task in (conversation, pinging):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task
            self._let_go(charger)
            await link.close()
            log.info("%s: charger %s gone", peer, link.cp_id)

    def _let_go(self, charger: Charger) -> None:
        if self._chargers.get(charger.id) is charger:
            del self._chargers[charger.id]

    async def _answers_pings(self, connection: ServerConnection) -> None:
        """Ping every OCPP_PING_INTERVAL; return once a pong is OCPP_PING_TIMEOUT late.

        Our own keepalive rather than the library's: that one closes the connection with a
        closing handshake a silent peer never answers, which held a lost charger's CP
        connected for the 10 s of its close timeout; here its session ends at once."""
        interval, timeout = self._settings.ping_interval, self._settings.ping_timeout
        while True:
            await asyncio.sleep(interval)
            pong = await connection.ping()
            try:
                async with asyncio.timeout(timeout):
                    await pong
            except TimeoutError:
                return


def charger_id_of(path: str) -> str:
    """The charger's id: the last part of the URL's path (OCPP-J), percent-decoded."""
    return unquote(urlsplit(path).path.rstrip("/").rpartition("/")[2])


def _offered(headers: Headers) -> list[str]:
    return [
        protocol.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for protocol in value.split(",")
    ]


def _password_of(headers: Headers, charger_id: str) -> str:
    """The Basic-authentication password of `charger_id`; a Rejection without one."""
    try:
        username, password = parse_authorization_basic(headers["Authorization"])
    except KeyError:
        raise Rejection(http.HTTPStatus.UNAUTHORIZED, f"{charger_id} sent no credentials") from None
    except InvalidHeader:
        raise Rejection(http.HTTPStatus.UNAUTHORIZED, f"{charger_id} sent unreadable credentials") from None
    if username != charger_id:
        raise Rejection(
            http.HTTPStatus.UNAUTHORIZED, f"user {username!r} is not the charger of the path, {charger_id}"
        )
    return password


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 or later with the central's certificate; SystemExit naming the file that cannot serve."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as error:
        raise SystemExit(
            f"configuration error: OCPP_TLS_CERT/OCPP_TLS_KEY: {error.filename} does not exist; "
            "'make pki' makes the central's certificate (OCPP security profile 2 needs TLS)"
        ) from None
    except (OSError, ssl.SSLError) as error:
        raise SystemExit(f"configuration error: OCPP_TLS_CERT={cert}, OCPP_TLS_KEY={key}: {error}") from None
    return context


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
