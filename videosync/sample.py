"""The sample video a fresh checkout plays: a test pattern with a running clock and a beep a second.

testsrc2 draws its own clock (hh:mm:ss.mmm and the frame number); rendering it small and scaling
it up with nearest-neighbour makes the clock big enough to compare two screens by eye, without
drawtext (which needs fonts the bundled ffmpeg may lack). The beep starts exactly on each second,
so sync can also be checked by ear. Tests use `make_clip` for their short clips.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from .ffmpeg import FfmpegMissing, Tools, find_tools
from .media import MediaLibrary

log = logging.getLogger(__name__)

SAMPLE_NAME = "sample.mp4"
SAMPLE_SECONDS = 60


def clip_args(
    out: Path,
    tools: Tools,
    *,
    seconds: float = SAMPLE_SECONDS,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    video_codec: str = "libx264",
    audio_codec: str | None = "aac",
    keyframe_seconds: float = 2.0,
    faststart: bool = True,
) -> list[str]:
    scale = 2 if width >= 320 and height >= 180 else 1
    video = (
        ffmpeg_python.input(
            f"testsrc2=size={width // scale}x{height // scale}:rate={fps}", f="lavfi", t=seconds
        )
        .filter("scale", width, height, flags="neighbor")
    )
    streams = [video]
    if audio_codec:
        beep = ffmpeg_python.input("sine=frequency=1000:sample_rate=48000", f="lavfi", t=seconds)
        # 100 ms of tone at the start of every second, silence otherwise
        streams.append(beep.filter("volume", volume="if(lt(mod(t,1),0.1),4,0)", eval="frame"))
    codecs: dict[str, object] = {"c:v": video_codec, "g": max(1, int(fps * keyframe_seconds))}
    if video_codec == "libx264":
        codecs.update({"preset": "veryfast", "pix_fmt": "yuv420p"})
    if audio_codec:
        codecs["c:a"] = audio_codec
    if out.suffix == ".mp4" and faststart:
        codecs["movflags"] = "+faststart"  # moov first: progressive playback starts at once
    args: list[str] = (  # ffmpeg-python is untyped
        ffmpeg_python.output(*streams, str(out), **codecs)
        .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=tools.ffmpeg)
    )
    return args


def make_clip(out: Path, tools: Tools, **options: Any) -> Path:  # options: clip_args's keywords
    """Render a test clip (blocking; seconds of work for a short clip). Raises CalledProcessError."""
    subprocess.run(clip_args(out, tools, **options), check=True, capture_output=True)
    return out


def _plan(media_dir: str | Path, tools: Tools | None) -> tuple[Tools, Path, Path] | None:
    """(tools, target, partial file) when a sample is needed and can be made, else None."""
    library = MediaLibrary(media_dir)
    if library.scan():
        return None
    try:
        tools = tools or find_tools()
    except FfmpegMissing as exc:
        log.warning("no video in %s and no ffmpeg to make a sample: %s", library.root, exc)
        return None
    # hidden while being written, so it is never listed (or packaged) half-made
    return tools, library.root / SAMPLE_NAME, library.root / f".{SAMPLE_NAME}.partial.mp4"


def ensure_sample(
    media_dir: str | Path, tools: Tools | None = None, seconds: float = SAMPLE_SECONDS
) -> Path | None:
    """Generate media_dir/sample.mp4 when the media dir has no video; the path, or None when
    nothing was generated (videos exist, or ffmpeg is missing or failed: logged, not raised)."""
    plan = _plan(media_dir, tools)
    if plan is None:
        return None
    tools, target, partial = plan
    log.info("media dir %s is empty: generating a %g s sample video", target.parent, seconds)
    try:
        make_clip(partial, tools, seconds=seconds)
        os.replace(partial, target)
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log.warning("could not generate the sample video: %s %s", exc, detail.decode(errors="replace")[-300:])
        partial.unlink(missing_ok=True)
        return None
    return target


async def generate_sample(
    media_dir: str | Path, tools: Tools | None = None, seconds: float = SAMPLE_SECONDS
) -> Path | None:
    """ensure_sample as an asyncio subprocess, for a running server: cancelling it (shutdown)
    kills ffmpeg instead of waiting for it."""
    plan = await asyncio.to_thread(_plan, media_dir, tools)
    if plan is None:
        return None
    tools, target, partial = plan
    log.info("media dir %s is empty: generating a %g s sample video", target.parent, seconds)
    proc = await asyncio.create_subprocess_exec(
        *clip_args(partial, tools, seconds=seconds),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
            partial.unlink(missing_ok=True)
    if proc.returncode != 0:
        log.warning("could not generate the sample video: %s", err.decode(errors="replace")[-300:])
        partial.unlink(missing_ok=True)
        return None
    try:
        os.replace(partial, target)
    except OSError as exc:
        log.warning("could not generate the sample video: %s", exc)
        return None
    return target
