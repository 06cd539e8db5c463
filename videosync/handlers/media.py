"""The media routes: the default video (Go's /api/video), library files, the video API, HLS.

`media_routes(library, packager, settings, sessions)` returns the URL specs; app.py adds them to
its table. The JSON API and uploads are in videos.py.
"""

from __future__ import annotations

from typing import Any

from tornado.web import HTTPError

from ..media import MediaLibrary
from ..packager import Packager
from ..packaging_status import HLS_URL_PREFIX
from ..sessions import SessionService
from ..settings import Settings
from ..subtitles import Subtitles
from ..uploads import Quotas, UploadMode
from ..video import VideoFile, VideoNotFound
from .hls import PLAYLIST_PATH, SEGMENT_PATH, PlaylistHandler, SegmentHandler
from .ranged import BufferPool, RangeFileHandler
from .subtitles import SubtitleFileHandler, SubtitlesHandler
from .videos import Access, VideoHandler, VideosHandler, lookup

_ID = r"([^/]+)"  # validated by the library: a bad id is a JSON 400, not a router 404


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
        return lookup(self.library, video_id)


def media_routes(library: MediaLibrary, packager: Packager | None, settings: Settings,
                 sessions: SessionService | None = None) -> list[tuple[str, type, dict[str, Any]]]:
    lib = {"library": library, "buffers": BufferPool()}
    subtitles = packager.subtitles if packager is not None else Subtitles(library)
    subtitles.max_bytes = settings.max_subtitle_bytes
    access = Access(sessions, settings.admin_token, UploadMode(settings.uploads),
                    Quotas(library, settings.upload_quota, settings.media_quota), settings.max_upload_bytes,
                    subtitles)
    api = {"library": library, "packager": packager, "access": access}
    hls_root = {"root": str(library.hls_root)}
    return [
        (r"/api/video", DefaultVideoHandler, lib),
        (r"/api/videos", VideosHandler, api),
        (rf"/api/videos/{_ID}/file", VideoFileHandler, lib),
        (rf"/api/videos/{_ID}/subtitles", SubtitlesHandler, api),
        (rf"/api/videos/{_ID}/subtitles/([^/]+)\.vtt", SubtitleFileHandler,
         {"library": library, "subtitles": subtitles}),
        (rf"/api/videos/{_ID}", VideoHandler, api),
        (rf"{HLS_URL_PREFIX}/{PLAYLIST_PATH}", PlaylistHandler, hls_root),
        (rf"{HLS_URL_PREFIX}/{SEGMENT_PATH}", SegmentHandler, {"path": str(library.hls_root)}),
    ]
