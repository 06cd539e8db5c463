"""The media library: the videos under --media-dir and their ids, kept in memory.

Ids are never turned into paths: they are looked up in the catalogue (catalogue.py: an id stays
with its file), and every path is re-checked with realpath so nothing outside the media dir (a
symlink, `..`) is served (media_dir.py). Every method that touches the disk (`scan`, `place`,
`remove`) is synchronous and meant for a thread (`await asyncio.to_thread(...)` or the async
wrappers); the lookups the request path uses (`get`, `has`, `default`) read only memory and one
stat. What a video is and how ids are made is video.py's; probes are cached by probe_cache.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import time
from dataclasses import replace
from pathlib import Path

from .catalogue import Catalogue, Entry, probe_record
from .ffmpeg import ProbeInfo, Tools
from .media_dir import UPLOAD_DIRNAME, MediaDir, is_inside, put_file
from .probe_cache import ProbeCache
from .video import (
    InvalidVideoId,
    VideoFile,
    VideoIdTaken,
    VideoNotFound,
    check_id,
    free_id,
    slugify,
    title_for,
)

# VideoFile is the library's item: importable from here as well as from video.py
__all__ = ["RESCAN_ON_MISS_S", "MediaLibrary", "VideoFile"]

log = logging.getLogger(__name__)

RESCAN_ON_MISS_S = 1.0  # an unknown id re-reads the dir at most this often


class MediaLibrary:
    """The catalogue of one media dir, kept in memory; probes are cached per file revision."""

    def __init__(self, media_dir: str | Path, tools: Tools | None = None,
                 default_video: str | None = None) -> None:
        self.dir = MediaDir(media_dir)
        self.root = self.dir.root
        self.tools = tools
        self.catalogue = Catalogue(self.root)
        self.probes = ProbeCache(tools, self.dir)
        self._default = default_video
        self._scanned_at = float("-inf")
        self._videos: dict[str, VideoFile] = {}

    @property
    def hls_root(self) -> Path:
        return self.dir.hls_root

    @property
    def upload_dir(self) -> Path:
        return self.dir.upload_dir

    # -- catalogue (blocking: run in a thread) --------------------------------------------------
    def scan(self) -> list[VideoFile]:
        """Re-read the media dir. Known files keep their ids; new ones get a free id from the name."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.catalogue.locked() as entries:
            found = dict(self.dir.walk())
            for rel, entry in list(entries.items()):
                if rel in found:
                    continue
                if entry.uploaded and rel.startswith(UPLOAD_DIRNAME + "/"):
                    stat = self.dir.stat(rel)  # session uploads live where the walk does not look
                    if stat is not None:
                        found[rel] = stat
                        continue
                del entries[rel]
            taken = {e.id for e in entries.values()}
            for rel in sorted(found):
                if rel not in entries:
                    vid = free_id(slugify(str(Path(rel).with_suffix("")).replace("/", "-")), taken)
                    entries[rel] = Entry(vid)
                    taken.add(vid)
            videos: dict[str, VideoFile] = {}
            for rel in sorted(found):
                real, st = found[rel]
                entry = entries[rel]
                videos[entry.id] = VideoFile(entry.id, real, title_for(rel, entry), st.st_size, st.st_mtime,
                                             entry.uploaded, entry.owner)
                self.probes.remember(entry, st.st_size, st.st_mtime)
        self._videos = videos
        self._scanned_at = time.monotonic()
        return list(videos.values())

    def place(
        self,
        source: Path,
        name: str,
        *,
        move: bool = False,
        video_id: str | None = None,
        owner: str | None = None,
        uploaded: bool = False,
        title: str | None = None,
        info: ProbeInfo | None = None,
    ) -> VideoFile:
        """Put `source` into the library as NAME (a file name: stem and extension) and return it.

        The one way a file enters the library (uploads, the package command). A session's upload
        (`owner`) goes under .uploads/ with an id no one can guess; anything else goes to the top of
        the media dir under a free name. It never overwrites; `video_id` asks for a given id
        (VideoIdTaken if held). `info`, the probe already made, is recorded with the file."""
        stem, ext = os.path.splitext(name)
        stem = slugify(stem) or "video"
        self.root.mkdir(parents=True, exist_ok=True)
        with self.catalogue.locked() as entries:
            taken = {e.id for e in entries.values()} | set(self._videos)
            if video_id is not None and check_id(video_id) in taken:
                raise VideoIdTaken(f"the id {video_id!r} is taken")
            if owner is not None:
                self.upload_dir.mkdir(parents=True, exist_ok=True)
                vid = video_id or f"{stem[:60]}-{secrets.token_hex(4)}"
                while vid in taken:
                    vid = f"{stem[:60]}-{secrets.token_hex(4)}"
                rel = f"{UPLOAD_DIRNAME}/{vid}{ext}"
                put_file(source, self.root / rel, move=move)
            else:
                rel = self.dir.put_free(source, video_id or stem, ext, entries, move=move)
                vid = video_id or free_id(slugify(Path(rel).with_suffix("").as_posix()), taken)
            real = self.root / rel
            st = real.stat()
            entry = Entry(vid, uploaded, owner, title, probe_record(info, st.st_size, st.st_mtime))
            entries[rel] = entry
        video = VideoFile(vid, real, title_for(rel, entry), st.st_size, st.st_mtime, uploaded, owner)
        self._videos[vid] = video
        if info is not None:
            self.probes.keep(vid, st.st_size, st.st_mtime, info)
        log.info("placed %s in the library as %s", rel, vid)
        return video

    def remove(self, video_id: str) -> VideoFile:
        """Delete an uploaded video, its catalogue entry and its packaged output."""
        video = self.get(video_id)
        if not video.uploaded:
            raise PermissionError("files the operator put in the media dir are read-only")
        with self.catalogue.locked() as entries:
            for rel, entry in list(entries.items()):
                if entry.id == video_id:
                    del entries[rel]
            video.path.unlink(missing_ok=True)
        self._videos.pop(video_id, None)
        self.probes.forget(video_id)
        shutil.rmtree(self.hls_dir(video_id), ignore_errors=True)
        from .subtitles import Subtitles  # imports this module

        Subtitles(self).remove(video)  # its uploaded subtitles and converted copies
        log.info("removed the uploaded video %s", video_id)
        return video

    # -- async wrappers --------------------------------------------------------------------------
    async def rescan(self) -> list[VideoFile]:
        return await asyncio.to_thread(self.scan)

    async def find(self, video_id: str) -> VideoFile:
        """`get`, re-reading the dir (in a thread, at most every second) for an unknown id."""
        try:
            return self.get(video_id)
        except VideoNotFound:
            if time.monotonic() - self._scanned_at < RESCAN_ON_MISS_S:
                raise
        await self.rescan()
        return self.get(video_id)

    # -- lookups (memory and one stat) -----------------------------------------------------------
    def videos(self) -> list[VideoFile]:
        return list(self._videos.values())

    def uploads(self, owner: str | None = None) -> list[VideoFile]:
        """Uploaded videos; of one session when `owner` is given."""
        return [v for v in self._videos.values() if v.uploaded and (owner is None or v.owner == owner)]

    def has(self, video_id: str) -> bool:
        """For SessionService(video_exists=...): does this id name a video? Memory only (no stat):
        it is asked on the WebSocket path; a file deleted by hand leaves with the next scan."""
        try:
            check_id(video_id)
        except InvalidVideoId:
            return False
        self._first_scan()
        return video_id in self._videos

    def get(self, video_id: str) -> VideoFile:
        """The video with this id, freshly stat'ed."""
        check_id(video_id)
        self._first_scan()
        video = self._videos.get(video_id)
        if video is None:
            raise VideoNotFound(video_id)
        return self._fresh(video)

    def _first_scan(self) -> None:
        # A server scans (in a thread) before it serves; this is for a library used without one.
        if self._scanned_at == float("-inf"):
            self.scan()

    def _fresh(self, video: VideoFile) -> VideoFile:
        real = Path(os.path.realpath(video.path))
        if not is_inside(real, self.root):
            raise VideoNotFound(video.id)  # swapped for a symlink out of the dir since the scan
        try:
            st = real.stat()
        except OSError:
            raise VideoNotFound(video.id) from None
        if (st.st_size, st.st_mtime) != (video.size, video.mtime):
            video = replace(video, path=real, size=st.st_size, mtime=st.st_mtime)
            self._videos[video.id] = video
        return video

    def default(self) -> VideoFile:
        """The video /api/video serves: --video (an id or a file name), else the first one the
        operator put there. Uploads are never the default."""
        self._first_scan()
        candidates = [v for v in self._videos.values() if not v.uploaded]
        if self._default:
            path = self.root / self._default
            candidates = [v for v in candidates if v.id == self._default or v.path == path
                          or v.path == Path(os.path.realpath(path))]
        for video in candidates:
            try:
                return self._fresh(video)
            except VideoNotFound:
                continue
        raise VideoNotFound(self._default or "no video in the media dir")

    def hls_dir(self, video_id: str) -> Path:
        return self.dir.hls_dir(video_id)

    def public_message(self, message: str) -> str:
        return self.dir.public_message(message)
