"""The framing rules a client frame's two header bytes are checked against, in Go's words, and
`StrictFraming` applying them to a live stream (a socket pair; the peer plays the client)."""

from __future__ import annotations

import socket
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from tornado.iostream import IOStream
from tornado.websocket import WebSocketHandler

from videosync.metrics import REGISTRY
from videosync.wsframes import StrictFraming, framing_error, is_utf8

FIN, RSV1, RSV2, RSV3, MASK = 0x80, 0x40, 0x20, 0x10, 0x80
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


@pytest.mark.parametrize(
    ("first", "second", "mid_message"),
    [
        (FIN | TEXT, MASK | 5, False),
        (FIN | BINARY, MASK | 127, False),
        (TEXT, MASK | 10, False),  # the first fragment of a message
        (CONT, MASK | 10, True),  # a middle fragment
        (FIN | CONT, MASK | 10, True),  # the last one
        (FIN | PING, MASK | 125, True),  # a control frame between fragments
        (FIN | CLOSE, MASK | 2, False),
        (FIN | PONG, MASK, False),
    ],
)
def test_well_formed_client_frames_pass(first: int, second: int, mid_message: bool) -> None:
    assert framing_error(first, second, mid_message) is None


@pytest.mark.parametrize(
    ("first", "second", "mid_message", "reason"),
    [
        (FIN | TEXT, 5, False, "bad MASK"),
        (FIN | RSV1 | TEXT, MASK, False, "RSV1 set"),
        (FIN | RSV2 | TEXT, MASK, False, "RSV2 set"),
        (FIN | RSV3 | TEXT, MASK, False, "RSV3 set"),
        (FIN | 0x3, MASK, False, "bad opcode 3"),
        (FIN | 0xB, MASK, False, "bad opcode 11"),
        (FIN | PING, MASK | 126, False, "len > 125 for control"),
        (PING, MASK, False, "FIN not set on control"),
        (FIN | CONT, MASK, False, "continuation after FIN"),
        (FIN | TEXT, MASK, True, "data before FIN"),
        (RSV1 | RSV3 | 0x3, 0, False, "RSV1 set, RSV3 set, bad opcode 3, bad MASK"),
        (CLOSE, 127, False, "len > 125 for control, FIN not set on control, bad MASK"),
    ],
)
def test_broken_rules_are_named_as_go_named_them(first: int, second: int, mid_message: bool, reason: str) -> None:
    assert framing_error(first, second, mid_message) == reason


def test_rsv1_means_compression_once_permessage_deflate_is_negotiated() -> None:
    assert framing_error(FIN | RSV1 | TEXT, MASK, False, deflate=True) is None
    assert framing_error(FIN | RSV2 | TEXT, MASK, False, deflate=True) == "RSV2 set"


def test_utf8_check() -> None:
    assert is_utf8("héllo ✓".encode())
    assert not is_utf8(b"\xff\xfe")
    assert not is_utf8(b"\xed\xa0\x80")  # a lone surrogate is not UTF-8



# -- StrictFraming on a stream ----------------------------------------------------------------------


class Handler:
    """The little of a WebSocketHandler that the protocol talks to, recording what it hears."""

    ping_interval = None
    ping_timeout = None
    max_message_size = 1 << 20

    def __init__(self, compression: dict[str, Any] | None = None) -> None:
        self.request = type("Request", (), {"headers": {"Sec-WebSocket-Version": "13"}})()
        self.compression = compression
        self.messages: list[object] = []
        self.closed = False

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.compression

    def on_message(self, message: str | bytes) -> None:
        self.messages.append(message)

    def on_ping(self, data: bytes) -> None:
        self.messages.append(("ping", data))

    def on_ws_connection_close(self, code: int | None, reason: str | None) -> None:
        self.closed = True

    def log_exception(self, *args: Any) -> None:
        raise AssertionError("the protocol logged an exception")


@pytest.fixture
def peer() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    theirs.settimeout(5)
    yield ours, theirs
    ours.close()
    theirs.close()


def strict_framing(ours: socket.socket, compression: dict[str, Any] | None = None) -> tuple[StrictFraming, Handler]:
    handler = Handler(compression)
    base = WebSocketHandler.get_websocket_protocol(handler)  # type: ignore[arg-type]
    # by keyword, as Tornado's own client builds its protocol (handlers/ws.py passes them in order)
    framing = StrictFraming(handler, mask_outgoing=False, params=base.params)  # type: ignore[union-attr]
    framing.stream = IOStream(ours)
    return framing, handler


KEY = b"\x0f\xf0\x3c\xc3"


