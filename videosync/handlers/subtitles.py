"""Subtitle routes: the WebVTT of one track, and the list and upload of a video's subtitles.

`GET|HEAD /api/videos/{id}/subtitles/{track}.vtt` goes out through `RangedFileHandler`, the same
range and sendfile path as the videos; an SRT sidecar or an embedded stream is converted first
(in a thread or an ffmpeg subprocess, never on the event loop) and cached. `POST
/api/videos/{id}/subtitles?lang=en&filename=x.srt` stores a subtitle file beside an uploaded video,
for the same callers who may delete that video; the body is read whole (it is small and capped)
and parsed before anything is written.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado.web import HTTPError, stream_request_body

from ..media import MediaLibrary
from ..packager import Packager
from ..subtitle_format import SubtitleError
from ..subtitle_tracks import normalize_lang
from ..subtitles import VTT_CONTENT_TYPE, Subtitles, TrackNotFound
from ..uploads import HOW_TO_AUTHENTICATE, Denied
from .ranged import RangedFileHandler
from .videos import Access, MediaHandler, find

log = logging.getLogger(__name__)


class SubtitleFileHandler(RangedFileHandler):
    """One track as WebVTT. Revalidated on each load (an owner may replace an upload)."""

    send_etag = True

    def initialize(self, library: MediaLibrary, subtitles: Subtitles) -> None:
        super().initialize()
        self.library = library
        self.subtitles = subtitles

    def set_extra_headers(self) -> None:
        self.set_header("Cache-Control", "no-cache")

    async def get(self, video_id: str, track_id: str) -> None:
        await self._serve(video_id, track_id, include_body=True)

    async def head(self, video_id: str, track_id: str) -> None:
        await self._serve(video_id, track_id, include_body=False)

    async def _serve(self, video_id: str, track_id: str, include_body: bool) -> None:
        video = await find(self.library, video_id)
        try:
            path = await self.subtitles.vtt_path(video, track_id)
        except TrackNotFound:
            raise HTTPError(404, "subtitle track not found") from None
        except SubtitleError as exc:
            raise HTTPError(422, f"this subtitle track cannot be read: {exc}") from None
        except OSError:
            raise HTTPError(404, "subtitle track not found") from None
        await self.serve(path, VTT_CONTENT_TYPE, include_body)


@stream_request_body
class SubtitlesHandler(MediaHandler):
    """GET: the video's tracks. POST: add (or replace) an uploaded video's subtitles in a language."""

    def initialize(self, library: MediaLibrary, packager: Packager | None, access: Access) -> None:
        super().initialize(library, packager, access)
        assert access.subtitles is not None
        self.subtitles: Subtitles = access.subtitles
        self._body = bytearray()
        self._too_large = False

    async def get(self, video_id: str) -> None:
        video = await find(self.library, video_id)
        tracks = await self.subtitles.tracks(video)
        self.write_json({"subtitles": [t.to_json(video.id) for t in tracks]})

    async def prepare(self) -> None:
        if self.request.method != "POST":
            return
        caller = await self.identify()
        if not caller.admin and caller.session is None:
            raise self.denied(Denied(401, f"adding subtitles needs the session's host or the admin: "
                                          f"{HOW_TO_AUTHENTICATE}"))
        cap = self.subtitles.max_bytes
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise HTTPError(413, f"subtitle file larger than {cap} bytes")
        # data_received enforces the cap (a chunked body declares none); Tornado's own limit would
        # drop the connection without an answer, so it must never be reached first.
        self.lift_body_limit()

    def data_received(self, chunk: bytes) -> None:
        # Raising here would only drop the connection: remember it and answer 413 from post()
        self._too_large = self._too_large or len(self._body) + len(chunk) > self.subtitles.max_bytes
        if not self._too_large:
            self._body += chunk

    async def post(self, video_id: str) -> None:
        if self._too_large:
            raise HTTPError(413, f"subtitle file larger than {self.subtitles.max_bytes} bytes")
        video = await find(self.library, video_id)
        if not video.uploaded:
            raise HTTPError(403, "files the operator put in the media dir are read-only")
        if not self.caller.may_delete(video):
            raise HTTPError(403, "only the host of the session that uploaded it, or the admin, "
                                 "may add subtitles to it")
        try:
            lang = normalize_lang(self.get_query_argument("lang", "") or "und")
        except SubtitleError as exc:
            raise HTTPError(400, str(exc)) from None
        filename = self.get_query_argument("filename", "")
        try:
            track = await asyncio.to_thread(self.subtitles.store_upload, video, lang, bytes(self._body),
                                            filename)
        except SubtitleError as exc:
            raise HTTPError(400, str(exc)) from None
        except OSError as exc:
            log.warning("storing subtitles for %s failed: %s", video.id, exc)
            raise HTTPError(507, f"cannot store the subtitles: {exc.strerror}") from None
        log.info("subtitles %s added to %s", track.id, video.id)
        body: dict[str, Any] = track.to_json(video.id)
        self.set_header("Location", str(body["url"]))
        self.write_json(body, status=201)
