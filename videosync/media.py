"""The media library: the videos under --media-dir, their ids, and safe path resolution.

Ids are never turned into paths: they are looked up in the catalogue (catalogue.py: an id stays
with its file), and every path is re-checked with realpath so nothing outside the media dir (a
symlink, `..`) is served. Every method that touches the disk (`scan`, `place`, `remove`) is
synchronous and meant for a thread (`await asyncio.to_thread(...)` or the async wrappers); the
lookups the request path uses (`get`, `has`, `default`) read only memory and one stat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .catalogue import Catalogue, Entry, probe_record
from .ffmpeg import ProbeError, ProbeInfo, Tools, probe

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg", ".mpeg", ".ogv", ".flv", ".wmv",
})
HLS_DIRNAME = ".hls"  # packaged output, one folder per video id
UPLOAD_DIRNAME = ".uploads"  # partial uploads, and the videos that belong to a session
RESCAN_ON_MISS_S = 1.0  # an unknown id re-reads the dir at most this often
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


class VideoIdTaken(ValueError):
    """`place` was asked for an id another file already has."""


@dataclass(frozen=True)
class VideoFile:
    id: str
    path: Path  # realpath, inside the media dir
    title: str
    size: int
    mtime: float
    uploaded: bool = False  # came in over HTTP: never the default video; deletable
    owner: str | None = None  # the session key of a session's upload

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


def _title(rel: str, entry: Entry) -> str:
    derived = Path(rel).with_suffix("").name.replace("_", " ").replace("-", " ").strip()
    return entry.title or derived or entry.id


def _free_id(base: str, taken: set[str]) -> str:
    vid, n = base, 1
    while vid in taken:
        n += 1
        vid = f"{base}-{n}"
    return vid


def put_file(source: Path, dest: Path, *, move: bool) -> None:
    """Put `source` at `dest`, never overwriting (FileExistsError): a hard link when the filesystem
    has them, else a copy (or, for `move`, a rename) over a name claimed first with O_EXCL."""
    try:
        os.link(source, dest)
    except FileExistsError:
        raise
    except OSError:
        os.close(os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        try:
            if move:
                os.replace(source, dest)
            else:
                shutil.copy2(source, dest)  # keeps the mtime
        except OSError:
            dest.unlink(missing_ok=True)
            raise
        return
    if move:
        source.unlink()


class MediaLibrary:
    """The catalogue of one media dir, kept in memory; probes are cached per file revision."""

    def __init__(self, media_dir: str | Path, tools: Tools | None = None,
                 default_video: str | None = None) -> None:
        self.root = Path(os.path.realpath(media_dir))
        self.tools = tools
        self.catalogue = Catalogue(self.root)
        self._default = default_video
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

    # -- catalogue (blocking: run in a thread) --------------------------------------------------
    def scan(self) -> list[VideoFile]:
        """Re-read the media dir. Known files keep their ids; new ones get a free id from the name."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.catalogue.locked() as entries:
            found = dict(self._walk())
            for rel, entry in list(entries.items()):
                if rel in found:
                    continue
                if entry.uploaded and rel.startswith(UPLOAD_DIRNAME + "/"):
                    stat = self._stat(rel)  # session uploads live where the walk does not look
                    if stat is not None:
                        found[rel] = stat
                        continue
                del entries[rel]
            taken = {e.id for e in entries.values()}
            for rel in sorted(found):
                if rel not in entries:
                    vid = _free_id(slugify(str(Path(rel).with_suffix("")).replace("/", "-")), taken)
                    entries[rel] = Entry(vid)
                    taken.add(vid)
            videos: dict[str, VideoFile] = {}
            for rel in sorted(found):
                real, st = found[rel]
                entry = entries[rel]
                videos[entry.id] = VideoFile(entry.id, real, _title(rel, entry), st.st_size, st.st_mtime,
                                             entry.uploaded, entry.owner)
                self._remember(entry, st)
        self._videos = videos
        self._scanned_at = time.monotonic()
        return list(videos.values())

    def _walk(self) -> Iterator[tuple[str, tuple[Path, os.stat_result]]]:
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                    continue
                candidate = Path(dirpath) / name
                rel = candidate.relative_to(self.root).as_posix()
                stat = self._stat(rel)
                if stat is not None:
                    yield rel, stat

    def _stat(self, rel: str) -> tuple[Path, os.stat_result] | None:
        real = Path(os.path.realpath(self.root / rel))
        if not is_inside(real, self.root):
            log.warning("skipping %s: it points outside the media dir", rel)
            return None
        try:
            return real, real.stat()
        except OSError:
            return None

    def _remember(self, entry: Entry, st: os.stat_result) -> None:
        info = entry.probe_for(st.st_size, st.st_mtime)
        if info is not None and entry.id not in self._probes:
            self._probes[entry.id] = (st.st_size, st.st_mtime, info, None)

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
                rel = self._put_free(source, video_id or stem, ext, entries, move=move)
                vid = video_id or _free_id(slugify(Path(rel).with_suffix("").as_posix()), taken)
            real = self.root / rel
            st = real.stat()
            entry = Entry(vid, uploaded, owner, title, probe_record(info, st.st_size, st.st_mtime))
            entries[rel] = entry
        video = VideoFile(vid, real, _title(rel, entry), st.st_size, st.st_mtime, uploaded, owner)
        self._videos[vid] = video
        if info is not None:
            self._probes[vid] = (st.st_size, st.st_mtime, info, None)
        log.info("placed %s in the library as %s", rel, vid)
        return video

    def _put_free(self, source: Path, stem: str, ext: str, entries: dict[str, Entry], *, move: bool) -> str:
        for n in range(1, 1000):
            rel = f"{stem}{ext}" if n == 1 else f"{stem}-{n}{ext}"
            if rel in entries:
                continue
            try:
                put_file(source, self.root / rel, move=move)
            except FileExistsError:
                continue
            return rel
        raise VideoIdTaken("too many videos with this name")

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
        self._probes.pop(video_id, None)
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

    def public_message(self, message: str) -> str:
        """`message` without this server's paths (an ffmpeg error names the files it read):
        answers show paths relative to the media dir, the log keeps them whole."""
        return message.replace(str(self.root) + os.sep, "").replace(str(self.root), ".")

    # -- probing -----------------------------------------------------------------------------
    def cached_probe(self, video: VideoFile) -> ProbeInfo | None:
        cached = self._probes.get(video.id)
        return cached[2] if cached and cached[:2] == (video.size, video.mtime) else None

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
                log.info("cannot probe %s: %s", video.path, exc)  # the path for the log only
                info, error = None, self.public_message(str(exc))
            except OSError as exc:
                info, error = None, f"cannot run ffprobe: {exc.strerror}"
        self._probes[video.id] = (video.size, video.mtime, info, error)
        return info, error
