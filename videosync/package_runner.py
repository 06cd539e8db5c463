"""Packaging one video of the library, when the packager's queue says so: claim it so no other
process packages it at once, run ffmpeg (hls_ffmpeg.py) reporting each status to the board, then
extract its text subtitle streams. Also removes the output of videos that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil

from .ffmpeg import ProbeInfo, Tools
from .hls import PACKAGING, JobStatus, claim
from .hls_ffmpeg import package_video
from .media import MediaLibrary
from .packaging_status import StatusBoard
from .subtitle_format import SubtitleError
from .subtitles import Subtitles
from .video import VideoNotFound

log = logging.getLogger(__name__)


class PackageRunner:
    def __init__(self, library: MediaLibrary, tools: Tools | None, board: StatusBoard, *,
                 ladder: bool, stall_timeout: float, threads: int | None) -> None:
        self.library = library
        self.tools = tools
        self.board = board
        self.ladder = ladder
        self.stall_timeout = stall_timeout
        self.threads = threads
        self.subtitles = Subtitles(library, tools)  # text streams are extracted with each job
        self._infos: dict[str, ProbeInfo] = {}  # probes handed in with a job: not probed again

    def hand_probe(self, video_id: str, info: ProbeInfo) -> None:
        self._infos[video_id] = info

    def forget(self, video_id: str) -> None:
        self._infos.pop(video_id, None)

    async def package(self, video_id: str) -> None:
        try:
            video = self.library.get(video_id)
        except VideoNotFound:
            return
        info = self._infos.pop(video_id, None) or self.library.probes.cached(video)
        with contextlib.ExitStack() as held:
            mine = await asyncio.to_thread(held.enter_context, claim(self.library.hls_root, video_id))
            if not mine:
                self.board.changed(video_id, JobStatus(
                    PACKAGING, source_size=video.size, source_mtime=video.mtime,
                    message="being packaged by another process"))
                return
            await package_video(
                video.path, self.library.hls_dir(video_id), self.tools, ladder=self.ladder,
                on_status=lambda job: self.board.changed(video_id, job), stall_timeout=self.stall_timeout,
                info=info, threads=self.threads,
            )
        try:
            await self.subtitles.extract_streams(video)
        except (SubtitleError, OSError) as exc:  # the video plays without them
            log.warning("subtitles of %s not extracted: %s", video_id, exc)

    def prune(self, present: set[str], pending: set[str]) -> None:
        """Delete the packaged output of videos that are gone (deleted or renamed away); blocking."""
        self.subtitles.prune(present)
        root = self.library.hls_root
        if not root.is_dir():
            return
        for child in root.iterdir():
            name = child.name
            if name in present or name in pending or name.startswith("."):
                continue
            if child.is_dir() and not child.is_symlink():
                log.info("removing the HLS packaging of %s: its video is gone", name)
                shutil.rmtree(child, ignore_errors=True)
