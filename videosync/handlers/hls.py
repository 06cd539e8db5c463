"""HLS output under /media/hls/{id}/{rev}/…: playlists never cached, segments cached forever.

Segment names are never reused within a revision folder (REV changes with the source), so a
segment can be `immutable`. Playlists of a running job grow, so they are `no-cache`; ffmpeg
replaces them by rename, and `serve` takes size and dates from the opened descriptor, so one
answer is always one whole version. Both are served by `RangedFileHandler` (ranges as Go,
sendfile), the same path as the videos.
"""

from __future__ import annotations

import os

from tornado.web import HTTPError

from .ranged import RangedFileHandler

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


class PlaylistHandler(RangedFileHandler):
    """A playlist: never cached, and validated by an ETag of the file's inode, nanosecond mtime
    and size rather than Last-Modified (a live playlist changes several times a second)."""

    send_etag = True
    send_last_modified = False
    accelerated = False  # a few KiB, and validators nginx cannot give (accel.py)

    def initialize(self, root: str) -> None:
        super().initialize()
        self.root = root

    def set_extra_headers(self) -> None:
        self.set_header("Cache-Control", "no-cache")

    def _etag(self, st: os.stat_result) -> str:
        return f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'

    async def get(self, relative: str) -> None:
        await self.serve(self._path(relative), PLAYLIST_TYPE, include_body=True)

    async def head(self, relative: str) -> None:
        await self.serve(self._path(relative), PLAYLIST_TYPE, include_body=False)

    def _path(self, relative: str) -> str:
        if not relative.endswith(".m3u8"):
            raise HTTPError(404, "not found")
        return _confined(self.root, relative)


class SegmentHandler(RangedFileHandler):
    """A segment: the same range serving as the videos, cached forever (names are never reused
    within a revision folder)."""

    def initialize(self, path: str, default_filename: str | None = None) -> None:
        super().initialize()
        self.root = path

    def set_extra_headers(self) -> None:
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")

    async def get(self, relative: str) -> None:
        await self.serve(*self._target(relative), include_body=True)

    async def head(self, relative: str) -> None:
        await self.serve(*self._target(relative), include_body=False)

    def _target(self, relative: str) -> tuple[str, str]:
        content_type = SEGMENT_TYPES.get(os.path.splitext(relative)[1])
        if content_type is None:
            raise HTTPError(404, "not found")
        return _confined(self.root, relative), content_type
