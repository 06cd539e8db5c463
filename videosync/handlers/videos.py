"""The video API: `GET /api/videos[/{id}]`, uploads (`POST /api/videos`), `DELETE /api/videos/{id}`.

Who may do what is uploads.py's; every file enters the library through `MediaLibrary.place`.
An upload is refused before any of its body is stored when the caller may not upload or the
declared length is over a limit; a chunked body is counted as it arrives. A refused or interrupted
upload leaves nothing behind. No answer names a server path: errors name the video's id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tornado.web import HTTPError, stream_request_body

from ..ffmpeg import ProbeError, probe
from ..media import MediaLibrary
from ..media_dir import VIDEO_EXTENSIONS
from ..packager import Packager
from ..sessions import SessionService
from ..subtitles import Subtitles
from ..uploads import HOW_TO_AUTHENTICATE, Caller, Denied, Quotas, UploadMode, check_upload, identify
from ..video import InvalidVideoId, VideoFile, VideoIdTaken, VideoNotFound, slugify
from .base import BaseHandler
from .cors import CORS_METHODS

log = logging.getLogger(__name__)

# container names ffprobe reports -> the extension an upload is stored under
_FORMAT_EXTENSIONS = {"matroska": ".mkv", "webm": ".webm", "mpegts": ".ts", "avi": ".avi", "mov": ".mp4"}


@dataclass(frozen=True)
class Access:
    """What the video API needs to decide who may do what (built once by media_routes)."""

    sessions: SessionService | None
    admin_token: str | None
    mode: UploadMode
    quotas: Quotas
    max_upload_bytes: int
    subtitles: Subtitles | None = None


def lookup(library: MediaLibrary, video_id: str) -> VideoFile:
    try:
        return library.get(video_id)
    except InvalidVideoId as exc:
        raise HTTPError(400, str(exc)) from None
    except VideoNotFound:
        raise HTTPError(404, "video not found") from None


async def find(library: MediaLibrary, video_id: str) -> VideoFile:
    """As lookup, but an id this process has not seen yet re-reads the dir (in a thread)."""
    try:
        return await library.find(video_id)
    except InvalidVideoId as exc:
        raise HTTPError(400, str(exc)) from None
    except VideoNotFound:
        raise HTTPError(404, "video not found") from None


async def video_json(
    library: MediaLibrary, packager: Packager | None, video: VideoFile, caller: Caller | None = None,
    subtitles: Subtitles | None = None,
) -> dict[str, Any]:
    """The API shape of one video (PROTOCOL.md §4), with what this caller may do with it."""
    info, error = await library.probes.probe(video)
    hls = packager.status(video.id) if packager else None
    tracks = await subtitles.tracks(video) if subtitles else []
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
        "uploaded": video.uploaded,
        "session": video.owner is not None,  # belongs to a session: deleted when the session ends
        "deletable": caller is not None and caller.may_delete(video),
        "subtitles": [t.to_json(video.id) for t in tracks],
    }


class MediaHandler(BaseHandler):
    """A handler that knows who is calling: the admin, a session's host, or anyone."""

    def initialize(self, library: MediaLibrary, packager: Packager | None, access: Access) -> None:
        self.library = library
        self.packager = packager
        self.access = access
        self.caller = Caller()

    async def identify(self) -> Caller:
        self.caller = await identify(
            self.access.sessions, self.access.admin_token, self.request.headers.get("Authorization"),
            self.get_query_argument("session", None),
        )
        return self.caller

    def denied(self, exc: Denied) -> HTTPError:
        return HTTPError(exc.status, str(exc))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:  # set here: sending an error clears the headers set before
            self.set_header("WWW-Authenticate", 'Bearer realm="videosync"')
        super().write_error(status_code, **kwargs)


class VideoHandler(MediaHandler):
    """GET /api/videos/{id}: one video. DELETE: an upload, by its session's host or the admin."""

    cors_methods = (*CORS_METHODS, "DELETE")

    async def get(self, video_id: str) -> None:
        video = await find(self.library, video_id)
        caller = await self.identify()
        self.write_json(await video_json(self.library, self.packager, video, caller, self.access.subtitles))

    async def delete(self, video_id: str) -> None:
        caller = await self.identify()
        if not caller.admin and caller.session is None:
            why = f"deleting needs the session's host or the admin: {HOW_TO_AUTHENTICATE}"
            raise self.denied(Denied(401, why))
        video = await find(self.library, video_id)
        if not video.uploaded:
            raise HTTPError(403, "files the operator put in the media dir are read-only")
        if not caller.may_delete(video):
            raise HTTPError(403, "only the host of the session that uploaded it, or the admin, may delete it")
        try:
            if self.packager is not None:
                await self.packager.remove(video.id)
            else:
                await asyncio.to_thread(self.library.remove, video.id)
        except VideoNotFound:
            raise HTTPError(404, "video not found") from None
        except OSError as exc:
            log.warning("deleting %s failed: %s", video.path, exc)
            raise HTTPError(500, "the video could not be deleted") from None
        self.set_status(204)
        self.finish()


