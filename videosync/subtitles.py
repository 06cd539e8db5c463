"""Subtitles of a library video: sidecar files beside it and text streams inside it, as WebVTT.

A video `Movie.mkv` has the sidecars `Movie.srt`, `Movie.en.vtt`, `Movie.fr.forced.srt`, … in its
folder (the part between the stem and the extension names the language and flags), and any text
subtitle stream ffprobe finds in the file (mov_text, subrip, ass, webvtt). Everything is served as
WebVTT: a .vtt sidecar as it is, an SRT sidecar converted once, a stream extracted once with ffmpeg
(the packager does it beside packaging; a request for one not extracted yet does it then). The
converted files live under `.subs/{video id}/` named by their source's revision, so a changed
source is converted again. Every method that touches the disk is blocking and meant for a thread;
the `async` ones run their work in threads or subprocesses.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import srt
import webvtt

from .ffmpeg import Tools
from .languages import language_name, short_code

if TYPE_CHECKING:
    from .media import MediaLibrary
    from .video import VideoFile

log = logging.getLogger(__name__)

VTT_CONTENT_TYPE = "text/vtt; charset=utf-8"
CACHE_DIRNAME = ".subs"
SIDECAR_EXTENSIONS = frozenset({".srt", ".vtt"})
TEXT_CODECS = frozenset({"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text"})  # not bitmaps
FLAGS = {"forced": "forced", "sdh": "SDH", "cc": "CC"}
EXTRACT_TIMEOUT_S = 120.0
_LANG_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}\Z")
_TRACK_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")
# SRT text allows what WebVTT cue text does not: <font> tags, ASS overrides such as {\an8}
_FONT_TAG_RE = re.compile(r"</?font\b[^>]*>", re.IGNORECASE)
_ASS_OVERRIDE_RE = re.compile(r"\{\\[^}]*\}")
_KEPT_TAG_RE = re.compile(r"&lt;(/?)([ibu])&gt;", re.IGNORECASE)


class Source(StrEnum):
    FILE = "file"  # a sidecar the operator (or an upload) put beside the video
    STREAM = "stream"  # a text stream inside the video file


class SubtitleError(ValueError):
    """A subtitle file that cannot be used (not SRT/WebVTT, no cues, bad encoding): a 400."""


class TrackNotFound(LookupError):
    """The video has no subtitle track with this id: 404."""


@dataclass(frozen=True)
class Track:
    id: str  # stable: from the sidecar's name, or `s{stream index}`
    lang: str  # BCP 47-ish, "und" when unknown
    label: str
    source: Source
    path: Path | None = None  # the sidecar
    stream: int | None = None  # the stream index in the video file

    def to_json(self, video_id: str) -> dict[str, object]:
        return {"id": self.id, "lang": self.lang, "label": self.label, "source": self.source.value,
                "url": f"/api/videos/{video_id}/subtitles/{self.id}.vtt"}


# -- names ---------------------------------------------------------------------------------------
def normalize_lang(code: str) -> str:
    """`en`, `pt-br` → `pt-BR`; SubtitleError for anything not shaped like a language tag."""
    if not _LANG_RE.match(code):
        raise SubtitleError(f"{code[:40]!r} is not a language code such as en or pt-BR")
    first, *rest = short_code(code).split("-")
    return "-".join([first.lower(), *(p.upper() if len(p) == 2 else p.lower() for p in rest)])


def parse_suffix(middle: str) -> tuple[str, list[str]]:
    """The language and flags named between a sidecar's stem and extension (`en.forced`)."""
    lang, flags = "und", []
    for part in (p for p in middle.split(".") if p):
        if part.lower() in FLAGS:
            flags.append(FLAGS[part.lower()])
        elif lang == "und" and _LANG_RE.match(part):
            lang = normalize_lang(part)
    return lang, flags


def make_label(lang: str, flags: list[str] | None = None, title: str | None = None) -> str:
    base = title or language_name(lang) or ("Subtitles" if lang == "und" else lang)
    return f"{base} ({', '.join(flags)})" if flags else base


def _unique_labels(tracks: list[Track]) -> list[Track]:
    seen: dict[str, int] = {}
    out = []
    for track in tracks:
        n = seen[track.label] = seen.get(track.label, 0) + 1
        out.append(track if n == 1 else Track(track.id, track.lang, f"{track.label} {n}", track.source,
                                               track.path, track.stream))
    return out


def sidecar_paths(video_path: Path) -> list[Path]:
    """The subtitle files beside a video (blocking)."""
    prefix = video_path.stem + "."
    try:
        names = sorted(os.listdir(video_path.parent))
    except OSError:
        return []
    return [video_path.parent / n for n in names
            if n.startswith(prefix) and not n.startswith(".")
            and os.path.splitext(n)[1].lower() in SIDECAR_EXTENSIONS]


