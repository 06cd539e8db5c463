"""ffmpeg and ffprobe as asyncio subprocesses: locate them, probe a file, run a job with progress.

The system binaries win when present; otherwise the ffmpeg bundled by the imageio-ffmpeg wheel
(docs/design.md §4), which ships without ffprobe, so probing then parses `ffmpeg -i` output instead.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 30.0
STDERR_LINES_KEPT = 15


class FfmpegMissing(RuntimeError):
    """Neither a system ffmpeg nor the imageio-ffmpeg one can be found."""


class ProbeError(ValueError):
    """ffmpeg cannot read the file as a video (the message says why)."""


class FfmpegFailed(RuntimeError):
    """An ffmpeg run ended badly; the message carries the tail of its stderr."""


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None


def find_tools() -> Tools:
    ffmpeg = shutil.which("ffmpeg")
    ffprobe = shutil.which("ffprobe")
    if ffmpeg is None:
        ffprobe = None  # never mix a system ffprobe with a bundled ffmpeg of another version
        try:
            import imageio_ffmpeg  # lazily: only needed when the system has no ffmpeg

            ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError) as exc:
            raise FfmpegMissing(f"ffmpeg not found on PATH and imageio-ffmpeg unusable: {exc}") from None
    return Tools(ffmpeg, ffprobe)


@dataclass(frozen=True)
class ProbeInfo:
    duration: float | None
    video_codec: str | None
    audio_codec: str | None
    width: int | None = None
    height: int | None = None
    format_name: str | None = None
    pix_fmt: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "duration": self.duration,
            "codecs": {"video": self.video_codec, "audio": self.audio_codec},
            "width": self.width,
            "height": self.height,
        }


def _float(value: object) -> float | None:
    if not isinstance(value, int | float | str):  # probe JSON: anything else is not a number
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number >= 0 else None


def parse_ffprobe_json(text: str) -> ProbeInfo:
    data = json.loads(text or "{}")
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise ProbeError("no audio or video stream")
    fmt = data.get("format") or {}
    return ProbeInfo(
        duration=_float(fmt.get("duration")),
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        format_name=fmt.get("format_name"),
        pix_fmt=video.get("pix_fmt") if video else None,
    )


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+.*?: (Video|Audio): (\w+)(.*)")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})")


def parse_ffmpeg_banner(text: str) -> ProbeInfo:
    """ProbeInfo from the stderr of `ffmpeg -i FILE` (used when ffprobe is missing)."""
    video = audio = pix_fmt = None
    width = height = None
    for kind, codec, rest in _STREAM.findall(text):
        if kind == "Video" and video is None and "attached pic" not in rest:
            video = codec
            fmt = re.search(r"\b(yuv\w+|rgb\w+|bgr\w+|gray\w*|nv\d+)", rest)
            pix_fmt = fmt.group(1) if fmt else None
            size = _SIZE.search(rest)
            if size:
                width, height = int(size.group(1)), int(size.group(2))
        elif kind == "Audio" and audio is None:
            audio = codec
    if video is None and audio is None:
        raise ProbeError(_last_line(text) or "no audio or video stream")
    match = _DURATION.search(text)
    duration = None
    if match:
        h, m, s = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    return ProbeInfo(duration, video, audio, width, height, pix_fmt=pix_fmt)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


async def probe(path: Path | str, tools: Tools) -> ProbeInfo:
    """Codecs and duration of a file; ProbeError if ffmpeg cannot read it."""
    if tools.ffprobe:
        args = [tools.ffprobe, "-v", "error", "-print_format", "json",
                "-show_format", "-show_streams", "--", str(path)]
    else:
        args = [tools.ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT_S)
    except TimeoutError:
        raise ProbeError("probing timed out") from None
    finally:
        if proc.returncode is None:  # timed out or cancelled (server shutting down)
            proc.kill()
            await proc.wait()
    stderr = err.decode("utf-8", "replace")
    if not tools.ffprobe:
        return parse_ffmpeg_banner(stderr)
    if proc.returncode != 0:
        raise ProbeError(_last_line(stderr) or f"ffprobe exited with {proc.returncode}")
    try:
        return parse_ffprobe_json(out.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        raise ProbeError("ffprobe printed no JSON") from None


# -- running a job ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    seconds: float  # media time written so far
    speed: float | None  # x realtime, as ffmpeg reports it
    done: bool


class ProgressParser:
    """Turns `-progress pipe:1` key=value lines into one Progress per block."""

    def __init__(self) -> None:
        self._block: dict[str, str] = {}

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        self._block[key] = value.strip()
        if key != "progress":
            return None
        block, self._block = self._block, {}
        micros = block.get("out_time_us") or block.get("out_time_ms")  # both are µs (ffmpeg quirk)
        seconds = max(0.0, int(micros) / 1e6) if micros and micros.lstrip("-").isdigit() else 0.0
        speed = _float(block.get("speed", "").rstrip("x"))
        return Progress(seconds, speed, value.strip() == "end")


async def run_ffmpeg(
    args: list[str],
    on_progress: Callable[[Progress], None] | None = None,
    stall_timeout: float = 120.0,
) -> None:
    """Run ffmpeg (args from ffmpeg-python's compile(), with `-progress pipe:1`) to completion.

    Raises FfmpegMissing if the binary cannot be started, FfmpegFailed on a non-zero exit or when
    ffmpeg prints no progress for `stall_timeout` seconds (a hung job is killed, never waited on).
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise FfmpegMissing(f"cannot start ffmpeg: {exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    stderr = proc.stderr
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)

    async def drain_stderr() -> None:
        async for raw in stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    stderr_task = asyncio.create_task(drain_stderr())
    parser = ProgressParser()
    try:
        while True:
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), stall_timeout)
            except TimeoutError:
                raise FfmpegFailed(f"ffmpeg made no progress for {stall_timeout:.0f} s") from None
            if not raw:
                break
            progress = parser.feed(raw.decode("utf-8", "replace"))
            if progress is not None and on_progress is not None:
                on_progress(progress)
        await stderr_task
        code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stderr_task.cancel()
    if code != 0:
        detail = " | ".join(line for line in tail if line)[-600:]
        raise FfmpegFailed(detail or f"ffmpeg exited with status {code}")
