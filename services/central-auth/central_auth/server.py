"""central-auth's TCP side: connections, frames, deadlines and limits.

Everything a peer can do to hold resources is bounded here: the number of
connections (over the cap a newcomer is told `server_busy` and closed), the bytes
read at once (one chunk, plus at most one frame in the decoder), the time to
authenticate, to finish a frame, to send the next heartbeat and to take an answer.
A peer that breaks a rule gets an `Error` saying which, when it can still be told,
and only its own connection is closed.

The TLS listener (for monitors on other hosts) serves the same conversation once a
TLS handshake has succeeded. Connections in their handshake count toward the cap; a
newcomer over the cap is closed before its handshake (which would cost a signature),
and the handshake is part of the connect-to-authenticated deadline. A failed handshake
costs one log line per kind and peer host (central_auth.tls.FailureLog), and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable

from central_auth.service import AuthService, Conversation
from central_auth.tls import FailureLog, describe_handshake_failure
from evcharging.framed import READ_CHUNK, FramedConnection, FrameTimeout, PeerClosed, WriteTimeout
from evcharging.framing import FramingError
from evcharging.wire import CODEC, Error, Reason, Record, WireError

log = logging.getLogger(__name__)

WRITE_BUFFER_HIGH = 64 * 1024
LISTEN_BACKLOG = 2048


_Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ConnectionEnded(Exception):
    """This connection is over; `detail` says why (it becomes CpDisconnected.detail)."""

    def __init__(self, detail: str, tell: Error | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.tell = tell


class AuthServer:
    def __init__(self, service: AuthService, host: str = "0.0.0.0") -> None:
        self._service = service
        self._host = host
        self._servers: list[asyncio.Server] = []
        self._tls: ssl.SSLContext | None = None
        self._handshaking = 0
        self._handshake_failures = FailureLog()

    async def start(self, port: int) -> int:
        """Listen on `port` (0: any free one); returns the port."""
        return await self._listen(self._serve, port, "")

    async def start_tls(self, port: int, context: ssl.SSLContext) -> int:
        """Listen on `port` for the same protocol inside TLS; returns the port."""
        self._tls = context
        return await self._listen(self._serve_tls, port, " (TLS)")

    async def _listen(self, serve: _Handler, port: int, kind: str) -> int:
        server = await asyncio.start_server(serve, self._host, port, backlog=LISTEN_BACKLOG, limit=READ_CHUNK)
        self._servers.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        log.info("listening on %s:%d%s", self._host, bound, kind)
        return bound

    async def stop(self) -> None:
        """Stop accepting, then end every connection (each publishes its CP's disconnection)."""
        for server in self._servers:
            server.close()
        self._service.close_all("central-auth stopping")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                for server in self._servers:
                    await server.wait_closed()

    @property
    def _open(self) -> int:
        return self._service.connections + self._handshaking

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # No await before start_tls: the client's first bytes must reach the TLS layer.
        accepted = self._service.clock()
        peer = _peer(writer)
        if self._open >= self._service.settings.max_connections:
            log.warning("%s: refused before the TLS handshake, %d connections open", peer, self._open)
            writer.transport.abort()
            return
        assert self._tls is not None
        deadline = self._service.settings.deadlines.handshake
        self._handshaking += 1
        try:
            async with asyncio.timeout(deadline):
                await writer.start_tls(self._tls)
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            self._handshake_failed(writer, peer, error, deadline)
            return
        finally:
            self._handshaking -= 1
        await self._serve(reader, writer, opened_at=accepted)

    def _handshake_failed(
        self, writer: asyncio.StreamWriter, peer: str, error: BaseException, deadline: float
    ) -> None:
        writer.transport.abort()
        what = describe_handshake_failure(error, deadline)
        untold = self._handshake_failures.should_tell(peer.rpartition(":")[0] or peer, what)
        if untold is not None:
            since = f" ({untold} more like it since last told)" if untold else ""
            log.warning("%s: TLS handshake failed: %s%s", peer, what, since)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opened_at: float | None = None
    ) -> None:
        peer = _peer(writer)
        writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        deadlines = self._service.settings.deadlines
        connection = FramedConnection(
            reader,
            writer,
            CODEC,
            read_chunk=READ_CHUNK,
            write_timeout=deadlines.write,
            frame_timeout=deadlines.frame,
            clock=self._service.clock,
        )
        if self._open >= self._service.settings.max_connections:
            log.warning("%s: refused, %d connections open", peer, self._open)
            await _send_then_close(
                connection, Error(reason=Reason.SERVER_BUSY, detail="too many connections")
            )
            return
        conversation = self._service.open_conversation(opened_at)
        detail = "connection closed by the peer"
        try:
            await self._converse(conversation, connection)
        except ConnectionEnded as ended:
            detail = ended.detail
            log.info("%s %s: closing: %s", peer, conversation.connection_id, detail)
            if ended.tell is not None:
                await _send_then_close(connection, ended.tell)
        except (ConnectionError, OSError) as error:
            detail = f"connection lost: {error}"
        except Exception:
            log.exception("%s %s: unexpected failure", peer, conversation.connection_id)
            detail = "central-auth internal error"
        finally:
            conversation.close(detail)
            connection.close()

    async def _converse(self, conversation: Conversation, connection: FramedConnection[Record]) -> None:
        """Answer requests until the peer leaves or breaks a rule (then raise ConnectionEnded)."""
        while True:
            expiry = conversation.expiry()
            try:
                request = await connection.receive(deadline=expiry.at)
            except WireError as error:  # a frame, but no record: say so, and go on with the next
                log.info("%s: refused a frame: %s", conversation.connection_id, error)
                reply: Record = Error(reason=error.reason, detail=error.detail)
            except PeerClosed:
                return
            except FramingError as error:
                reason = Reason(error.fault.value)
                raise ConnectionEnded(
                    f"bad frame: {error}", Error(reason=reason, detail=error.detail)
                ) from None
            except FrameTimeout as error:
                raise ConnectionEnded(str(error), Error(reason=Reason.TIMEOUT, detail=str(error))) from None
            except TimeoutError:
                raise ConnectionEnded(
                    expiry.detail, Error(reason=expiry.reason, detail=expiry.detail)
                ) from None
            else:
                reply = await conversation.answer(request)
            try:
                await connection.send(reply)
            except WriteTimeout:
                raise ConnectionEnded("the peer does not read its answers") from None


async def _send_then_close(connection: FramedConnection[Record], record: Record) -> None:
    """Best effort: the peer may be gone, or not reading."""
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        await connection.send(record)
    connection.close()


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