def sidecar_track(video_path: Path, path: Path) -> Track:
    middle = path.name[len(video_path.stem) + 1:]  # "en.forced.srt"
    lang, flags = parse_suffix(middle[: -len(path.suffix)])
    track_id = re.sub(r"[^a-z0-9]+", "-", middle.lower()).strip("-")[:64] or "file"
    return Track(track_id, lang, make_label(lang, flags), Source.FILE, path=path)


# -- parsing and conversion ------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM); SRT files in the wild are often Windows-1252, so that next."""
    if b"\x00" in data:
        raise SubtitleError("this is a binary file, not subtitles")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise SubtitleError("the file is neither UTF-8 nor Windows-1252 text") from None


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _cue_text(content: str) -> str:
    text = _ASS_OVERRIDE_RE.sub("", _FONT_TAG_RE.sub("", content))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _KEPT_TAG_RE.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}>", text)  # the tags both have
    lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
    return "\n".join(lines) or " "


def srt_to_vtt(text: str) -> str:
    """SRT → WebVTT; SubtitleError (with where) for a malformed file or one without cues."""
    try:
        cues = list(srt.parse(text.replace("\r\n", "\n"), ignore_errors=False))
    except srt.SRTParseError as exc:
        raise SubtitleError(f"not a valid SRT file (near character {exc.expected_start}): "
                            f"{exc.unmatched_content[:60]!r}") from None
    except (ValueError, TypeError) as exc:
        raise SubtitleError(f"not a valid SRT file: {exc}") from None
    if not cues:
        raise SubtitleError("the file has no subtitle cues")
    out = ["WEBVTT", ""]
    for cue in cues:
        out += [f"{_vtt_time(cue.start.total_seconds())} --> {_vtt_time(cue.end.total_seconds())}",
                _cue_text(cue.content), ""]
    return "\n".join(out)


def check_vtt(text: str) -> str:
    """`text` if it is WebVTT with at least one cue, else SubtitleError."""
    try:
        captions = webvtt.from_buffer(io.StringIO(text)).captions
    except (webvtt.errors.MalformedFileError, ValueError, IndexError) as exc:
        raise SubtitleError(f"not a valid WebVTT file: {exc}") from None
    if not captions:
        raise SubtitleError("the file has no subtitle cues")
    return text if text.endswith("\n") else text + "\n"


def to_vtt(data: bytes, filename: str = "") -> str:
    """An uploaded subtitle file (SRT or WebVTT, told apart by content) as WebVTT text."""
    text = decode(data)
    if text.lstrip("\ufeff").startswith("WEBVTT"):
        return check_vtt(text.lstrip("\ufeff"))
    if filename.lower().endswith(".vtt"):
        raise SubtitleError("a WebVTT file must start with the line WEBVTT")
    return srt_to_vtt(text)


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
        return _unique_labels(files + await self.streams(video))

    async def streams(self, video: VideoFile) -> list[Track]:
        """The text subtitle streams in the file (ffprobe, cached until the file changes)."""
        cached = self._streams.get(video.id)
        if cached and cached[:2] == (video.size, video.mtime):
            return cached[2]
        if self.tools is None or not self.tools.ffprobe:
            return []
        async with self._probe_limit:
            found = await self._probe_streams(video.path)
        self._streams[video.id] = (video.size, video.mtime, found)
        return found

    async def _probe_streams(self, path: Path) -> list[Track]:
        assert self.tools is not None and self.tools.ffprobe
        proc = await asyncio.create_subprocess_exec(
            self.tools.ffprobe, "-v", "error", "-select_streams", "s", "-print_format", "json",
            "-show_entries", "stream=index,codec_name:stream_tags=language,title:stream_disposition=forced",
            "--", str(path), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            return []
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        try:
            streams = json.loads(out or b"{}").get("streams") or []
        except ValueError:
            return []
        tracks = []
        for s in streams:
            if s.get("codec_name") not in TEXT_CODECS or not isinstance(s.get("index"), int):
                continue
            tags = s.get("tags") or {}
            try:
                lang = normalize_lang(str(tags.get("language", "und")))
            except SubtitleError:
                lang = "und"
            flags = ["forced"] if (s.get("disposition") or {}).get("forced") else []
            title = str(tags["title"])[:80] if tags.get("title") else None
            tracks.append(Track(f"s{s['index']}", lang, make_label(lang, flags, title), Source.STREAM,
                                stream=s["index"]))
        return tracks

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
