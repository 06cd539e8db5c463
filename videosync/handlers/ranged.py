"""Serving a media file with ranges exactly as Go's http.ServeContent (docs/go-protocol.md §2.6).

Not tornado's StaticFileHandler: it has no multipart/byteranges, answers malformed ranges with
a 200 instead of Go's 416, orders preconditions differently and hashes whole files for ETags.
The RFC logic lives in `videosync.ranges` (pure, table-tested); this is only the I/O.
A single range or a whole file goes out with sendfile(2) (`zerocopy`): no byte passes through
Python, and a slow client costs kernel socket buffer only. Multipart bodies, TLS and connections
sendfile cannot serve are copied through one pooled buffer, each chunk flushed before the next
is read, so a slow client costs one chunk of memory and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import stat
from collections.abc import Callable
from typing import Any

from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError
from tornado.web import HTTPError

from ..media import MediaLibrary, VideoFile
from ..ranges import (
    ByteRange,
    InvalidRange,
    NoOverlap,
    Outcome,
    check_preconditions,
    closing_delimiter,
    format_http_date,
    multipart_length,
    part_header,
    ranges_to_serve,
)
from .accel import AccelRedirect
from .base import CORS_EXPOSE_MEDIA, BaseHandler
from .zerocopy import BUDGET, FileSender, FileShrank, SendfileUnsupported, account, cork, usable_stream

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class RangedFileHandler(BaseHandler):
    """One file, Go's range policy, the body through the kernel: subclasses choose the file
    (`open_target`) and the per-kind headers. /api/video, library files and HLS output all go
    through `serve`, so there is one range policy and one send path."""

    expose_headers = CORS_EXPOSE_MEDIA
    send_etag = False  # Go sent none on /api/video
    send_last_modified = True  # off for files replaced in place within a second (playlists)
    accelerated = True  # under --accel-redirect, nginx sends the body (accel.py says which not)
    buffers: BufferPool

    def _initialize_ranged(self, buffers: BufferPool | None = None) -> None:
        self.buffers = buffers or _SHARED_BUFFERS
        self._sender: FileSender | None = None

    # Each kind of file takes its own route arguments (Tornado passes them as keywords), so, as in
    # Tornado's RequestHandler, the signature stays open for subclasses to narrow.
    initialize: Callable[..., None] = _initialize_ranged

    def set_extra_headers(self) -> None:
        """Per-kind headers (caching), set on every answer that serves the file."""

    async def serve(self, path: str | os.PathLike[str], content_type: str, include_body: bool) -> None:
        """Answer GET/HEAD for the file at `path`; a missing or non-regular file is a 404.

        Size and dates come from the opened descriptor, so a file renamed over while being
        served is served whole, in its one version (ffmpeg replaces playlists that way)."""
        accel: AccelRedirect | None = self.settings.get("accel_redirect")
        if accel is not None and self.accelerated and accel.answer(self, path, content_type):
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise HTTPError(404, "not found") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise HTTPError(404, "not found")
            await self._answer(fd, st, content_type, include_body, os.fspath(path))
        finally:
            os.close(fd)

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self._sender is not None:
            self._sender.abort()

    async def _answer(self, fd: int, st: os.stat_result, ctype: str, include_body: bool, name: str) -> None:
        size, mtime = st.st_size, int(st.st_mtime)
        etag = self._etag(st) if self.send_etag else None
        if self.send_last_modified:
            self.set_header("Last-Modified", _http_date(mtime))
        if etag:
            self.set_header("Etag", etag)
        self.set_extra_headers()
        lookup = self.request.headers.get if self.send_last_modified else self._undated_header
        decision = check_preconditions(self.request.method or "GET", lookup, mtime, etag)
        if decision.outcome is Outcome.PRECONDITION_FAILED:
            self.set_status(412)
            self.finish()
            return
        if decision.outcome is Outcome.NOT_MODIFIED:
            self.set_status(304)
            self.finish()
            return
        header = self.request.headers.get("Range", "") if decision.use_range else ""
        try:
            ranges = ranges_to_serve(header, size) if header else []
        except NoOverlap:
            self.set_header("Content-Range", f"bytes */{size}")
            return self._range_error("invalid range: failed to overlap\n")
        except InvalidRange:
            return self._range_error("invalid range\n")

        boundary = ""
        part_type = ctype
        if len(ranges) == 1:
            self.set_status(206)
            self.set_header("Content-Range", ranges[0].content_range(size))
            length = ranges[0].length
        elif ranges:
            self.set_status(206)
            boundary = secrets.token_hex(30)  # Go's multipart writer: 60 lower-hex characters
            length = multipart_length(ranges, boundary, ctype, size)
            ctype = f"multipart/byteranges; boundary={boundary}"
        else:
            length = size
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Type", ctype)
        self.set_header("Content-Length", str(length))
        if not include_body:
            self.finish()
            return
        try:
            if boundary:
                self.flush()  # the headers leave with the first part
                await self._copy(fd, ranges, boundary, part_type, size)
            else:
                await self._send(fd, ranges[0] if ranges else ByteRange(0, size))
        except StreamClosedError:
            # the client went away; sendfile may learn it before Tornado does, and only a closed
            # stream lets the unfinished response end quietly (the file is closed by serve())
            if isinstance(self.request.connection, HTTP1Connection):
                self.request.connection.close()
            return
        except OSError as exc:
            log.warning("serving %s stopped: %s", os.path.basename(name), exc)
            if isinstance(self.request.connection, HTTP1Connection):
                self.request.connection.close()  # headers are out: only closing tells the client
            return
        self.finish()

    def _etag(self, st: os.stat_result) -> str:
        return f'"{int(st.st_mtime):x}-{st.st_size:x}"'

    def _undated_header(self, name: str) -> str | None:
        # without Last-Modified, a date-based condition could only be a stale guess
        if name in ("If-Modified-Since", "If-Unmodified-Since"):
            return None
        value = self.request.headers.get(name)
        if name == "If-Range" and value and not value.lstrip(" \t").startswith(("\"", "W/")):
            return None
        return value

    def _range_error(self, body: str) -> None:
        # Go's serveError drops Last-Modified (and any ETag) and answers in text/plain
        self.clear_header("Last-Modified")
        self.clear_header("Etag")
        self.clear_header("Cache-Control")  # an error is not the immutable segment
        self.set_status(416)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(body)

    async def _send(self, fd: int, r: ByteRange) -> None:
        """One range (or the whole file) through sendfile(2), or the copy where it cannot be used."""
        connection = self.request.connection
        stream = usable_stream(connection) if r.length else None
        if stream is None:
            self.flush()
            return await self._copy(fd, [r], "", "", 0)
        assert isinstance(connection, HTTP1Connection)
        cork(stream, True)
        try:
            flushed = self.flush()  # the connection also learns the Content-Length it will count
            if stream.writing():
                await flushed  # the headers must be on the socket before the body goes around them
            if stream.closed():
                raise StreamClosedError()
            budget = self.application.settings.get("turn_budget", BUDGET)
            self._sender = FileSender(stream, fd, r.start, r.length, budget=budget)
            try:
                await self._sender.run()
            except SendfileUnsupported:
                return await self._copy(fd, [r], "", "", 0)
            finally:
                account(connection, self._sender.sent)
                self._sender = None
        finally:
            cork(stream, False)

    async def _copy(self, fd: int, ranges: list[ByteRange], boundary: str, ctype: str, size: int) -> None:
        """The body through Python: multipart ranges, TLS, and where sendfile is refused."""
        buf = self.buffers.acquire()
        try:
            connection = self.request.connection
            assert connection is not None
            for i, r in enumerate(ranges):
                if boundary:
                    await connection.write(part_header(boundary, r, ctype, size, i == 0))
                offset, remaining = r.start, r.length
                while remaining > 0:
                    view = memoryview(buf)[: min(len(buf), remaining)]
                    n = await read_into(fd, view, offset)
                    if n == 0:
                        raise FileShrank(f"file shrank to {offset} bytes while being served")
                    # tornado keeps a view of the buffer until the socket took it, and awaiting
                    # the write is the back-pressure on a slow client
                    # (HTTPConnection.write is annotated `bytes`, but its stream takes any buffer)
                    await connection.write(view[:n])  # type: ignore[arg-type]
                    offset += n
                    remaining -= n
            if boundary:
                await connection.write(closing_delimiter(boundary))
        finally:
            self.buffers.release(buf)


class RangeFileHandler(RangedFileHandler):
    """A library video: subclasses say which (`resolve`) and whether to send an mtime+size ETag."""

    go_cors = False  # Go's /api/video always sent ACAO/ACAM, Origin or not

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # only on the answers Go's handler wrote: the router's 405s and CORS's OPTIONS had none
        if self.go_cors and "*" in self.allowed_origins and self.request.method in ("GET", "HEAD"):
            self.set_header("Access-Control-Allow-Methods", "GET, HEAD")
            self.set_header("Access-Control-Allow-Origin", "*")

    def initialize(self, library: MediaLibrary, buffers: BufferPool | None = None) -> None:
        super().initialize(buffers)
        self.library = library

    def resolve(self, *args: Any) -> VideoFile:
        raise NotImplementedError

    def content_type_for(self, video: VideoFile) -> str:
        return video.content_type

    async def get(self, *args: Any) -> None:
        video = self.resolve(*args)
        await self.serve(video.path, self.content_type_for(video), include_body=True)

    async def head(self, *args: Any) -> None:
        video = self.resolve(*args)
        await self.serve(video.path, self.content_type_for(video), include_body=False)


class BufferPool:
    """Reusable read buffers: a fresh 1 MiB allocation per chunk costs page faults on every
    request (measured: 5x slower than reading into a warm buffer)."""

    def __init__(self, size: int = CHUNK, keep: int = 16) -> None:
        self.size = size
        self.keep = keep
        self._free: list[bytearray] = []

    def acquire(self) -> bytearray:
        return self._free.pop() if self._free else bytearray(self.size)

    def release(self, buf: bytearray) -> None:
        if len(self._free) < self.keep and len(buf) == self.size:
            self._free.append(buf)


async def read_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill `view` from the page cache on the loop when that cannot block (RWF_NOWAIT), else in a
    thread: a hot video costs no thread hop per chunk, and a cold read waiting on the disk never
    stalls the event loop."""
    if _NOWAIT:
        try:
            n = os.preadv(fd, [view], offset, _NOWAIT)
        except OSError:  # EAGAIN: not cached; EOPNOTSUPP: filesystem without RWF_NOWAIT
            n = -1
        if n >= 0:
            return n  # possibly short (ext4 stops at pages still being read ahead): the rest next
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, os.preadv, fd, [view], offset)


_NOWAIT = getattr(os, "RWF_NOWAIT", 0) if hasattr(os, "preadv") else 0


_SHARED_BUFFERS = BufferPool()


@functools.lru_cache(maxsize=256)
def _http_date(mtime: int) -> str:
    return format_http_date(mtime)  # the same few files, thousands of times a second
