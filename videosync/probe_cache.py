"""The probes of the library's files, kept per file revision (size, mtime): each revision is probed
once (at most four at a time), or never when its probe was recorded in the catalogue."""

from __future__ import annotations

import asyncio
import logging

from .catalogue import Entry
from .ffmpeg import ProbeError, ProbeInfo, Tools, probe
from .media_dir import MediaDir
from .video import VideoFile

log = logging.getLogger(__name__)


class ProbeCache:
    def __init__(self, tools: Tools | None, media_dir: MediaDir) -> None:
        self.tools = tools
        self.dir = media_dir
        self._probes: dict[str, tuple[int, float, ProbeInfo | None, str | None]] = {}
        self._limit = asyncio.Semaphore(4)

    def cached(self, video: VideoFile) -> ProbeInfo | None:
        cached = self._probes.get(video.id)
        return cached[2] if cached and cached[:2] == (video.size, video.mtime) else None

    def keep(self, video_id: str, size: int, mtime: float, info: ProbeInfo) -> None:
        """The probe made of a file as it was placed."""
        self._probes[video_id] = (size, mtime, info, None)

    def remember(self, entry: Entry, size: int, mtime: float) -> None:
        """The probe the catalogue recorded of this revision, unless one is held already."""
        info = entry.probe_for(size, mtime)
        if info is not None and entry.id not in self._probes:
            self._probes[entry.id] = (size, mtime, info, None)

    def forget(self, video_id: str) -> None:
        self._probes.pop(video_id, None)

    async def probe(self, video: VideoFile) -> tuple[ProbeInfo | None, str | None]:
        """(info, None) or (None, why it cannot be read); cached until the file changes."""
        cached = self._probes.get(video.id)
        if cached and cached[:2] == (video.size, video.mtime):
            return cached[2], cached[3]
        if self.tools is None:
            return None, "ffmpeg is not available"
        async with self._limit:
            try:
                info, error = await probe(video.path, self.tools), None
            except ProbeError as exc:
                log.info("cannot probe %s: %s", video.path, exc)  # the path for the log only
                info, error = None, self.dir.public_message(str(exc))
            except OSError as exc:
                info, error = None, f"cannot run ffprobe: {exc.strerror}"
        self._probes[video.id] = (video.size, video.mtime, info, error)
        return info, error