@stream_request_body
class VideosHandler(MediaHandler):
    """GET: the videos this caller may see. POST: upload one video as the raw request body
    (`?filename=` names it)."""

    refused_drain_bytes = 64 * 1024 * 1024

    def initialize(self, library: MediaLibrary, packager: Packager | None, access: Access) -> None:
        super().initialize(library, packager, access)
        self._file: IO[bytes] | None = None
        self._tmp: Path | None = None
        self._received = 0
        self._reserved = 0
        self._room = 0
        self._limit_message = ""
        self._error: HTTPError | None = None

    async def get(self) -> None:
        caller = await self.identify()
        if caller.presented and not caller.admin and caller.session is None:
            raise self.denied(Denied(401, f"these credentials are not valid: {HOW_TO_AUTHENTICATE}"))
        videos = [v for v in await self.library.rescan() if caller.may_see(v)]
        subs = self.access.subtitles
        items = await asyncio.gather(*(video_json(self.library, self.packager, v, caller, subs)
                                       for v in videos))
        self.write_json({"videos": list(items)})

    # -- upload ------------------------------------------------------------------------------
    async def prepare(self) -> None:
        if self.request.method != "POST":
            return
        caller = await self.identify()
        # A chunked body has no declared length: data_received enforces the cap, so Tornado's own
        # limit (which would drop the connection without an answer) must never be reached first.
        self.lift_body_limit()
        try:
            check_upload(self.access.mode, caller)
        except Denied as exc:
            return self._refuse(self.denied(exc))
        cap = self.access.max_upload_bytes
        room, why = self.access.quotas.room(caller)
        self._room = min(cap, room)
        self._limit_message = why if room < cap else f"upload larger than {cap} bytes"
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._room:
            return self._refuse(HTTPError(413, self._limit_message))
        upload_dir = self.library.upload_dir
        await asyncio.to_thread(upload_dir.mkdir, parents=True, exist_ok=True)
        self._tmp = upload_dir / f"{secrets.token_hex(8)}.part"
        self._file = await asyncio.to_thread(open, self._tmp, "xb")

    def _refuse(self, error: HTTPError) -> None:
        """Refuse the upload before any of it is stored. The answer waits for the body when it is
        on its way and small enough to drop (data_received drops it): hanging up on unread data
        resets the connection, and the answer with it; nginx in front turns that into a 502.
        A client waiting for `100 Continue`, or a body past the allowance, is answered now."""
        length = self.request.headers.get("Content-Length", "")
        waits = self.request.headers.get("Expect", "").lower() == "100-continue"
        if waits or (length.isdigit() and int(length) > self.refused_drain_bytes):
            raise error
        self._error = error
        self._room = 0

    async def data_received(self, chunk: bytes) -> None:
        # Raising here would only drop the connection: remember the problem, answer from post()
        self._received += len(chunk)
        if self._error is None and self._received > self._room:
            self._error = HTTPError(413, self._limit_message)
            self._discard()
        if self._error is not None:
            # The rest of a refused body is read and dropped, so that a client still sending gets
            # its answer on an intact connection (closing on unread data resets it, and the answer
            # with it); past the allowance, answer now and hang up.
            if self._received > self._room + self.refused_drain_bytes and not self._finished:
                self.send_error(self._error.status_code, exc_info=(HTTPError, self._error, None))
            return
        if self._file is None:
            return
        self.access.quotas.reserve(self.caller, len(chunk))  # counted while it arrives
        self._reserved += len(chunk)
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
        part = self._tmp
        try:
            info = await probe(part, self.library.tools)
        except ProbeError as exc:
            self._discard()
            log.info("upload refused: %s", exc)
            reason = self.library.public_message(str(exc).replace(str(part), "the upload"))
            reason = reason.replace(part.name, "the upload")
            raise HTTPError(415, f"not a video ffmpeg can read: {reason}") from None
        if info.video_codec is None:
            self._discard()
            raise HTTPError(422, "the file has no video stream")
        name = self.get_query_argument("filename", "") or "upload"
        stem, ext = os.path.splitext(os.path.basename(name.replace("\\", "/")))
        if ext.lower() not in VIDEO_EXTENSIONS:
            fmt = (info.format_name or "").split(",")[0]
            ext = _FORMAT_EXTENSIONS.get(fmt, ".mp4")
        caller = self.caller
        try:
            video = await asyncio.to_thread(
                self.library.place, part, f"{slugify(stem) or 'upload'}{ext.lower()}", move=True,
                owner=caller.owner, uploaded=True, title=stem or None, info=info,
            )
        except VideoIdTaken:
            self._discard()
            raise HTTPError(409, "too many videos with this name") from None
        except OSError as exc:
            self._discard()
            raise HTTPError(507, f"cannot store the upload: {exc.strerror}") from None
        self._tmp = None  # moved into the library, where it counts against the quota from now on
        self._release()
        log.info("upload %s stored (%d bytes, %s)", video.id, video.size,
                 "admin" if caller.admin else "a session's" if caller.owner else "anonymous")
        if self.packager is not None:
            await self.packager.added(video, info)
        self.set_header("Location", f"/api/videos/{video.id}")
        self.write_json(await video_json(self.library, self.packager, video, caller, self.access.subtitles),
                        status=201)

    def _release(self) -> None:
        self.access.quotas.release(self.caller, self._reserved)
        self._reserved = 0

    def _discard(self) -> None:
        self._release()
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
