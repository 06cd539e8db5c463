"""The media API: the default video (Go's /api/video), the library, uploads, and HLS routes.

`media_routes(library, packager, settings)` returns the URL specs; app.py adds them to its table.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import IO, Any

from tornado.web import HTTPError, stream_request_body

from ..ffmpeg import ProbeError, probe
from ..media import (
    UPLOAD_DIRNAME,
    VIDEO_EXTENSIONS,
    InvalidVideoId,
    MediaLibrary,
    VideoFile,
    VideoIdTaken,
    VideoNotFound,
    slugify,
)
from ..packager import HLS_URL_PREFIX, Packager
from ..settings import Settings
from .base import BaseHandler
from .hls import PLAYLIST_PATH, SEGMENT_PATH, PlaylistHandler, SegmentHandler
from .ranged import BufferPool, RangeFileHandler

log = logging.getLogger(__name__)

_ID = r"([^/]+)"  # validated by the library: a bad id is a JSON 400, not a router 404
# container names ffprobe reports -> the extension an upload is stored under
_FORMAT_EXTENSIONS = {"matroska": ".mkv", "webm": ".webm", "mpegts": ".ts", "avi": ".avi", "mov": ".mp4"}


def _lookup(library: MediaLibrary, video_id: str) -> VideoFile:
    try:
        return library.get(video_id)
    except InvalidVideoId as exc:
        raise HTTPError(400, str(exc)) from None
    except VideoNotFound:
        raise HTTPError(404, "video not found") from None


async def _find(library: MediaLibrary, video_id: str) -> VideoFile:
    """As _lookup, but an id this process has not seen yet re-reads the dir (in a thread)."""
    try:
        return await library.find(video_id)
    except InvalidVideoId as exc:
        raise HTTPError(400, str(exc)) from None
    except VideoNotFound:
        raise HTTPError(404, "video not found") from None


async def video_json(library: MediaLibrary, packager: Packager | None, video: VideoFile) -> dict[str, Any]:
    """The API shape of one video (PROTOCOL.md §4)."""
    info, error = await library.probe(video)
    hls = packager.status(video.id) if packager else None
    return {
        "id": video.id,
        "title": video.title,
        "duration": info.duration if info else None,
        "size": video.size,
        "codecs": {"video": info.video_codec if info else None, "audio": info.audio_codec if info else None},
        "width": info.width if info else None,
        "height": info.height if info else None,
        "file": f"/api/videos/{video.id}/file",
        "hls": hls,
        "error": error,
    }


class DefaultVideoHandler(RangeFileHandler):
    """GET|HEAD /api/video: the default video, as Go-A served ./sample.mp4."""

    go_cors = True

    def resolve(self) -> VideoFile:
        try:
            return self.library.default()
        except VideoNotFound:
            raise HTTPError(404, "video not found") from None

    def content_type_for(self, video: VideoFile) -> str:
        return "video/mp4"  # Go: ServeContent named it "video.mp4", whatever the file is


class VideoFileHandler(RangeFileHandler):
    """GET|HEAD /api/videos/{id}/file: one library video with ranges (the progressive fallback)."""

    send_etag = True

    def resolve(self, video_id: str) -> VideoFile:
        return _lookup(self.library, video_id)


class VideoHandler(BaseHandler):
    def initialize(self, library: MediaLibrary, packager: Packager | None) -> None:
        self.library = library
        self.packager = packager

    async def get(self, video_id: str) -> None:
        video = await _find(self.library, video_id)
        self.write_json(await video_json(self.library, self.packager, video))


@stream_request_body
class VideosHandler(BaseHandler):
    """GET: the library. POST: upload one video as the raw request body (`?filename=` names it)."""

    refused_drain_bytes = 64 * 1024 * 1024

    def initialize(self, library: MediaLibrary, packager: Packager | None, max_upload_bytes: int) -> None:
        self.library = library
        self.packager = packager
        self.max_upload_bytes = max_upload_bytes
        self._file: IO[bytes] | None = None
        self._tmp: Path | None = None
        self._received = 0
        self._error: HTTPError | None = None

    async def get(self) -> None:
        videos = await self.library.rescan()
        items = await asyncio.gather(*(video_json(self.library, self.packager, v) for v in videos))
        self.write_json({"videos": list(items)})

    # -- upload ------------------------------------------------------------------------------
    async def prepare(self) -> None:
        if self.request.method != "POST":
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_upload_bytes:
            raise HTTPError(413, f"upload larger than {self.max_upload_bytes} bytes")
        # A chunked body has no declared length: data_received enforces the cap, so Tornado's own
        # limit (which would drop the connection without an answer) must never be reached first.
        self.request.connection.set_max_body_size(sys.maxsize)  # type: ignore[union-attr]
        upload_dir = self.library.root / UPLOAD_DIRNAME
        await asyncio.to_thread(upload_dir.mkdir, parents=True, exist_ok=True)
        self._tmp = upload_dir / f"{secrets.token_hex(8)}.part"
        self._file = await asyncio.to_thread(open, self._tmp, "xb")

    async def data_received(self, chunk: bytes) -> None:
        # Raising here would only drop the connection: remember the problem, answer from post()
        self._received += len(chunk)
        if self._error is None and self._received > self.max_upload_bytes:
            self._error = HTTPError(413, f"upload larger than {self.max_upload_bytes} bytes")
            self._discard()
        if self._error is not None:
            # The rest of a refused body is read and dropped, so that a client still sending gets
            # its answer on an intact connection (closing on unread data resets it, and the answer
            # with it); past the allowance, answer now and hang up.
            if self._received > self.max_upload_bytes + self.refused_drain_bytes and not self._finished:
                self.send_error(self._error.status_code, exc_info=(HTTPError, self._error, None))
            return
        if self._file is None:
            return
        try:
            await asyncio.to_thread(self._file.write, chunk)
        except OSError as exc:
            self._error = HTTPError(507, f"cannot store the upload: {exc.strerror}")
            self._discard()

    async def post(self) -> None:
        if self._error is not None:
            raise self._error
        assert self._file is not None and self._tmp is not None
        try:
            await asyncio.to_thread(self._file.close)
        except OSError as exc:
            self._discard()
            raise HTTPError(507, f"cannot store the upload: {exc.strerror}") from None
        if self._received == 0:
            self._discard()
            raise HTTPError(400, "empty upload: send the video file as the request body")
        if self.library.tools is None:
            self._discard()
            raise HTTPError(503, "ffmpeg is not available to check the upload")
        try:
            info = await probe(self._tmp, self.library.tools)
        except ProbeError as exc:
            part = self._tmp
            self._discard()
            log.info("upload refused: %s", exc)
            reason = str(exc).replace(str(part), "the upload").replace(part.name, "the upload")
            reason = self.library.public_message(reason)
            raise HTTPError(415, f"not a video ffmpeg can read: {reason}") from None
        if info.video_codec is None:
            self._discard()
            raise HTTPError(422, "the file has no video stream")
        name = self.get_query_argument("filename", "") or "upload"
        stem, ext = os.path.splitext(os.path.basename(name.replace("\\", "/")))
        if ext.lower() not in VIDEO_EXTENSIONS:
            fmt = (info.format_name or "").split(",")[0]
            ext = _FORMAT_EXTENSIONS.get(fmt, ".mp4")
        try:
            video = await asyncio.to_thread(
                self.library.place, self._tmp, f"{slugify(stem) or 'upload'}{ext.lower()}", move=True,
                uploaded=True, title=stem or None, info=info,
            )
        except VideoIdTaken:
            self._discard()
            raise HTTPError(409, "too many videos with this name") from None
        except OSError as exc:
            self._discard()
            raise HTTPError(507, f"cannot store the upload: {exc.strerror}") from None
        self._tmp = None  # moved into the library
        if self.packager is not None:
            await self.packager.added(video, info)
        self.set_header("Location", f"/api/videos/{video.id}")
        self.write_json(await video_json(self.library, self.packager, video), status=201)

    def _discard(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def on_finish(self) -> None:
        self._discard()  # a failed or abandoned upload leaves nothing behind

    def on_connection_close(self) -> None:
        super().on_connection_close()  # ends a streamed request whose body will never complete
        self._discard()


def media_routes(library: MediaLibrary, packager: Packager | None, settings: Settings) -> list[tuple]:
    lib = {"library": library, "buffers": BufferPool()}
    both = {"library": library, "packager": packager}
    hls_root = {"root": str(library.hls_root)}
    return [
        (r"/api/video", DefaultVideoHandler, lib),
        (r"/api/videos", VideosHandler, {**both, "max_upload_bytes": settings.max_upload_bytes}),
        (rf"/api/videos/{_ID}/file", VideoFileHandler, lib),
        (rf"/api/videos/{_ID}", VideoHandler, both),
        (rf"{HLS_URL_PREFIX}/{PLAYLIST_PATH}", PlaylistHandler, hls_root),
        (rf"{HLS_URL_PREFIX}/{SEGMENT_PATH}", SegmentHandler, {"path": str(library.hls_root)}),
    ]
