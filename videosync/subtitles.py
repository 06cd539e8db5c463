"""Subtitles of a library video: sidecar files beside it and text streams inside it, as WebVTT.

A video `Movie.mkv` has the sidecars `Movie.srt`, `Movie.en.vtt`, `Movie.fr.forced.srt`, … in its
folder (the part between the stem and the extension names the language and flags), and any text
subtitle stream ffprobe finds in the file (mov_text, subrip, ass, webvtt); subtitle_tracks.py names
them. Everything is served as WebVTT: a .vtt sidecar as it is, an SRT sidecar converted once
(subtitle_format.py), a stream extracted once with ffmpeg (the packager does it beside packaging;
a request for one not extracted yet does it then). The converted files live under `.subs/{video
id}/` named by their source's revision, so a changed source is converted again. Every method that
touches the disk is blocking and meant for a thread; the `async` ones run their work in threads or
subprocesses.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .ffmpeg import Tools
from .subtitle_format import SubtitleError, to_vtt
from .subtitle_tracks import Track, probe_streams, sidecar_paths, sidecar_track, unique_labels

if TYPE_CHECKING:
    from .media import MediaLibrary
    from .video import VideoFile

log = logging.getLogger(__name__)

VTT_CONTENT_TYPE = "text/vtt; charset=utf-8"
CACHE_DIRNAME = ".subs"
EXTRACT_TIMEOUT_S = 120.0
_TRACK_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")


class TrackNotFound(LookupError):
    """The video has no subtitle track with this id: 404."""


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _revision(st: os.stat_result) -> str:
    return f"{st.st_size:x}-{st.st_mtime_ns:x}"


class Subtitles:
    """Lists, converts, extracts and stores the subtitles of the library's videos."""

    def __init__(self, library: MediaLibrary, tools: Tools | None = None, max_bytes: int = 1024**2) -> None:
        self.library = library
        self.tools = tools if tools is not None else library.tools
        self.max_bytes = max_bytes
        self._streams: dict[str, tuple[int, float, list[Track]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._probe_limit = asyncio.Semaphore(2)

    @property
    def cache_root(self) -> Path:
        return self.library.root / CACHE_DIRNAME

    def cache_dir(self, video_id: str) -> Path:
        return self.cache_root / video_id

    # -- listing -------------------------------------------------------------------------------
    def sidecars(self, video: VideoFile) -> list[Track]:
        """Blocking: the sidecar tracks (confined to the media dir)."""
        tracks = []
        for path in sidecar_paths(video.path):
            real = Path(os.path.realpath(path))
            if self.library.root in real.parents and real.is_file():
                tracks.append(sidecar_track(video.path, path))
        return tracks

    async def tracks(self, video: VideoFile) -> list[Track]:
        files = await asyncio.to_thread(self.sidecars, video)
        return unique_labels(files + await self.streams(video))

    async def streams(self, video: VideoFile) -> list[Track]:
        """The text subtitle streams in the file (ffprobe, cached until the file changes)."""
        cached = self._streams.get(video.id)
        if cached and cached[:2] == (video.size, video.mtime):
            return cached[2]
        if self.tools is None or not self.tools.ffprobe:
            return []
        async with self._probe_limit:
            found = await probe_streams(self.tools.ffprobe, video.path)
        self._streams[video.id] = (video.size, video.mtime, found)
        return found


    # -- serving -------------------------------------------------------------------------------
    async def vtt_path(self, video: VideoFile, track_id: str) -> Path:
        """A WebVTT file for the track: the sidecar itself, or its converted/extracted copy."""
        if not _TRACK_RE.match(track_id):
            raise TrackNotFound(track_id)
        track = next((t for t in await self.tracks(video) if t.id == track_id), None)
        if track is None:
            raise TrackNotFound(track_id)
        if track.path is not None and track.path.suffix.lower() == ".vtt":
            return track.path
        lock = self._locks.setdefault(video.id, asyncio.Lock())
        async with lock:  # one conversion of a track at a time; the others wait for its file
            if track.path is not None:
                return await asyncio.to_thread(self._converted, video, track)
            return await self._extracted(video, track)

    def _converted(self, video: VideoFile, track: Track) -> Path:
        assert track.path is not None
        st = track.path.stat()
        out = self.cache_dir(video.id) / f"{track.id}.{_revision(st)}.vtt"
        if out.is_file():
            return out
        data = track.path.read_bytes()
        try:
            text = to_vtt(data, track.path.name)
        except SubtitleError as exc:
            log.warning("subtitle file %s cannot be used: %s", track.path, exc)
            raise
        self._replace_cached(video.id, track.id, out, text)
        return out

    def _replace_cached(self, video_id: str, track_id: str, out: Path, text: str) -> None:
        write_atomic(out, text)
        for old in out.parent.glob(f"{track_id}.*.vtt"):
            if old != out:
                old.unlink(missing_ok=True)  # an older revision of the source

    async def _extracted(self, video: VideoFile, track: Track) -> Path:
        assert track.stream is not None
        out = self.cache_dir(video.id) / f"{track.id}.{video.size:x}-{int(video.mtime * 1e9):x}.vtt"
        if await asyncio.to_thread(out.is_file):
            return out
        if self.tools is None:
            raise TrackNotFound(track.id)
        await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part.vtt")
        proc = await asyncio.create_subprocess_exec(
            self.tools.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", str(video.path),
            "-map", f"0:{track.stream}", "-c:s", "webvtt", "-f", "webvtt", "-y", str(tmp),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), EXTRACT_TIMEOUT_S)
        except TimeoutError:
            err = b"timed out"
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
            log.warning("extracting subtitle stream %s of %s failed: %s", track.stream, video.path,
                        err.decode("utf-8", "replace")[-300:])
            raise SubtitleError("this subtitle stream could not be extracted")
        await asyncio.to_thread(self._settle, video.id, track.id, tmp, out)
        return out

    def _settle(self, video_id: str, track_id: str, tmp: Path, out: Path) -> None:
        os.replace(tmp, out)
        for old in out.parent.glob(f"{track_id}.*.vtt"):
            if old != out:
                old.unlink(missing_ok=True)

    async def extract_streams(self, video: VideoFile) -> list[Path]:
        """Extract every text stream of the video (the packager calls this with each job)."""
        done = []
        for track in await self.streams(video):
            try:
                done.append(await self.vtt_path(video, track.id))
            except SubtitleError as exc:
                log.info("subtitle stream %s of %s: %s", track.id, video.id, exc)
        return done

    # -- uploads ---------------------------------------------------------------------------------
    def store_upload(self, video: VideoFile, lang: str, data: bytes, filename: str = "") -> Track:
        """Blocking: validate an uploaded subtitle file and put it beside the (uploaded) video as
        `{stem}.{lang}.vtt`, replacing an earlier upload in that language."""
        if len(data) > self.max_bytes:
            raise SubtitleError(f"subtitle file larger than {self.max_bytes} bytes")
        if not data.strip():
            raise SubtitleError("empty upload: send the subtitle file as the request body")
        text = to_vtt(data, filename)
        path = video.path.with_name(f"{video.path.stem}.{lang}.vtt")
        write_atomic(path, text)
        return sidecar_track(video.path, path)

    def prune(self, present: set[str]) -> None:
        """Blocking: drop the converted copies of videos that are gone."""
        if not self.cache_root.is_dir():
            return
        for child in self.cache_root.iterdir():
            if child.name not in present and child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
                self._streams.pop(child.name, None)

    def remove(self, video: VideoFile) -> None:
        """Blocking: an uploaded video's sidecars and the converted copies (with the video)."""
        for path in sidecar_paths(video.path):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.cache_dir(video.id), ignore_errors=True)
        self._streams.pop(video.id, None)
