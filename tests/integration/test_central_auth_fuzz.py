"""Bad input central-auth must survive: each case answers or closes that one
connection, logs why, and leaves the server serving everybody else."""

from __future__ import annotations

import asyncio
import random
import resource
import socket
import struct
import time
from collections.abc import Iterator

import psutil
import pytest

from evcharging.framing import MAX_PAYLOAD, FrameDecoder, encode_frame
from evcharging.wire import Error, FrameType, Ping, Pong, Reason
from tests.support.central_auth import AuthProcess, TestRun, WireClient, central_auth
from tests.support.stack import Infra

pytestmark = pytest.mark.integration

HANDSHAKE_TIMEOUT = 2.0
FRAME_TIMEOUT = 1.0
CROWD = 1000


@pytest.fixture(scope="module")
def server(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthProcess]:
    run = TestRun()
    log = tmp_path_factory.mktemp("central-auth") / "central-auth.log"
    options = {"AUTH_HANDSHAKE_TIMEOUT": str(HANDSHAKE_TIMEOUT), "AUTH_FRAME_TIMEOUT": str(FRAME_TIMEOUT)}
    with central_auth(infra, run, log, **options) as process:
        yield process


@pytest.fixture(autouse=True)
def still_serving(server: AuthProcess) -> Iterator[None]:
    """After every case, the server must still answer a newcomer."""
    yield
    with WireClient(server.port) as newcomer:
        assert isinstance(newcomer.request(Ping()), Pong)


def _closing_words(server: AuthProcess, data: bytes) -> list[Error]:
    """Send `data` on a fresh connection; what the server says before closing it."""
    with WireClient(server.port) as client:
        client.send_raw(data)
        said = client.receive_until_closed()
    assert all(isinstance(record, Error) for record in said), said
    return [record for record in said if isinstance(record, Error)]


def test_random_bytes_are_refused_and_the_connection_closed(server: AuthProcess) -> None:
    noise = random.Random(7).randbytes(4096)
    (error,) = _closing_words(server, b"GET / HTTP/1.1\r\n" + noise)
    assert error.reason is Reason.BAD_MAGIC
    assert "bad_magic" in server.log()


def test_an_oversized_frame_is_refused_from_its_header_alone(server: AuthProcess) -> None:
    header = struct.pack(">2sBBII", b"EV", 1, 0x01, 10 * MAX_PAYLOAD, 0)
    (error,) = _closing_words(server, header)  # no payload sent: the header is enough
    assert error.reason is Reason.FRAME_TOO_LARGE


def test_a_bad_checksum_is_refused(server: AuthProcess) -> None:
    frame = bytearray(encode_frame(0x01, b"{}"))
    frame[-1] ^= 0xFF
    (error,) = _closing_words(server, bytes(frame))
    assert error.reason is Reason.BAD_CHECKSUM


def test_a_valid_frame_of_unknown_type_is_answered_and_the_connection_kept(server: AuthProcess) -> None:
    with WireClient(server.port) as client:
        client.send_raw(encode_frame(0x55, b"{}"))
        reply = client.receive()
        assert isinstance(reply, Error)
        assert reply.reason is Reason.UNKNOWN_TYPE
        assert isinstance(client.request(Ping()), Pong), (
            "the stream was in sync: the connection should live on"
        )


def test_a_frame_cut_in_half_is_closed_after_the_frame_deadline(server: AuthProcess) -> None:
    whole = encode_frame(0x01, b"{}" + b" " * 100)
    started = time.monotonic()
    (error,) = _closing_words(server, whole[: len(whole) // 2])
    assert error.reason is Reason.TIMEOUT
    assert "frame" in error.detail
    assert FRAME_TIMEOUT - 0.1 <= time.monotonic() - started <= FRAME_TIMEOUT + 1.5


def test_a_client_that_sends_nothing_is_closed_after_the_handshake_deadline(server: AuthProcess) -> None:
    started = time.monotonic()
    (error,) = _closing_words(server, b"")
    assert error.reason is Reason.TIMEOUT
    assert HANDSHAKE_TIMEOUT - 0.1 <= time.monotonic() - started <= HANDSHAKE_TIMEOUT + 1.5


def test_a_byte_a_second_cannot_keep_a_frame_open(server: AuthProcess) -> None:
    frame = encode_frame(0x01, b"{}")
    started = time.monotonic()
    with WireClient(server.port) as client:
        client.sock.settimeout(1.0)  # the pace: one byte, then up to a second for the server to give up
        said = None
        for byte in frame * 4:
            try:
                client.send_raw(bytes([byte]))
                said = client.receive()
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            break
    elapsed = time.monotonic() - started
    assert isinstance(said, Error)
    assert said.reason is Reason.TIMEOUT
    assert elapsed <= FRAME_TIMEOUT + 2.5, f"a trickle held the connection for {elapsed:.1f} s"


def test_a_thousand_connections_at_once_are_all_served_with_bounded_memory(server: AuthProcess) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CROWD + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * CROWD), hard))
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss

    async def one(ping: bytes, stalled: bytes) -> tuple[bool, bool]:
        """Served (a Pong came back) and then closed for the stalled frame (an Error, then EOF)?"""
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(ping + stalled)  # a Ping, then half of the largest frame, left hanging
            await writer.drain()
            decoder = FrameDecoder()
            frames = decoder.feed(await reader.read())  # everything until the server closes
            types = [frame.type for frame in frames]
            return types[:1] == [FrameType.PONG], types[1:] == [FrameType.ERROR]
        finally:
            writer.close()

    async def crowd() -> tuple[list[tuple[bool, bool]], int]:
        ping = encode_frame(0x01, b"{}")
        stalled = encode_frame(0x01, b" " * MAX_PAYLOAD)[: MAX_PAYLOAD // 2]
        tasks = [asyncio.create_task(one(ping, stalled)) for _ in range(CROWD)]
        peak = 0
        async with asyncio.timeout(60):
            while not all(task.done() for task in tasks):
                peak = max(peak, process.memory_info().rss)
                await asyncio.sleep(0.05)  # sampling the server's memory, not synchronising
        return [task.result() for task in tasks], peak

    results, peak = asyncio.run(crowd())
    assert all(served for served, _ in results), f"{sum(not s for s, _ in results)} connections not served"
    assert all(closed for _, closed in results), "a stalled connection was not closed by its frame deadline"
    growth = peak - before
    assert growth < 150 * 2**20, f"the server grew by {growth / 2**20:.0f} MiB for {CROWD} connections"


def test_connections_over_the_cap_are_told_the_server_is_busy(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = TestRun()
    log = tmp_path_factory.mktemp("capped") / "central-auth.log"
    with central_auth(infra, run, log, AUTH_MAX_CONNECTIONS="20") as capped:
        held = [socket.create_connection(("127.0.0.1", capped.port)) for _ in range(20)]
        try:
            with WireClient(capped.port) as extra:
                words = extra.receive_until_closed()
            assert [getattr(record, "reason", None) for record in words] == [Reason.SERVER_BUSY]
        finally:
            for sock in held:
                sock.close()
        with WireClient(capped.port) as later:
            assert isinstance(later.request(Ping()), Pong), "freed places must be usable again"
