"""The media library: the videos under --media-dir, their ids, and safe path resolution.

Ids are never turned into paths: they are looked up in the catalogue built by scanning, and every
path is re-checked with realpath so nothing outside the media dir (a symlink, `..`) is served.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .ffmpeg import ProbeError, ProbeInfo, Tools, probe

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg", ".mpeg", ".ogv", ".flv", ".wmv",
})
HLS_DIRNAME = ".hls"  # packaged output, one folder per video id
UPLOAD_DIRNAME = ".uploads"
RESCAN_ON_MISS_S = 1.0  # partial uploads; renamed into the library only once complete
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")
CONTENT_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg", ".ogv": "video/ogg", ".flv": "video/x-flv", ".wmv": "video/x-ms-wmv",
}


class InvalidVideoId(ValueError):
    """An id that can never name a video (bad characters, NUL, slashes): 400."""


class VideoNotFound(LookupError):
    """No video has this id (or its file left the media dir): 404."""


@dataclass(frozen=True)
class VideoFile:
    id: str
    path: Path  # realpath, inside the media dir
    title: str
    size: int
    mtime: float

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.path.suffix.lower(), "application/octet-stream")


def slugify(text: str) -> str:
    slug = _SLUG_RE.sub("-", text).strip("-_")[:100]
    return slug if slug and slug[0].isalnum() else f"video-{slug}".strip("-")


def check_id(video_id: str) -> str:
    if not _ID_RE.match(video_id):
        raise InvalidVideoId(f"invalid video id {video_id[:80]!r}")
    return video_id


def is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class MediaLibrary:
    """The catalogue of one media dir. Scans are cheap (stat only); probes are cached per file."""

    def __init__(self, media_dir: str | Path, tools: Tools | None = None,
                 default_video: str | None = None) -> None:
        self.root = Path(os.path.realpath(media_dir))
        self.tools = tools
        self._default = default_video
        self._default_id: str | None = None
        self._scanned_at = float("-inf")
        self._videos: dict[str, VideoFile] = {}
        self._probes: dict[str, tuple[int, float, ProbeInfo | None, str | None]] = {}
        self._probe_limit = asyncio.Semaphore(4)

    @property
    def hls_root(self) -> Path:
        return self.root / HLS_DIRNAME

    @property
    def upload_dir(self) -> Path:
        return self.root / UPLOAD_DIRNAME

    # -- catalogue -------------------------------------------------------------------------
    def scan(self) -> list[VideoFile]:
        """Re-read the media dir. Ids come from file names; clashes get -2, -3 in path order."""
        found: list[tuple[str, Path, os.stat_result]] = []  # (path without suffix, real path, stat)
        self.root.mkdir(parents=True, exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                    continue
                candidate = Path(dirpath) / name
                real = Path(os.path.realpath(candidate))
                if not is_inside(real, self.root):
                    log.warning("skipping %s: it points outside the media dir", candidate)
                    continue
                try:
                    st = real.stat()
                except OSError:
                    continue
                found.append((str(candidate.relative_to(self.root).with_suffix("")), real, st))
        videos: dict[str, VideoFile] = {}
        for rel, real, st in found:
            base = slugify(rel.replace(os.sep, "-"))
            vid, n = base, 1
            while vid in videos:
                n += 1
                vid = f"{base}-{n}"
            title = Path(rel).name.replace("_", " ").replace("-", " ").strip() or vid
            videos[vid] = VideoFile(vid, real, title, st.st_size, st.st_mtime)
        self._videos = videos
        self._scanned_at = time.monotonic()
        return list(videos.values())

    def videos(self) -> list[VideoFile]:
        return list(self._videos.values())

    def has(self, video_id: str) -> bool:
        """For SessionService(video_exists=...): does this id name a video right now?"""
        try:
            self.get(video_id)
        except (InvalidVideoId, VideoNotFound):
            return False
        return True

    def get(self, video_id: str) -> VideoFile:
        """The video with this id, freshly stat'ed; re-scans once if the id is unknown."""
        check_id(video_id)
        video = self._videos.get(video_id)
        if video is None and time.monotonic() - self._scanned_at > RESCAN_ON_MISS_S:
            self.scan()  # a file dropped in since; throttled so unknown ids cannot force a walk each
            video = self._videos.get(video_id)
        if video is None:
            raise VideoNotFound(video_id)
        return self._fresh(video)

    def _fresh(self, video: VideoFile) -> VideoFile:
        real = Path(os.path.realpath(video.path))
        if not is_inside(real, self.root):
            raise VideoNotFound(video.id)  # swapped for a symlink out of the dir since the scan
        try:
            st = real.stat()
        except OSError:
            raise VideoNotFound(video.id) from None
        if (st.st_size, st.st_mtime) != (video.size, video.mtime):
            video = VideoFile(video.id, real, video.title, st.st_size, st.st_mtime)
            self._videos[video.id] = video
        return video

    def default(self) -> VideoFile:
        """The video /api/video serves: --video (an id or a file name), else the first one."""
        video = self._videos.get(self._default_id) if self._default_id else None
        if video is not None:
            try:
                return self._fresh(video)
            except VideoNotFound:
                pass
        if time.monotonic() - self._scanned_at > RESCAN_ON_MISS_S:
            self.scan()
        video = self._pick_default()
        if video is None:
            raise VideoNotFound(self._default or "no video in the media dir")
        self._default_id = video.id
        return video

    def _pick_default(self) -> VideoFile | None:
        if not self._default:
            return next(iter(self._videos.values()), None)
        path = self.resolve_file(self._default)
        for video in self._videos.values():
            if video.id == self._default or video.path == path:
                return video
        return None

    def resolve_file(self, relative: str) -> Path | None:
        """A file path under the media dir, or None if it escapes it, is missing or has a NUL."""
        if "\x00" in relative:
            return None
        real = Path(os.path.realpath(self.root / relative))
        if not is_inside(real, self.root) or real == self.root or not real.is_file():
            return None
        return real

    def hls_dir(self, video_id: str) -> Path:
        return self.hls_root / check_id(video_id)

    # -- probing -----------------------------------------------------------------------------
    async def probe(self, video: VideoFile) -> tuple[ProbeInfo | None, str | None]:
        """(info, None) or (None, why it cannot be read); cached until the file changes."""
        cached = self._probes.get(video.id)
        if cached and cached[:2] == (video.size, video.mtime):
            return cached[2], cached[3]
        if self.tools is None:
            return None, "ffmpeg is not available"
        async with self._probe_limit:
            try:
                info, error = await probe(video.path, self.tools), None
            except ProbeError as exc:
                info, error = None, str(exc)
            except OSError as exc:
                info, error = None, f"cannot run ffprobe: {exc}"
        self._probes[video.id] = (video.size, video.mtime, info, error)
        return info, error
