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

from tornado.iostream import StreamClosedError

from ..media import VideoFile
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

CHUNK = 512 * 1024


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
        loop = asyncio.get_running_loop()
        fd = await loop.run_in_executor(None, os.open, video.path, os.O_RDONLY)
        try:
            ctype = video.content_type if not boundary else self.content_type_for(video)
            for i, r in enumerate(ranges):
                if boundary:
                    self.write(part_header(boundary, r, ctype, size, i == 0))
                offset, remaining = r.start, r.length
                while remaining > 0:
                    data = await loop.run_in_executor(None, os.pread, fd, min(CHUNK, remaining), offset)
                    if not data:
                        raise ShortRead(f"file shrank to {offset} bytes while being served")
                    offset += len(data)
                    remaining -= len(data)
                    self.write(data)
                    await self.flush()
            if boundary:
                self.write(closing_delimiter(boundary))
        finally:
            os.close(fd)


class ShortRead(OSError):
    """The file is shorter than the Content-Length already sent."""
