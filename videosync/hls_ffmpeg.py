"""Packaging one video to HLS with ffmpeg: decide copy/transcode, build the command, run it and
report each status change. Where the output goes and what its statuses mean is hls.py's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import ffmpeg as ffmpeg_python

from .ffmpeg import FfmpegFailed, FfmpegMissing, ProbeError, ProbeInfo, Progress, Tools, probe, run_ffmpeg
from .hls import (
    FAILED,
    MASTER,
    PACKAGING,
    PLAYLIST,
    READY,
    JobStatus,
    PackMode,
    playlist_info,
    source_rev,
    write_ready,
)

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 2
# (height, video bitrate) of the --ladder renditions; those taller than the source are dropped
LADDER = ((360, "800k"), (720, "2800k"), (1080, "5000k"))


# -- deciding and building the ffmpeg command -------------------------------------------------


def decide_mode(info: ProbeInfo, ladder: bool) -> PackMode:
    if info.video_codec is None:
        raise ProbeError("no video stream")
    if ladder:
        return PackMode.LADDER
    # 4:2:0 8-bit H.264 plays in every browser; anything else (HEVC, VP9, 10-bit) is transcoded
    video_ok = info.video_codec == "h264" and info.pix_fmt in (None, "yuv420p", "yuvj420p")
    if not video_ok:
        return PackMode.TRANSCODE
    return PackMode.COPY if info.audio_codec in (None, "aac") else PackMode.COPY_VIDEO


def ladder_rungs(height: int | None) -> list[tuple[int, str]]:
    """The renditions for a source of this height: never upscaled, always at least two."""
    rungs = [r for r in LADDER if height is None or r[0] <= height]
    if len(rungs) >= 2:
        return rungs
    top = height - height % 2 if height else LADDER[0][0]
    if rungs and top > rungs[0][0]:
        return [rungs[0], (top, "1400k")]  # e.g. 480p: 360p plus the source size
    half = max(2, (top // 2) - (top // 2) % 2)
    return [(half, "400k"), (top, "800k")]


def _x264(preset: str) -> dict[str, object]:
    return {
        "c:v": "libx264", "preset": preset, "pix_fmt": "yuv420p",
        # a keyframe every 2 s so every segment starts with one and seeking lands on time
        "force_key_frames": f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", "sc_threshold": 0,
    }


def build_args(source: Path, out_dir: Path, info: ProbeInfo, mode: PackMode, tools: Tools,
               preset: str = "veryfast", threads: int | None = None) -> list[str]:
    # a bounded share of the machine: decoder, encoder and filter threads alike
    bound: dict[str, object] = {"threads": threads} if threads else {}
    inp = ffmpeg_python.input(str(source), **bound)
    has_audio = info.audio_codec is not None
    hls = {
        "format": "hls", "hls_time": SEGMENT_SECONDS, "hls_playlist_type": "event",
        "hls_flags": "temp_file+independent_segments", "hls_segment_type": "mpegts",
    }
    audio = {"c:a": "aac", "b:a": "128k", "ac": 2} if has_audio else {}
    if mode == PackMode.LADDER:
        rungs = ladder_rungs(info.height)
        split = inp["v:0"].filter_multi_output("split", len(rungs))
        videos = [split[i].filter("scale", -2, h) for i, (h, _) in enumerate(rungs)]
        streams = videos + ([inp["a:0"]] * len(rungs) if has_audio else [])
        stream_map = " ".join(
            f"v:{i},a:{i}" if has_audio else f"v:{i}" for i in range(len(rungs))
        )
        bitrates = {f"b:v:{i}": rate for i, (_, rate) in enumerate(rungs)}
        out = ffmpeg_python.output(
            *streams, str(out_dir / "v%v" / PLAYLIST),
            hls_segment_filename=str(out_dir / "v%v" / "seg_%05d.ts"),
            var_stream_map=stream_map, master_pl_name=MASTER,
            **hls, **_x264(preset), **bitrates, **audio, **bound,
        )
    else:
        streams = [inp["v:0"]] + ([inp["a:0"]] if has_audio else [])
        copy_video = mode in (PackMode.COPY, PackMode.COPY_VIDEO)
        codecs: dict[str, object] = {"c:v": "copy"} if copy_video else _x264(preset)
        if mode == PackMode.COPY and has_audio:
            audio = {"c:a": "copy"}
        out = ffmpeg_python.output(
            *streams, str(out_dir / PLAYLIST),
            hls_segment_filename=str(out_dir / "seg_%05d.ts"), **hls, **codecs, **audio, **bound,
        )
    limits = ["-filter_complex_threads", str(threads)] if threads else []
    out = out.global_args("-hide_banner", "-nostdin", "-loglevel", "error",
                          "-progress", "pipe:1", "-nostats", *limits)
    args: list[str] = out.overwrite_output().compile(cmd=tools.ffmpeg)  # ffmpeg-python is untyped
    return args


# -- one packaging run ------------------------------------------------------------------------


async def package_video(
    source: Path,
    hls_dir: Path,
    tools: Tools | None,
    *,
    ladder: bool = False,
    on_status: Callable[[JobStatus], None] | None = None,
    stall_timeout: float = 120.0,
    info: ProbeInfo | None = None,
    threads: int | None = None,
) -> JobStatus:
    """Package `source` into `hls_dir`/REV, reporting each status change; never raises for a bad
    input, a missing ffmpeg or a full disk: those end as a `failed` status with a message. `info`
    is the probe already made of this file (probed here when None)."""
    st = await asyncio.to_thread(source.stat)
    rev = source_rev(st.st_size, st.st_mtime)
    out_dir = hls_dir / rev
    status = JobStatus(PACKAGING, source_size=st.st_size, source_mtime=st.st_mtime,
                       pid=os.getpid(), rev=rev)

    def publish(new: JobStatus) -> None:
        nonlocal status
        status = new
        if on_status is not None:
            on_status(new)

    publish(status)
    try:
        # never mix segments of two runs or revisions
        await asyncio.to_thread(_clear_outputs, hls_dir, out_dir)
        if tools is None:
            raise FfmpegMissing("ffmpeg is not available")
        if info is None:
            info = await probe(source, tools)
        mode = decide_mode(info, ladder)
        publish(replace(status, mode=mode, duration=info.duration, updated=time.time()))
        args = build_args(source, out_dir, info, mode, tools, threads=threads)
        log.info("packaging %s (%s): %s", source.name, mode, " ".join(args))
        last = [0.0]

        def progress(p: Progress) -> None:
            now = time.monotonic()
            if not p.done and now - last[0] < 0.5:
                return  # a status write and a fan-out per 0.5 s is plenty
            last[0] = now
            duration = status.duration
            fraction = min(1.0, p.seconds / duration) if duration else 0.0
            publish(replace(status, progress=round(fraction, 4), speed=p.speed, updated=time.time()))

        await run_ffmpeg(args, progress, stall_timeout)
        final = await asyncio.to_thread(playlist_info, out_dir)
        if final is None or not final.ended or final.segments == 0:
            raise FfmpegFailed("ffmpeg finished without a complete playlist")
        ready = replace(status, status=READY, progress=1.0, message="", updated=time.time())
        await asyncio.to_thread(write_ready, out_dir, ready)
        publish(ready)
    except (ProbeError, FfmpegFailed, FfmpegMissing, OSError) as exc:
        message = str(exc) or type(exc).__name__
        log.warning("packaging %s failed: %s", source.name, message)
        publish(replace(status, status=FAILED, message=message, updated=time.time()))
    return status


def _clear_outputs(hls_dir: Path, out_dir: Path) -> None:
    if hls_dir.is_dir():
        for child in hls_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
