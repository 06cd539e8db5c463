"""Subtitle text as WebVTT: decoding an SRT or WebVTT file, converting SRT, checking WebVTT. Pure."""

from __future__ import annotations

import io
import re

import srt
import webvtt

# SRT text allows what WebVTT cue text does not: <font> tags, ASS overrides such as {\an8}
_FONT_TAG_RE = re.compile(r"</?font\b[^>]*>", re.IGNORECASE)
_ASS_OVERRIDE_RE = re.compile(r"\{\\[^}]*\}")
_KEPT_TAG_RE = re.compile(r"&lt;(/?)([ibu])&gt;", re.IGNORECASE)


class SubtitleError(ValueError):
    """A subtitle file that cannot be used (not SRT/WebVTT, no cues, bad encoding): a 400."""


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
