"""Where a video's HLS output lives and what state it is in: statuses, revisions, playlists, the
packaging lock. The ffmpeg run that writes the output is hls_ffmpeg.py's.

Output for video ID lives in `<media>/.hls/ID/`, one folder per source revision REV (from the
source's size and mtime, so a replaced source never reuses the URL of a segment that was served as
immutable) holding `index.m3u8` + `seg_NNNNN.ts`, or, with a ladder, `master.m3u8` +
`vN/index.m3u8` + `vN/seg_NNNNN.ts`. Playlists are EVENT playlists that grow while ffmpeg runs
(ffmpeg renames each new playlist into place) and segments appear by rename (`-hls_flags
temp_file`), so a reader never sees half a file. The status lives in memory (the packager's);
the disk keeps only `REV/ready.json`, written once ffmpeg exited cleanly and the playlist ends with
`#EXT-X-ENDLIST`, so a restart knows what is done. Whoever packages a video holds
`.hls/.locks/ID` (flock), so a server and the package command never package it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

READY_FILE = "ready.json"
LOCKS_DIRNAME = ".locks"
PLAYLIST = "index.m3u8"
MASTER = "master.m3u8"


class PackStatus(StrEnum):
    """Where a video's packaging stands (the `status` of `GET /api/videos/{id}` and mediaStatus)."""

    NONE = "none"  # never packaged
    QUEUED = "queued"
    PACKAGING = "packaging"
    READY = "ready"
    FAILED = "failed"


class PackMode(StrEnum):
    """How a source becomes HLS (chosen by `decide_mode`)."""

    COPY = "copy"  # H.264 + AAC (or no audio): both streams copied
    COPY_VIDEO = "copy-video"  # H.264 copied, the audio re-encoded
    TRANSCODE = "transcode"
    LADDER = "ladder"  # several renditions + a master playlist


# the short names the packaging code compares with
QUEUED, PACKAGING, READY, FAILED = (
    PackStatus.QUEUED, PackStatus.PACKAGING, PackStatus.READY, PackStatus.FAILED
)


@dataclass(frozen=True)
class JobStatus:
    status: PackStatus
    progress: float = 0.0  # 0..1 of the source duration
    message: str = ""
    mode: PackMode | None = None
    duration: float | None = None
    speed: float | None = None  # x realtime
    source_size: int | None = None
    source_mtime: float | None = None
    pid: int | None = None  # the process packaging it (a CLI run and a server may share a dir)
    rev: str | None = None  # the output folder of this source revision
    updated: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> JobStatus:
        # a status file this package wrote: its values are trusted to have the fields' types
        known: dict[str, Any] = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        mode = known.get("mode")
        return cls(**{**known, "status": PackStatus(known.get("status", PackStatus.NONE)),
                      "mode": None if mode is None else PackMode(mode)})


def read_ready(hls_dir: Path, size: int, mtime: float) -> JobStatus | None:
    """The finished packaging of this revision of the source, if there is one (blocking)."""
    rev = source_rev(size, mtime)
    try:
        job = JobStatus.from_json(json.loads((hls_dir / rev / READY_FILE).read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("unreadable %s: %s", hls_dir / rev / READY_FILE, exc)
        return None
    return replace(job, status=READY, rev=rev, source_size=size, source_mtime=mtime)


def write_ready(out_dir: Path, status: JobStatus) -> None:
    tmp = out_dir / f".{READY_FILE}.tmp"
    tmp.write_text(json.dumps(status.to_json()))
    os.replace(tmp, out_dir / READY_FILE)


@contextlib.contextmanager
def claim(hls_root: Path, video_id: str, wait: bool = False) -> Iterator[bool]:
    """Hold the packaging lock of one video (blocking: call in a thread); yields False when
    another process holds it and `wait` is false. Released when the process dies, whatever way."""
    locks = hls_root / LOCKS_DIRNAME
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / video_id, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def source_rev(size: int, mtime: float) -> str:
    return f"{size:x}-{int(mtime * 1000):x}"


def rev_dir(hls_dir: Path, job: JobStatus | None) -> Path | None:
    return hls_dir / job.rev if job is not None and job.rev else None


def main_playlist(out_dir: Path) -> Path | None:
    """The playlist a player opens: master when there is a ladder, else index."""
    for name in (MASTER, PLAYLIST):
        if (out_dir / name).is_file():
            return out_dir / name
    return None


def media_playlist(out_dir: Path) -> Path:
    """The first rendition's media playlist (the one whose length is the packaged edge)."""
    return out_dir / "v0" / PLAYLIST if (out_dir / "v0").is_dir() else out_dir / PLAYLIST


@dataclass(frozen=True)
class PlaylistInfo:
    segments: int
    seconds: float
    ended: bool


def parse_playlist(text: str) -> PlaylistInfo:
    segments, seconds, ended = 0, 0.0, False
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            try:
                seconds += float(line[8:].split(",", 1)[0])
                segments += 1
            except ValueError:
                continue
        elif line.strip() == "#EXT-X-ENDLIST":
            ended = True
    return PlaylistInfo(segments, seconds, ended)


def playlist_info(out_dir: Path) -> PlaylistInfo | None:
    try:
        return parse_playlist(media_playlist(out_dir).read_text("utf-8", "replace"))
    except OSError:
        return None
