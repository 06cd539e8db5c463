"""`python -m videosync package INPUT [--id ID] [--ladder] [--media-dir DIR]`.

Puts INPUT into the media dir (a hard link when possible, else a copy, by the library's `place`)
and packages it there with the server's packaging code, showing a progress bar on a terminal and
plain lines otherwise. The media dir comes from the server's settings (--media-dir, else
VIDEOSYNC_MEDIA_DIR, else ./media). A server running on the same media dir finds the video's lock
held (hls.claim) and leaves the job to this command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .ffmpeg import FfmpegMissing, find_tools
from .hls import FAILED, PACKAGING, QUEUED, READY, JobStatus, claim
from .hls_ffmpeg import package_video
from .media import MediaLibrary
from .media_dir import VIDEO_EXTENSIONS, is_inside
from .settings import SettingsError, from_sources
from .video import InvalidVideoId, VideoFile, VideoIdTaken, check_id, slugify

BAR_WIDTH = 30
PLAIN_EVERY_S = 2.0


def add_package_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "package", help="package one video to HLS in the media dir",
        description="Put a video into the media dir and package it to HLS (progress on stderr).",
    )
    parser.add_argument("input", help="the video file")
    parser.add_argument("--id", help="the video's id in the library (default: from the file name)")
    parser.add_argument("--ladder", action="store_true", help="several renditions + a master playlist")
    parser.add_argument(
        "--media-dir", default=None,
        help="the library (env VIDEOSYNC_MEDIA_DIR; default ./media), as the server's --media-dir",
    )
    return parser


class ProgressReport:
    """A bar redrawn in place on a terminal; a line every few seconds in a log."""

    def __init__(
        self, name: str, stream: TextIO, tty: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.stream = stream
        self.tty = tty
        self.clock = clock
        self._last_line = 0.0
        self._last_state = ""

    def __call__(self, status: JobStatus) -> None:
        line = describe(status)
        if self.tty:
            fill = int(BAR_WIDTH * status.progress)
            self.stream.write(f"\r{self.name} [{'#' * fill}{'.' * (BAR_WIDTH - fill)}] {line}\x1b[K")
            if status.status not in (QUEUED, PACKAGING):
                self.stream.write("\n")
        elif status.status != self._last_state or self.clock() - self._last_line >= PLAIN_EVERY_S:
            self.stream.write(f"{self.name}: {line}\n")
            self._last_line = self.clock()
        self._last_state = status.status
        self.stream.flush()


def describe(status: JobStatus) -> str:
    """`42.0%  190.5x realtime  ETA 0:12  (copy)`, or the final state."""
    if status.status == READY:
        return f"ready ({status.mode})"
    if status.status == FAILED:
        return f"failed: {status.message}"
    parts = [f"{100 * status.progress:5.1f}%"]
    if status.speed:
        parts.append(f"{status.speed:.1f}x realtime")
        if status.duration:
            eta = status.duration * (1 - status.progress) / status.speed
            parts.append(f"ETA {int(eta) // 60}:{int(eta) % 60:02d}")
    if status.mode:
        parts.append(f"({status.mode})")
    return "  ".join(parts)


def place_in_library(library: MediaLibrary, source: Path, video_id: str | None) -> VideoFile:
    """INPUT as a video of the library: found there if it is inside the media dir, else placed
    (linked or copied) by the library's one way in, under ID.ext (default: from its name)."""
    real = Path(os.path.realpath(source))
    videos = library.scan()
    if is_inside(real, library.root):
        found = next((v for v in videos if v.path == real), None)
        if found is None:
            raise ValueError(f"{source} is in the media dir but not a video file it lists")
        if video_id and video_id != found.id:
            raise ValueError(f"{source} is already in the library as {found.id!r}; drop --id or rename it")
        return found
    suffix = source.suffix.lower() if source.suffix.lower() in VIDEO_EXTENSIONS else ".mp4"
    stem = check_id(video_id) if video_id else slugify(source.stem)
    if video_id and (library.root / f"{stem}{suffix}").exists():
        raise ValueError(f"{stem}{suffix} already exists in the media dir; pass another --id")
    try:
        return library.place(source, f"{stem}{suffix}", video_id=video_id)
    except VideoIdTaken as exc:
        raise ValueError(f"{exc}; pass another --id") from None


def run_package(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if not source.is_file():
        print(f"videosync package: {source}: no such file", file=sys.stderr)
        return 2
    try:
        settings = from_sources(argparse.Namespace(media_dir=args.media_dir))
        tools = find_tools()
    except SettingsError as exc:
        print(f"videosync package: {exc}", file=sys.stderr)
        return 2
    except FfmpegMissing as exc:
        print(f"videosync package: {exc}", file=sys.stderr)
        return 1
    library = MediaLibrary(settings.media_dir, tools)
    try:
        video = place_in_library(library, source, args.id)
    except (ValueError, InvalidVideoId, OSError) as exc:
        print(f"videosync package: {exc}", file=sys.stderr)
        return 2
    report = ProgressReport(video.id, sys.stderr, sys.stderr.isatty())
    # a server on the same media dir leaves a video alone while someone holds its lock
    with claim(library.hls_root, video.id, wait=True):
        final = asyncio.run(package_video(video.path, library.hls_dir(video.id), tools, ladder=args.ladder,
                                          on_status=report, threads=settings.packager_threads))
    if final.status != READY:
        return 1
    playlist = "master.m3u8" if args.ladder else "index.m3u8"
    print(f"/media/hls/{video.id}/{final.rev}/{playlist}")
    return 0
