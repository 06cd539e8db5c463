"""RFC 6455 framing rules, enforced the way the Go server answered a client that broke them.

Tornado dropped the TCP connection without a word on most framing errors, and accepted unmasked
client frames. gorilla/websocket (Go-A) sent close 1002 with the rule that was broken ("bad MASK",
"RSV1 set", "bad opcode 3"), then closed; that is what clients and operators saw, and what RFC 6455
§7.4.1 asks for. A text message that is not UTF-8 now gets close 1007 instead of the bare drop
(Go-A accepted it; RFC 6455 §8.1 says fail).
"""

from __future__ import annotations

from asyncio import Future
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketProtocol13

from . import metrics
from .closecodes import Close

CLOSE_PROTOCOL_ERROR = Close.PROTOCOL_ERROR
CLOSE_INVALID_PAYLOAD = Close.INVALID_PAYLOAD

_FIN, _RSV1, _RSV2, _RSV3 = 0x80, 0x40, 0x20, 0x10
_MASK = 0x80
_CONTINUATION, _TEXT, _BINARY = 0x0, 0x1, 0x2
_CONTROL = {0x8, 0x9, 0xA}
_MAX_CONTROL_PAYLOAD = 125


def framing_error(first: int, second: int, mid_message: bool, deflate: bool = False) -> str | None:
    """Every rule a client frame's two header bytes break, in gorilla/websocket's words and order
    (joined by ", "), or None when the header is fine.

    `mid_message`: a fragmented message has begun and not ended. `deflate`: permessage-deflate
    was negotiated, which gives RSV1 a meaning."""
    problems = []
    if first & _RSV1 and not deflate:
        problems.append("RSV1 set")
    if first & _RSV2:
        problems.append("RSV2 set")
    if first & _RSV3:
        problems.append("RSV3 set")
    opcode = first & 0x0F
    final = bool(first & _FIN)
    if opcode in _CONTROL:
        if second & 0x7F > _MAX_CONTROL_PAYLOAD:
            problems.append("len > 125 for control")
        if not final:
            problems.append("FIN not set on control")
    elif opcode in (_TEXT, _BINARY):
        if mid_message:
            problems.append("data before FIN")
    elif opcode == _CONTINUATION:
        if not mid_message:
            problems.append("continuation after FIN")
    else:
        problems.append(f"bad opcode {opcode}")
    if not second & _MASK:
        problems.append("bad MASK")  # every client frame is masked (RFC 6455 §5.1)
    return ", ".join(problems) or None


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class StrictFraming(WebSocketProtocol13):
    """Tornado's protocol, refusing what `framing_error` finds with close 1002 before reading on.

    Tornado reads a frame's two header bytes first; the check runs on them, before any payload."""

    # A slot, not an attribute: Tornado's protocol already has the 30 attributes CPython's shared
    # instance dicts hold; one more made every socket's dict a private one (+2-3 KB, measured).
    __slots__ = ("_at_frame_start",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_frame_start = False

    async def _receive_frame(self) -> None:
        self._at_frame_start = True
        await super()._receive_frame()

    async def _read_bytes(self, n: int) -> bytes:
        data = await super()._read_bytes(n)
        if self._at_frame_start:
            self._at_frame_start = False
            mid_message = self._fragmented_message_buffer is not None
            problem = framing_error(data[0], data[1], mid_message, self._decompressor is not None)
            if problem is not None:
                self._refuse(CLOSE_PROTOCOL_ERROR, problem)
        return data

    def _handle_message(self, opcode: int, data: bytes) -> Future[None] | None:
        if opcode == _TEXT and not self._frame_compressed and not is_utf8(data):
            self._refuse(CLOSE_INVALID_PAYLOAD, "invalid UTF-8")
        return super()._handle_message(opcode, data)

    def _refuse(self, code: int, reason: str) -> None:
        """Send the close frame, then end the frame loop as a closed stream would: Tornado then
        drops the connection (gorilla closed it too, without waiting for the client's close)."""
        metrics.rejected("protocol_error" if code == CLOSE_PROTOCOL_ERROR else "invalid_utf8")
        self.close(code, reason)
        raise StreamClosedError()
