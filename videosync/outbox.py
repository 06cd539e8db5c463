"""One socket's outgoing messages: ordered, serialised, bounded.

Go-A wrote to a socket from a goroutine per broadcast plus a heartbeat goroutine and crashed
(`concurrent write to websocket connection`, docs/go-protocol.md §2.8.1) or reordered messages. Here every
data frame a socket gets goes through its `Outbox`, on the event loop thread:

* at most one write is in flight on the stream; frames that arrive meanwhile wait in a bounded
  queue, and the completion of the write in flight flushes them all in one write (one writer per
  socket, driven by the stream's completion callback instead of a task: no per-socket coroutine);
* frames are built once per broadcast (`text_frame`) and shared by every socket;
* a queue that reaches its limit means the reader stopped reading: the socket is dropped
  (`on_overflow`, close 1013) and never slows the others nor grows memory without bound.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from tornado.iostream import SSLIOStream, StreamClosedError


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented RFC 6455 text frame (servers never mask, §5.1)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class Connection(Protocol):
    """What an outbox needs of Tornado's WebSocket protocol object."""

    stream: Any

    def is_closing(self) -> bool: ...


class _Closed:
    """What a closed outbox holds instead of its connection and callbacks: dropping them at close
    breaks the socket -> outbox -> protocol -> socket cycle, so a closed socket is freed by reference
    counting at once instead of waiting for a full run of the cycle collector."""

    stream = None

    def is_closing(self) -> bool:
        return True


_CLOSED = _Closed()


def _ignore() -> None:
    pass


class Outbox:
    __slots__ = (
        "_conn", "_queue", "_limit", "_writing", "_held", "_on_overflow", "_on_drained", "_direct", "closed"
    )

    def __init__(
        self, conn: Connection, limit: int, on_overflow: Callable[[], None], held: bool = True
    ) -> None:
        self._conn = conn
        self._queue: deque[bytes] = deque()
        self._limit = limit
        self._writing = False
        self._held = held  # frames queue up until `open_with` sends the first one (init)
        self._on_overflow = on_overflow
        self._on_drained: Callable[[], None] | None = None
        # TLS streams keep their own record state: they always go through IOStream.write
        self._direct = not isinstance(conn.stream, SSLIOStream)
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def open_with(self, first: bytes) -> None:
        """Send `first` before anything queued so far, then flow freely."""
        self._queue.appendleft(first)
        self._held = False
        if not self._writing:
            self._flush()

    def send(self, frame: bytes) -> None:
        if self.closed or self._on_drained is not None:
            return
        if self._held or self._writing:
            if len(self._queue) >= self._limit:
                on_overflow = self._on_overflow
                self.close()
                on_overflow()
                return
            self._queue.append(frame)
            return
        self._write(frame)

    def close_when_drained(self, callback: Callable[[], None]) -> None:
        """Stop accepting frames; call `callback` once everything queued has been written."""
        if self._held:
            self._queue.clear()
            self._held = False
        self._on_drained = callback
        if not self._writing and not self._queue:
            self._drained()

    def close(self) -> None:
        self.closed = True
        self._queue.clear()
        self._release()

    def _drained(self) -> None:
        callback, self._on_drained = self._on_drained, None
        self.closed = True
        self._release()
        if callback is not None:
            callback()

    def _release(self) -> None:
        self._conn = _CLOSED
        self._on_overflow = _ignore

    def _flush(self) -> None:
        if self._queue:
            data = b"".join(self._queue)
            self._queue.clear()
            self._write(data)
        elif self._on_drained is not None:
            self._drained()

    def _write(self, data: bytes) -> None:
        if self._conn.is_closing():
            self.close()
            return
        stream = self._conn.stream
        if self._direct and not stream.writing():
            # Fast path: nothing of anyone's is pending on the stream (pings included), so the
            # kernel takes the frame whole or in part right now; IOStream gets only the rest.
            try:
                sent = stream.socket.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            if sent == len(data):
                if self._on_drained is not None and not self._queue:
                    self._drained()
                return
            data = data[sent:]
        try:
            future = stream.write(data)
        except StreamClosedError:
            self.close()
            return
        if future.done():
            if self._on_drained is not None and not self._queue:
                self._drained()
            return
        self._writing = True
        future.add_done_callback(self._written)

    def _written(self, future: Any) -> None:
        self._writing = False
        if future.exception() is not None:
            self.close()
            return
        if not self.closed:
            self._flush()
