"""A video's subtitle tracks: what a sidecar's name or a stream's tags say (language, flags,
label), where the sidecars of a video are, and which text streams a file holds (ffprobe)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .languages import language_name, short_code
from .subtitle_format import SubtitleError

SIDECAR_EXTENSIONS = frozenset({".srt", ".vtt"})
TEXT_CODECS = frozenset({"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text"})  # not bitmaps
FLAGS = {"forced": "forced", "sdh": "SDH", "cc": "CC"}
_LANG_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}\Z")


class Source(StrEnum):
    FILE = "file"  # a sidecar the operator (or an upload) put beside the video
    STREAM = "stream"  # a text stream inside the video file


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


def unique_labels(tracks: list[Track]) -> list[Track]:
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


async def probe_streams(ffprobe: str, path: Path) -> list[Track]:
    """The text subtitle streams ffprobe finds in a video file ([] when it cannot tell)."""
    proc = await asyncio.create_subprocess_exec(
        ffprobe, "-v", "error", "-select_streams", "s", "-print_format", "json",
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
