"""Canary: the parts of Tornado that are not its public API and that videosync relies on.

`wsframes.StrictFraming` subclasses `WebSocketProtocol13` and hooks its frame reader;
`handlers/ws.py` builds it from the parameters of the protocol Tornado would have used; `outbox.Outbox`
writes to the protocol's `stream` directly. None of that is documented API, so setup.cfg pins
Tornado's minor version, and these tests say which name moved when a new Tornado changes one.
Each test fails with the name of what changed; the behaviour itself is tested in test_wsframes.py
and handlers/test_ws.py.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from tornado.iostream import IOStream, SSLIOStream, StreamClosedError
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

from videosync.wsframes import CLOSE_PROTOCOL_ERROR, StrictFraming

FIN, TEXT, MASK = 0x80, 0x1, 0x80


class StubHandler:
    """What Tornado's protocol asks of its handler, and a record of what it told it."""

    ping_interval = None
    ping_timeout = None
    max_message_size = 1024

    def __init__(self) -> None:
        self.request = type("Request", (), {"headers": {"Sec-WebSocket-Version": "13"}})()
        self.messages: list[Any] = []
        self.closed_with: tuple[int | None, str | None] | None = None

    def get_compression_options(self) -> None:
        return None

    def on_message(self, message: Any) -> None:
        self.messages.append(message)

    def on_ws_connection_close(self, code: int | None, reason: str | None) -> None:
        self.closed_with = (code, reason)

    def log_exception(self, *args: Any) -> None:
        raise AssertionError("the protocol logged an exception")


def tornado_protocol(handler: StubHandler) -> WebSocketProtocol:
    """What `WebSocketHandler.get_websocket_protocol` gives handlers/ws.py to build on."""
    protocol = WebSocketHandler.get_websocket_protocol(handler)  # type: ignore[arg-type]
    assert protocol is not None
    return protocol


def strict(handler: StubHandler) -> StrictFraming:
    """Built the way handlers/ws.py builds it."""
    return StrictFraming(handler, False, tornado_protocol(handler).params)  # type: ignore[attr-defined]


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def masked_text(payload: bytes, masked: bool = True) -> bytes:
    if not masked:
        return bytes([FIN | TEXT, len(payload)]) + payload
    key = b"\x01\x02\x03\x04"
    return bytes([FIN | TEXT, MASK | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_the_handler_builds_protocol13_with_its_params() -> None:
    protocol = tornado_protocol(StubHandler())
    assert type(protocol) is WebSocketProtocol13, "get_websocket_protocol no longer returns a WebSocketProtocol13"
    assert hasattr(protocol, "params"), "WebSocketProtocol13 no longer keeps its parameters in `params`"


def test_strict_framing_is_built_from_handler_mask_flag_and_params() -> None:
    params = list(inspect.signature(WebSocketProtocol13.__init__).parameters)
    assert params == ["self", "handler", "mask_outgoing", "params"], f"WebSocketProtocol13.__init__ is now {params}"
    handler = StubHandler()
    framing = strict(handler)
    assert framing.params.max_message_size == handler.max_message_size


@pytest.mark.parametrize(
    ("attribute", "initial"),
    [
        ("_fragmented_message_buffer", None),  # not None: a fragmented message has begun
        ("_decompressor", None),  # not None: permessage-deflate was negotiated
        ("_frame_compressed", None),  # the message being handled came compressed
        ("stream", None),  # the connection's IOStream once accepted (Outbox writes to it)
    ],
)
def test_protocol_state_read_by_strict_framing_and_outbox(attribute: str, initial: object) -> None:
    framing = strict(StubHandler())
    assert hasattr(framing, attribute), f"WebSocketProtocol13 has no attribute {attribute!r} any more"
    assert getattr(framing, attribute) is initial, f"{attribute!r} no longer starts as {initial!r}"


@pytest.mark.parametrize(
    ("method", "parameters", "coroutine"),
    [
        ("_receive_frame", ["self"], True),
        ("_read_bytes", ["self", "n"], True),
        ("_handle_message", ["self", "opcode", "data"], False),
        ("_receive_frame_loop", ["self"], True),
    ],
)
def test_protocol_methods_strict_framing_overrides_or_relies_on(
    method: str, parameters: list[str], coroutine: bool
) -> None:
    found = getattr(WebSocketProtocol13, method, None)
    assert found is not None, f"WebSocketProtocol13.{method} is gone"
    assert list(inspect.signature(found).parameters) == parameters, f"WebSocketProtocol13.{method} changed signature"
    assert inspect.iscoroutinefunction(found) is coroutine, f"WebSocketProtocol13.{method} changed sync/async"


@pytest.mark.gen_test
async def test_the_frame_reader_reads_the_two_header_bytes_first(socket_pair) -> None:  # type: ignore[no-untyped-def]
    """StrictFraming checks the first `_read_bytes` of each `_receive_frame`: it must be the header."""
    ours, theirs = socket_pair
    handler = StubHandler()
    framing = strict(handler)
    framing.stream = IOStream(ours)
    reads: list[int] = []
    real_read = framing._read_bytes

    async def recording(n: int) -> bytes:
        reads.append(n)
        return await real_read(n)

    framing._read_bytes = recording  # type: ignore[method-assign]
    theirs.sendall(masked_text(b"hi"))
    await framing._receive_frame()
    assert reads[0] == 2, f"_receive_frame first read {reads[0]} bytes, not the 2-byte header"
    assert handler.messages == ["hi"], "_handle_message no longer delivers the text to on_message"


@pytest.mark.gen_test
async def test_stream_closed_error_from_the_reader_ends_the_frame_loop(socket_pair) -> None:  # type: ignore[no-untyped-def]
    """StrictFraming refuses a frame by raising StreamClosedError from `_read_bytes`: Tornado's
    loop must take that as the end of the connection (tell the handler, drop the stream)."""
    ours, theirs = socket_pair
    handler = StubHandler()
    framing = strict(handler)
    framing.stream = IOStream(ours)
    theirs.sendall(masked_text(b"unmasked", masked=False))
    await framing._receive_frame_loop()
    assert handler.closed_with == (None, None), "the frame loop no longer calls on_ws_connection_close"
    assert framing.stream.closed(), "the frame loop no longer closes the stream on StreamClosedError"
    theirs.settimeout(5)
    sent = theirs.recv(64)
    assert sent == bytes([0x88, 10]) + CLOSE_PROTOCOL_ERROR.to_bytes(2, "big") + b"bad MASK", sent
    assert handler.messages == [], "the refused frame was delivered"


@pytest.mark.gen_test
async def test_the_stream_outbox_writes_to(socket_pair) -> None:  # type: ignore[no-untyped-def]
    """Outbox writes straight to `stream.socket` when `stream.writing()` is false, else `stream.write`."""
    ours, theirs = socket_pair
    stream = IOStream(ours)
    assert stream.socket is ours, "IOStream no longer exposes its socket as `socket`"
    assert stream.writing() is False, "IOStream.writing() is gone or changed meaning"
    future = stream.write(b"x")
    assert hasattr(future, "add_done_callback") and hasattr(future, "done"), "IOStream.write returns no Future"
    await future
    assert theirs.recv(1) == b"x"
    assert issubclass(SSLIOStream, IOStream)
    stream.close()
    with pytest.raises(StreamClosedError):
        stream.write(b"y")
