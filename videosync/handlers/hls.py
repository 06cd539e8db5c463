"""HLS output under /media/hls/{id}/{rev}/…: playlists never cached, segments cached forever.

Segment names are never reused within a revision folder (REV changes with the source), so a
segment can be `immutable`. Playlists of a running job grow, so they are `no-cache` and read in
one piece: ffmpeg replaces them by rename, and a stat-then-read could mix two versions.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from tornado.web import HTTPError, StaticFileHandler

from .base import CORS_EXPOSE_MEDIA, BaseHandler

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPES = {".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
# one video id, one revision folder, an optional rendition folder, a file: nothing else
_HLS_DIRS = r"[A-Za-z0-9][A-Za-z0-9_-]*/[0-9a-f]+-[0-9a-f]+/(?:v\d+/)?[A-Za-z0-9_]+"
PLAYLIST_PATH = rf"({_HLS_DIRS}\.m3u8)"
SEGMENT_PATH = rf"({_HLS_DIRS}\.(?:ts|m4s|mp4))"


def _confined(root: str, relative: str) -> str:
    """The real path of `relative` under `root`, or 404 (symlinks out, `..`, NUL)."""
    if "\x00" in relative:
        raise HTTPError(404, "not found")
    real_root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(real_root, relative))
    if not path.startswith(real_root + os.sep):
        raise HTTPError(404, "not found")
    return path


class PlaylistHandler(BaseHandler):
    expose_headers = CORS_EXPOSE_MEDIA

    def initialize(self, root: str) -> None:
        self.root = root

    async def get(self, relative: str) -> None:
        await self._serve(relative, include_body=True)

    async def head(self, relative: str) -> None:
        await self._serve(relative, include_body=False)

    async def _serve(self, relative: str, include_body: bool) -> None:
        if not relative.endswith(".m3u8"):
            raise HTTPError(404, "not found")
        path = _confined(self.root, relative)
        try:
            body = await asyncio.to_thread(Path(path).read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise HTTPError(404, "not found") from None
        self.set_header("Content-Type", PLAYLIST_TYPE)
        self.set_header("Cache-Control", "no-cache")
        if include_body:
            self.finish(body)
        else:
            self.set_header("Content-Length", str(len(body)))
            self.finish()


class SegmentHandler(BaseHandler, StaticFileHandler):
    """Tornado's StaticFileHandler (ranges, HEAD, If-Modified-Since) with our CORS and caching."""

    expose_headers = CORS_EXPOSE_MEDIA

    def initialize(self, path: str, default_filename: str | None = None) -> None:  # type: ignore[override]
        StaticFileHandler.initialize(self, path, default_filename)

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        st = os.stat(abspath)  # never hash a file to version it
        return f"{st.st_mtime_ns:x}-{st.st_size:x}"

    def compute_etag(self) -> str | None:
        return None  # segments are immutable; Last-Modified suffices

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if os.path.splitext(absolute_path)[1] not in SEGMENT_TYPES:
            raise HTTPError(404, "not found")
        _confined(root, os.path.relpath(absolute_path, root))
        return super().validate_absolute_path(root, absolute_path)

    def get_content_type(self) -> str:
        return SEGMENT_TYPES[os.path.splitext(self.absolute_path or "")[1]]

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        BaseHandler.write_error(self, status_code, **kwargs)
