"""Subtitle files and a video carrying a mov_text stream, made for the tests with the real ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

SRT = """1
00:00:00,500 --> 00:00:03,000
<i>First</i> line & more

2
00:00:03,500 --> 00:00:06,000
Second line
"""
VTT = """WEBVTT

00:00:00.500 --> 00:00:03.000
Première

00:00:03.500 --> 00:00:06.000
Deuxième
"""
STREAM_SRT = """1
00:00:01,000 --> 00:00:04,000
Inside the file
"""
MALFORMED = {
    "garbage": b"this is not a subtitle file at all\n",
    "binary": bytes(range(256)),
    "bad timestamp": b"1\n00:00:01,000 --> soon\nHello\n",
    "vtt without cues": b"WEBVTT\n\n",
    "vtt with a broken cue": b"WEBVTT\n\n00:01.000 --> later\nHello\n",
    "vtt named but not vtt": b"1\n00:00:01,000 --> 00:00:02,000\nHello\n",  # uploaded as x.vtt
}


def with_mov_text(clip: Path, out: Path, srt_text: str = STREAM_SRT, lang: str = "fra") -> Path:
    """`clip` with a mov_text subtitle stream (language `lang`) made from `srt_text`."""
    srt_path = out.with_suffix(".input.srt")
    srt_path.write_text(srt_text)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-i", str(srt_path), "-map", "0", "-map", "1",
         "-c", "copy", "-c:s", "mov_text", "-metadata:s:s:0", f"language={lang}", str(out)],
        check=True,
    )
    srt_path.unlink()
    return out
