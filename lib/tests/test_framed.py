"""The framed connection over a real local socket: requests and answers, a bad record
among good ones, a lost framing, the deadlines, and a peer that leaves or stops reading."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from evcharging import wire
from evcharging.framed import FramedConnection, FrameTimeout, PeerClosed, WriteTimeout
from evcharging.framing import FramingError, FramingFault, encode_frame
from evcharging.record_codec import FramedRecord, RecordCodec, RecordFault


class Say(FramedRecord):
    frame_type: ClassVar[int] = 0x01
    text: str


class Heard(FramedRecord):
    frame_type: ClassVar[int] = 0x02
    text: str


class TalkError(ValueError):
    def __init__(self, fault: RecordFault, detail: str) -> None:
        super().__init__(f"{fault.value}: {detail}")
        self.fault = fault


Talk = Say | Heard
CODEC: RecordCodec[Talk] = RecordCodec((Say, Heard), error=TalkError)

Ends = tuple[FramedConnection[Talk], asyncio.StreamReader, asyncio.StreamWriter]
"""The connection under test, and the raw stream of its peer."""


async def _pair(**options: Any) -> Ends:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    peer_reader, peer_writer = await asyncio.open_connection(sock=theirs)
    return FramedConnection(reader, writer, CODEC, **options), peer_reader, peer_writer


def _run(test: Callable[[Ends], Awaitable[None]], **options: Any) -> None:
    async def scenario() -> None:
        ends = await _pair(**options)
        try:
            async with asyncio.timeout(10):
                await test(ends)
        finally:
            ends[0].abort()
            ends[2].transport.abort()

    asyncio.run(scenario())


def test_a_request_gets_its_answer_and_the_other_side_reads_records() -> None:
    async def test(ends: Ends) -> None:
        client, peer_reader, peer_writer = ends
        server = FramedConnection(peer_reader, peer_writer, CODEC)

        async def answer_one() -> None:
            request = await server.receive(timeout=5)
            assert isinstance(request, Say)
            await server.send(Heard(text=request.text.upper()))

        answering = asyncio.create_task(answer_one())
        assert not client.arrived
        assert await client.request(Say(text="hello"), timeout=5) == Heard(text="HELLO")
        assert client.arrived
        await answering

    _run(test)


def test_requests_made_at_once_each_get_their_own_answer() -> None:
    async def test(ends: Ends) -> None:
        client, peer_reader, peer_writer = ends
        server = FramedConnection(peer_reader, peer_writer, CODEC)

        async def echo(count: int) -> None:
            for _ in range(count):
                request = await server.receive(timeout=5)
                assert isinstance(request, Say)
                await server.send(Heard(text=request.text))

        echoing = asyncio.create_task(echo(3))
        answers = await asyncio.gather(*(client.request(Say(text=str(n)), timeout=5) for n in range(3)))
        assert answers == [Heard(text=str(n)) for n in range(3)]
        await echoing

    _run(test)


def test_an_answer_too_late_for_its_request_is_not_taken_for_the_next_ones() -> None:
    async def test(ends: Ends) -> None:
        client, peer_reader, peer_writer = ends
        server = FramedConnection(peer_reader, peer_writer, CODEC)
        with pytest.raises(TimeoutError):
            await client.request(Say(text="first"), timeout=0.05)
        second = asyncio.create_task(client.request(Say(text="second"), timeout=5))
        assert await server.receive(timeout=5) == Say(text="first")
        assert await server.receive(timeout=5) == Say(text="second")
        await server.send(Heard(text="first"))
        await server.send(Heard(text="second"))
        assert await second == Heard(text="second")

    _run(test)


def test_a_bad_record_raises_for_its_frame_alone_and_the_next_one_is_read() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        peer_writer.write(
            encode_frame(0x55, b"{}")  # no record has this type
            + encode_frame(Say.frame_type, b'{"words": "wrong field"}')
            + CODEC.encode(Say(text="fine"))
        )
        with pytest.raises(TalkError) as unknown:
            await connection.receive(timeout=5)
        assert unknown.value.fault is RecordFault.UNKNOWN_TYPE
        with pytest.raises(TalkError) as bad:
            await connection.receive(timeout=5)
        assert bad.value.fault is RecordFault.BAD_PAYLOAD
        assert await connection.receive(timeout=5) == Say(text="fine")
        peer_writer.write(encode_frame(0x55, b"{}"))  # and in a chunk of its own
        with pytest.raises(TalkError):
            await connection.receive(timeout=5)
        peer_writer.write(CODEC.encode(Say(text="again")))
        assert await connection.receive(timeout=5) == Say(text="again")
        assert connection.arrived

    _run(test)


def test_a_bad_wire_record_is_a_wire_error_with_its_reason() -> None:
    async def test_wire() -> None:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=ours)
        _, peer_writer = await asyncio.open_connection(sock=theirs)
        connection = FramedConnection(reader, writer, wire.CODEC)
        peer_writer.write(encode_frame(wire.FrameType.HEARTBEAT, b"{}") + wire.to_frame(wire.Ping()))
        with pytest.raises(wire.WireError) as refused:
            await connection.receive(timeout=5)
        assert refused.value.reason is wire.Reason.BAD_PAYLOAD
        assert await connection.receive(timeout=5) == wire.Ping()
        connection.abort()
        peer_writer.transport.abort()

    asyncio.run(test_wire())


def test_a_lost_framing_ends_the_stream_for_good() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        peer_writer.write(CODEC.encode(Say(text="before")))
        assert await connection.receive(timeout=5) == Say(text="before")
        peer_writer.write(b"XX" + CODEC.encode(Say(text="after")))
        with pytest.raises(FramingError) as lost:
            await connection.receive(timeout=5)
        assert lost.value.fault is FramingFault.BAD_MAGIC
        with pytest.raises(FramingError) as again:  # at once: no read, no waiting for a timeout
            await connection.receive()
        assert again.value is lost.value

    _run(test)


def test_frames_longer_than_a_read_are_put_together() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        peer_writer.write(CODEC.encode(Say(text="x" * 100)) + CODEC.encode(Say(text="y")))
        assert await connection.receive(timeout=5) == Say(text="x" * 100)
        assert await connection.receive(timeout=5) == Say(text="y")

    _run(test, read_chunk=7)


def test_nothing_within_the_timeout_is_a_timeout() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        with pytest.raises(TimeoutError) as waited:
            await connection.receive(timeout=0.05)
        assert not isinstance(waited.value, FrameTimeout)  # no frame was begun
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await connection.receive(deadline=loop.time() + 0.05)
        peer_writer.write(CODEC.encode(Say(text="late but whole")))
        assert await connection.receive(timeout=5) == Say(text="late but whole")

    _run(test, frame_timeout=0.01)


def test_a_frame_left_unfinished_is_a_frame_timeout() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        whole = CODEC.encode(Say(text="cut in half"))
        peer_writer.write(CODEC.encode(Say(text="whole")) + whole[:10])
        assert await connection.receive(timeout=5) == Say(text="whole")
        with pytest.raises(FrameTimeout, match=r"frame not completed within 0\.05 s"):
            await connection.receive(timeout=5)

    _run(test, frame_timeout=0.05)


def test_a_peer_that_leaves_is_peer_closed() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        peer_writer.write(CODEC.encode(Say(text="bye")))
        peer_writer.close()
        assert await connection.receive(timeout=5) == Say(text="bye")
        with pytest.raises(PeerClosed) as closed:
            await connection.receive(timeout=5)
        assert not closed.value.mid_frame

    _run(test)


def test_a_peer_that_leaves_mid_frame_says_so() -> None:
    async def test(ends: Ends) -> None:
        connection, _, peer_writer = ends
        peer_writer.write(CODEC.encode(Say(text="never finished"))[:-3])
        peer_writer.close()
        with pytest.raises(PeerClosed) as closed:
            await connection.receive(timeout=5)
        assert closed.value.mid_frame
        assert not connection.arrived

    _run(test)


def test_a_peer_that_does_not_read_is_a_write_timeout() -> None:
    async def test(ends: Ends) -> None:
        connection, _, _ = ends  # the peer never reads
        record = Say(text="z" * 4000)

        async def send_until_stuck() -> None:
            for _ in range(10_000):  # far more than the socket buffers hold
                await connection.send(record)

        with pytest.raises(WriteTimeout, match=r"took nothing for 0\.1 s"):
            await send_until_stuck()

    _run(test, write_timeout=0.1)
