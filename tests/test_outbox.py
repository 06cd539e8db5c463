"""`Outbox`: one socket's outgoing frames, in order, batched while a write is in flight, bounded."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from videosync.outbox import Outbox, text_frame


class FakeStream:
    """Accepts writes; completes them only when the test says so (a reader that stops reading)."""

    def __init__(self, instant: bool = True) -> None:
        self.instant = instant
        self.written: list[bytes] = []
        self.pending: list[asyncio.Future[None]] = []

    def writing(self) -> bool:
        return True  # always through write(): the tests below drive completion by hand

    def write(self, data: bytes) -> asyncio.Future[None]:
        self.written.append(data)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.instant:
            future.set_result(None)
        else:
            self.pending.append(future)
        return future

    def complete(self) -> None:
        pending, self.pending = self.pending, []
        for future in pending:
            future.set_result(None)


class FakeConnection:
    def __init__(self, stream: FakeStream) -> None:
        self.stream = stream
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing


def frames(data: list[bytes]) -> list[bytes]:
    """Split written bytes back into text-frame payloads (small frames only)."""
    out, blob = [], b"".join(data)
    while blob:
        assert blob[0] == 0x81
        size = blob[1]
        assert size < 126
        out.append(blob[2 : 2 + size])
        blob = blob[2 + size :]
    return out


def test_text_frame_lengths() -> None:
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert text_frame(b"x" * 70000)[:2] == b"\x81\x7f"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_outbox_holds_until_init_then_sends_init_first() -> None:
    async def scenario() -> list[bytes]:
        stream = FakeStream()
        box = Outbox(FakeConnection(stream), limit=10, on_overflow=lambda: None)
        box.send(text_frame(b"a"))
        box.send(text_frame(b"b"))
        assert stream.written == []
        box.open_with(text_frame(b"init"))
        box.send(text_frame(b"c"))
        await asyncio.sleep(0)
        return frames(stream.written)

    assert run(scenario()) == [b"init", b"a", b"b", b"c"]


def test_outbox_serialises_and_batches_while_a_write_is_in_flight() -> None:
    async def scenario() -> tuple[int, list[bytes]]:
        stream = FakeStream(instant=False)
        box = Outbox(FakeConnection(stream), limit=100, on_overflow=lambda: None, held=False)
        for i in range(20):
            box.send(text_frame(str(i).encode()))
        writes_before = len(stream.written)
        stream.complete()
        await asyncio.sleep(0)
        return writes_before, frames(stream.written)

    writes_before, payloads = run(scenario())
    assert writes_before == 1  # one write in flight, the rest queued
    assert payloads == [str(i).encode() for i in range(20)]


def test_outbox_overflow_drops_the_socket_once_and_stops_writing() -> None:
    async def scenario() -> tuple[list[str], int]:
        stream = FakeStream(instant=False)
        calls: list[str] = []
        box = Outbox(FakeConnection(stream), limit=5, on_overflow=lambda: calls.append("overflow"), held=False)
        for i in range(50):
            box.send(text_frame(str(i).encode()))
        stream.complete()
        await asyncio.sleep(0)
        return calls, len(stream.written)

    calls, writes = run(scenario())
    assert calls == ["overflow"]
    assert writes == 1  # nothing more after the drop


def test_outbox_close_when_drained_flushes_first() -> None:
    async def scenario() -> tuple[list[bytes], list[str]]:
        stream = FakeStream(instant=False)
        done: list[str] = []
        box = Outbox(FakeConnection(stream), limit=10, on_overflow=lambda: None, held=False)
        box.send(text_frame(b"1"))
        box.send(text_frame(b"ended"))
        box.close_when_drained(lambda: done.append("close"))
        box.send(text_frame(b"late"))
        assert done == []
        stream.complete()
        await asyncio.sleep(0)
        stream.complete()
        await asyncio.sleep(0)
        return frames(stream.written), done

    payloads, done = run(scenario())
    assert payloads == [b"1", b"ended"]
    assert done == ["close"]


def test_outbox_stops_on_closing_connection() -> None:
    async def scenario() -> int:
        stream = FakeStream()
        conn = FakeConnection(stream)
        box = Outbox(conn, limit=10, on_overflow=lambda: None, held=False)
        conn.closing = True
        box.send(text_frame(b"x"))
        return len(stream.written)

    assert run(scenario()) == 0


class FakeSocket:
    def __init__(self, accept: int) -> None:
        self.accept = accept
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        taken = data[: self.accept]
        self.sent.append(taken)
        return len(taken)


class DirectStream(FakeStream):
    """A stream with nothing pending: frames go straight to the socket, the rest to write()."""

    def __init__(self, accept: int) -> None:
        super().__init__(instant=False)
        self.socket = FakeSocket(accept)

    def writing(self) -> bool:
        return bool(self.pending)


def test_outbox_sends_directly_and_hands_a_partial_rest_to_the_stream_in_order() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        stream = DirectStream(accept=3)
        box = Outbox(FakeConnection(stream), limit=10, on_overflow=lambda: None, held=False)
        box.send(text_frame(b"a"))  # 3 bytes: fits the socket
        box.send(text_frame(b"hello"))  # 7 bytes: 3 to the socket, 4 to the stream
        box.send(text_frame(b"z"))  # queued behind the pending rest
        stream.complete()
        await asyncio.sleep(0)
        stream.complete()
        await asyncio.sleep(0)
        return stream.socket.sent, stream.written

    sent, written = run(scenario())
    assert sent == [b"\x81\x01a", b"\x81\x05h", b"\x81\x01z"]  # z waited for the rest, then went direct
    assert written == [b"ello"]
    assert frames([sent[0], sent[1] + written[0], sent[2]]) == [b"a", b"hello", b"z"]


def test_a_closed_outbox_lets_go_of_its_connection_and_callbacks() -> None:
    """Closed (or drained), it holds nothing of its socket: no cycle keeps the socket alive for the
    cycle collector to find."""
    import weakref

    async def scenario() -> None:
        for finish in ("close", "drained", "overflow"):
            conn = FakeConnection(FakeStream(instant=finish != "overflow"))
            overflowed: list[str] = []
            box = Outbox(conn, limit=1, on_overflow=functools.partial(overflowed.append, "overflow"), held=False)
            gone = weakref.ref(conn)
            box.send(b"a")
            if finish == "close":
                box.close()
            elif finish == "drained":
                box.close_when_drained(lambda: None)
            else:
                box.send(b"b")  # one queued behind the write in flight: the limit
                box.send(b"c")
                assert overflowed == ["overflow"]  # the callback still runs, once
            del conn
            assert gone() is None, finish
            box.send(b"after")  # a closed outbox drops what comes later, without its connection
            assert overflowed in ([], ["overflow"])

    run(scenario())
