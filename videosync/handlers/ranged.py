"""Serving a media file with ranges exactly as Go's http.ServeContent (PROTOCOL.md §2.6).

Not tornado's StaticFileHandler: it has no multipart/byteranges, answers malformed ranges with
a 200 instead of Go's 416, orders preconditions differently and hashes whole files for ETags.
The RFC logic lives in `videosync.ranges` (pure, table-tested); this is only the I/O.
Reads run in the default thread pool and every chunk is flushed before the next is read, so a
slow client costs one chunk of memory and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any

from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

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
from .base import CORS_EXPOSE_MEDIA, BaseHandler

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class RangeFileHandler(BaseHandler):
    """Subclasses say which file (`resolve`) and whether to send an mtime+size ETag."""

    expose_headers = CORS_EXPOSE_MEDIA
    send_etag = False  # Go sent none on /api/video
    go_cors = False  # Go's /api/video always sent ACAO/ACAM, Origin or not

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # only on the answers Go's handler wrote: the router's 405s and CORS's OPTIONS had none
        if self.go_cors and "*" in self.allowed_origins and self.request.method in ("GET", "HEAD"):
            self.set_header("Access-Control-Allow-Methods", "GET, HEAD")
            self.set_header("Access-Control-Allow-Origin", "*")

    def initialize(self, library: MediaLibrary, buffers: BufferPool | None = None) -> None:
        self.library = library
        self.buffers = buffers or BufferPool()

    def resolve(self, *args: Any) -> VideoFile:
        raise NotImplementedError

    def content_type_for(self, video: VideoFile) -> str:
        return video.content_type

    async def get(self, *args: Any) -> None:
        await self.serve(self.resolve(*args), include_body=True)

    async def head(self, *args: Any) -> None:
        await self.serve(self.resolve(*args), include_body=False)

    async def serve(self, video: VideoFile, include_body: bool) -> None:
        size, mtime = video.size, int(video.mtime)
        ctype = self.content_type_for(video)
        etag = f'"{mtime:x}-{size:x}"' if self.send_etag else None
        self.set_header("Last-Modified", format_http_date(mtime))
        if etag:
            self.set_header("Etag", etag)
        decision = check_preconditions(self.request.method or "GET", self.request.headers.get, mtime, etag)
        if decision.outcome is Outcome.PRECONDITION_FAILED:
            self.set_status(412)
            return self.finish()  # type: ignore[return-value]
        if decision.outcome is Outcome.NOT_MODIFIED:
            self.set_status(304)
            return self.finish()  # type: ignore[return-value]
        header = self.request.headers.get("Range", "") if decision.use_range else ""
        try:
            ranges = ranges_to_serve(header, size) if header else []
        except NoOverlap:
            self.set_header("Content-Range", f"bytes */{size}")
            return self._range_error("invalid range: failed to overlap\n")
        except InvalidRange:
            return self._range_error("invalid range\n")

        boundary = ""
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
            return self.finish()  # type: ignore[return-value]
        try:
            await self._stream(video, ranges or [ByteRange(0, size)], boundary, size)
        except StreamClosedError:
            return  # the client went away; nothing to clean up but the file (closed below)
        except (OSError, ShortRead) as exc:
            log.warning("serving %s stopped: %s", video.path.name, exc)
            if isinstance(self.request.connection, HTTP1Connection):
                self.request.connection.close()  # headers are out: only closing tells the client
            return
        self.finish()

    def _range_error(self, body: str) -> None:
        # Go's serveError drops Last-Modified (and any ETag) and answers in text/plain
        self.clear_header("Last-Modified")
        self.clear_header("Etag")
        self.set_status(416)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(body)

    async def _stream(self, video: VideoFile, ranges: list[ByteRange], boundary: str, size: int) -> None:
        # open() on the loop: resolving the video just stat'ed this path, so it is a cached lookup
        fd = os.open(video.path, os.O_RDONLY)
        buf = self.buffers.acquire()
        try:
            # the headers (not awaited: they leave with the first chunk); the body then goes
            # straight to the connection
            self.flush()
            connection = self.request.connection
            assert connection is not None
            ctype = self.content_type_for(video)
            for i, r in enumerate(ranges):
                if boundary:
                    await connection.write(part_header(boundary, r, ctype, size, i == 0))
                offset, remaining = r.start, r.length
                while remaining > 0:
                    view = memoryview(buf)[: min(len(buf), remaining)]
                    n = await read_into(fd, view, offset)
                    if n == 0:
                        raise ShortRead(f"file shrank to {offset} bytes while being served")
                    # zero-copy: tornado keeps a view of the buffer until the socket took it,
                    # and awaiting the write is the back-pressure on a slow client
                    await connection.write(view[:n])  # type: ignore[arg-type]
                    offset += n
                    remaining -= n
            if boundary:
                await connection.write(closing_delimiter(boundary))
        finally:
            os.close(fd)
            self.buffers.release(buf)


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


class ShortRead(OSError):
    """The file is shorter than the Content-Length already sent."""
