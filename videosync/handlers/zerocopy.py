"""Sending part of a file to a Tornado HTTP connection with sendfile(2), driven by the event loop.

Hand-written on purpose, after looking for a library that does it:
- Tornado's IOStream writes only from its own Python buffer (`_write_buffer`); it has no
  sendfile, so the bytes would be read into Python and copied out again (the cost measured in
  docs/benchmarks-media.md). It does expose what is needed to go around it: `stream.socket`
  (non-blocking), and `stream.writing()` says whether its buffer still holds the headers.
- asyncio's `loop.sock_sendfile` is zero-copy only on the stock selector loop: uvloop (which
  `python -m videosync` runs on) falls back to reading into Python buffers. And it registers its
  writer on the very fd Tornado registered its reader on; Tornado's `remove_handler` only
  removes the events Tornado added itself, so a client that vanished would leave that writer
  behind on a closed (soon reused) fd number, and the send waiting forever.
So the send is driven here, through a `dup()` of the socket that this module alone sends on,
registers and closes: when Tornado closes its fd, the duplicate (and its registration) is
unaffected, and it is unregistered before it is closed. Each loop turn sends at most
`slice_bytes` per response, so many bulk downloads never make one turn long, and all of them
together send at most `TURN_BUDGET_BYTES` per turn, `SHARED_TURN_BUDGET_BYTES` while sessions
have members on this process (sync messages on the same loop, which need several turns per frame,
are not starved by bulk traffic).

A range is only sent from the loop when its last page is already in the page cache (a
`preadv(RWF_NOWAIT)` probe); otherwise that slice is sent from a thread, so a cold file waits on
the disk without stalling the loop (the socket stays non-blocking: the thread never waits on a
slow client).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, SSLIOStream, StreamClosedError

SLICE_BYTES = 1024 * 1024  # a 1 MiB range (what players ask for) in one call when the socket takes it
# Bulk bytes one loop turn may send, over all responses: with 20 downloads each taking a slice per
# turn, a turn lasted 20 sendfile calls and sync messages (which need several turns per frame)
# fell behind; with a budget, downloads take turns instead and a turn stays about two slices long.
# (512 KiB slices and a 1 MiB budget cost 2.75-2.96x nginx's CPU per MiB of 1 MiB ranges, against
# 2.2x without a budget: each range then waited a turn and a writer registration.)
TURN_BUDGET_BYTES = 2 * 1024 * 1024
# ... and while this process has sync members: one slice a turn. Host updates to 100 members under
# 20 range pullers: p50 4.1-4.4 ms against 6.1-6.3 at 2 MiB (memory store; Redis 5.6-7.0 against
# 9.4-9.5), for 10-20 % less bulk throughput (docs/benchmarks-sync-load.md). Alone, the file
# server keeps the larger budget (whole files 0.91x nginx, against 0.87x at 1 MiB).
SHARED_TURN_BUDGET_BYTES = 1024 * 1024
_MIN_GRANT = 64 * 1024
# errors that say "sendfile cannot be used here" (not "the client went away"): copy instead
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSOCK, errno.EBADF}
_NOWAIT = getattr(os, "RWF_NOWAIT", 0) if hasattr(os, "preadv") else 0


class SendfileUnsupported(Exception):
    """sendfile(2) cannot send to this connection; nothing was sent, copy the body instead."""


class FileShrank(OSError):
    """The file ended before the byte count already promised in Content-Length."""


def usable_stream(connection: object) -> IOStream | None:
    """The plain-TCP stream of an HTTP/1 connection whose byte accounting we can keep, else None
    (TLS needs the copy through Python; other connection types are not ours to go around)."""
    if not hasattr(os, "sendfile") or not isinstance(connection, HTTP1Connection):
        return None
    stream = connection.stream
    if isinstance(stream, SSLIOStream) or not isinstance(stream, IOStream):
        return None
    if not hasattr(connection, "_expected_content_remaining"):
        return None  # a Tornado without the counter finish() checks Content-Length against
    if not isinstance(stream.socket, socket.socket) or stream.closed():
        return None
    return stream


def cork(stream: IOStream, on: bool) -> None:
    """TCP_CORK: the headers (written by Tornado) and the first body bytes leave in full
    segments rather than as a small packet of their own; uncorking pushes out the rest."""
    try:
        stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))
    except (OSError, AttributeError):
        pass  # closed meanwhile, or not Linux: the response is merely not coalesced


def account(connection: HTTP1Connection, sent: int) -> None:
    """Tell Tornado's connection that `sent` body bytes went out behind its back.

    HTTP1Connection.finish() refuses a response shorter than its Content-Length, counting only
    what went through write(); there is no public way to report bytes sent otherwise."""
    assert connection._expected_content_remaining is not None  # a sendfile answer has a length
    connection._expected_content_remaining -= sent


def cached(fd: int, offset: int) -> bool:
    """Whether the page holding `offset` is in the page cache (True where this cannot be told)."""
    if not _NOWAIT:
        return True
    try:
        return os.preadv(fd, [bytearray(1)], offset, _NOWAIT) >= 0
    except BlockingIOError:
        return False
    except OSError:
        return True  # EOPNOTSUPP: a filesystem without RWF_NOWAIT; treat it as cached


class TurnBudget:
    """How many bulk bytes the current loop turn may still send; refilled at the next turn.

    A send refused here keeps its writer registered: level-triggered, it is reported again next
    turn, behind the sockets that were served this turn (epoll's ready list rotates)."""

    def __init__(
        self, per_turn: int = TURN_BUDGET_BYTES, shared: int = SHARED_TURN_BUDGET_BYTES,
        sync_active: Callable[[], bool] = lambda: False,
    ) -> None:
        self.per_turn = per_turn
        self.shared = shared
        self.sync_active = sync_active  # whether sync messages share the loop: the smaller budget
        self._left = per_turn
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refill_pending = False

    def take(self, loop: asyncio.AbstractEventLoop, want: int) -> int:
        """Bytes granted of `want` (0: wait for the next turn)."""
        if loop is not self._loop:  # a new loop (tests run one per test): start afresh
            self._loop, self._left, self._refill_pending = loop, self._allowance(), False
        if not self._refill_pending:
            loop.call_soon(self._refill)  # runs at the start of the next turn
            self._refill_pending = True
        if self._left < min(want, _MIN_GRANT):
            return 0
        grant = min(want, self._left)
        self._left -= grant
        return grant

    def _refill(self) -> None:
        self._left = self._allowance()
        self._refill_pending = False

    def _allowance(self) -> int:
        return self.shared if self.sync_active() else self.per_turn


BUDGET = TurnBudget()


@dataclass(eq=False)
class FileSender:
    """Sends bytes [offset, offset + count) of `fd` to `stream`'s socket; `run()` awaits the end.

    `abort()` (from the handler's on_connection_close) ends a send whose client is gone."""

    stream: IOStream
    fd: int
    offset: int
    count: int
    slice_bytes: int = SLICE_BYTES
    budget: TurnBudget = BUDGET
    sent: int = 0
    _waiter: asyncio.Future[None] | None = field(default=None, repr=False)
    _watch_fd: int = -1
    _aborted: bool = False
    _cold: bool = False
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    async def run(self) -> int:
        """Send everything; returns the byte count. Raises SendfileUnsupported (nothing sent),
        StreamClosedError (client gone) or FileShrank."""
        self._loop = loop = asyncio.get_running_loop()
        # every send goes through our own duplicate: should Tornado close its fd meanwhile (and
        # the number be reused by a new connection), nothing here can touch the wrong socket
        self._watch_fd = os.dup(self.stream.socket.fileno())
        try:
            self._send_slice()  # a short range often fits the socket buffer: no registration
            while self.count > 0:
                if self._aborted:  # while a cold slice was in the thread
                    raise StreamClosedError()
                if self._cold:
                    self._cold = False
                    self._advance(await asyncio.to_thread(self._send_once))
                    continue
                # the writer stays registered until the end (or a cold slice): each writable
                # event sends one slice from the callback, with no task switch in between
                self._waiter = loop.create_future()
                loop.add_writer(self._watch_fd, self._on_writable)
                try:
                    await self._waiter
                finally:
                    loop.remove_writer(self._watch_fd)
                    self._waiter = None
            return self.sent
        finally:
            os.close(self._watch_fd)
            self._watch_fd = -1

    def abort(self) -> None:
        self._aborted = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(StreamClosedError())

    def _on_writable(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            self._send_slice()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            waiter.set_exception(exc)
            return
        if self.count == 0 or self._cold:
            waiter.set_result(None)

    def _send_slice(self) -> None:
        """One sendfile call of at most a slice, on the loop if its pages are cached; else mark
        it for the thread."""
        if self._aborted or self.stream.closed():
            raise StreamClosedError()
        want = min(self.count, self.slice_bytes)
        if not cached(self.fd, self.offset + want - 1):
            self._cold = True
            return
        assert self._loop is not None
        grant = self.budget.take(self._loop, want)
        if grant:
            self._advance(self._send_once(grant))

    def _send_once(self, count: int = 0) -> int:
        """One sendfile call of `count` bytes (default: a slice); -1 when the socket is full."""
        try:
            return os.sendfile(self._watch_fd, self.fd, self.offset,
                               count or min(self.count, self.slice_bytes))
        except BlockingIOError:
            return -1
        except (BrokenPipeError, ConnectionError) as exc:
            raise StreamClosedError(real_error=exc) from exc
        except OSError as exc:
            if exc.errno in _UNSUPPORTED and self.sent == 0:
                raise SendfileUnsupported(str(exc)) from exc
            raise

    def _advance(self, n: int) -> None:
        if n < 0:
            return  # the socket was full; wait for it again
        if n == 0:
            raise FileShrank(f"file ended at byte {self.offset} while being served")
        self.offset += n
        self.count -= n
        self.sent += n