def frame(first: int, payload: bytes, masked: bool = True) -> bytes:
    """A client frame: header, extended length when needed, masking key, masked payload."""
    size = len(payload)
    mask_bit = MASK if masked else 0
    if size < 126:
        header = bytes([first, mask_bit | size])
    elif size < 1 << 16:
        header = bytes([first, mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + size.to_bytes(8, "big")
    if not masked:
        return header + payload
    return header + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


def close_frame_sent(theirs: socket.socket) -> tuple[int, bytes]:
    data = theirs.recv(256)
    assert data[0] == 0x88, data
    return int.from_bytes(data[2:4], "big"), data[4:2 + data[1]]


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("videosync_ws_rejected_total", {"reason": reason}) or 0.0


async def run_until_closed(framing: StrictFraming) -> None:
    await framing._receive_frame_loop()


@pytest.mark.gen_test
async def test_well_formed_frames_reach_the_handler(peer) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = peer
    framing, handler = strict_framing(ours)
    long_text = "é" * 150  # 300 bytes: a 16-bit extended length, whose bytes are not a header
    theirs.sendall(frame(FIN | TEXT, b"hi") + frame(FIN | TEXT, long_text.encode()) + frame(FIN | BINARY, b"\xff\x00"))
    for _ in range(3):
        await framing._receive_frame()
    assert handler.messages == ["hi", long_text, b"\xff\x00"]


@pytest.mark.gen_test
async def test_a_64_bit_length_is_read_past_too(peer) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = peer
    framing, handler = strict_framing(ours)
    payload = b"\x00" * 70_000  # the 8 length bytes start 00 00: read as a header, two broken rules
    theirs.sendall(frame(FIN | BINARY, payload))
    await framing._receive_frame()
    assert handler.messages == [payload]


@pytest.mark.gen_test
async def test_fragments_are_checked_against_the_message_they_continue(peer) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = peer
    framing, handler = strict_framing(ours)
    theirs.sendall(frame(TEXT, b"ab") + frame(FIN | PING, b"") + frame(FIN | CONT, b"cd"))
    for _ in range(3):
        await framing._receive_frame()
    assert handler.messages == [("ping", b""), "abcd"]  # a ping may come between fragments
    assert theirs.recv(2) == b"\x8a\x00"  # and is answered
    before = rejected("protocol_error")
    theirs.sendall(frame(TEXT, b"ab") + frame(FIN | TEXT, b"cd"))
    await run_until_closed(framing)
    assert close_frame_sent(theirs)[0:2] == (1002, b"data before FIN")
    assert handler.messages == [("ping", b""), "abcd"] and handler.closed
    assert rejected("protocol_error") == before + 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (frame(FIN | TEXT, b"hi", masked=False), b"bad MASK"),
        (frame(FIN | RSV1 | TEXT, b"hi"), b"RSV1 set"),
        (frame(FIN | CONT, b"hi"), b"continuation after FIN"),
        (frame(PING, b""), b"FIN not set on control"),
        (frame(FIN | 0x3, b""), b"bad opcode 3"),
    ],
)
@pytest.mark.gen_test
async def test_a_broken_rule_closes_with_1002_naming_it(peer, data: bytes, reason: bytes) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = peer
    framing, handler = strict_framing(ours)
    before = rejected("protocol_error")
    theirs.sendall(frame(FIN | TEXT, b"ok") + data + frame(FIN | TEXT, b"never read"))
    await run_until_closed(framing)
    assert close_frame_sent(theirs) == (1002, reason)
    assert handler.messages == ["ok"]
    assert handler.closed and framing.stream.closed()
    assert rejected("protocol_error") == before + 1


@pytest.mark.gen_test
async def test_text_that_is_not_utf8_closes_with_1007(peer) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = peer
    framing, handler = strict_framing(ours)
    before = (rejected("invalid_utf8"), rejected("protocol_error"))
    theirs.sendall(frame(FIN | TEXT, b"\xff\xfe"))
    await run_until_closed(framing)
    assert close_frame_sent(theirs) == (1007, b"invalid UTF-8")
    assert handler.messages == []
    assert (rejected("invalid_utf8"), rejected("protocol_error")) == (before[0] + 1, before[1])


@pytest.mark.gen_test
async def test_permessage_deflate_gives_rsv1_its_meaning(peer) -> None:  # type: ignore[no-untyped-def]
    """Not negotiated by our server (Go did not), but the protocol class must not break it: a
    compressed text message has RSV1 set and a payload that is not UTF-8 until inflated."""
    ours, theirs = peer
    framing, handler = strict_framing(ours, compression={})
    framing._create_compressors("server", {}, {})
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = deflater.compress("héllo ✓".encode()) + deflater.flush(zlib.Z_SYNC_FLUSH)
    packed = packed[:-4]  # RFC 7692: the 00 00 ff ff tail is left off on the wire
    assert not is_utf8(packed)
    theirs.sendall(frame(FIN | RSV1 | TEXT, packed))
    await framing._receive_frame()
    assert handler.messages == ["héllo ✓"]
