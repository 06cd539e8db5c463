"""A video of the library as the rest of the server sees it (`VideoFile`), the rules for its id and
the names derived from a file's, and the errors a lookup or a placement raises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .catalogue import Entry

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")
CONTENT_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg", ".ogv": "video/ogg", ".flv": "video/x-flv", ".wmv": "video/x-ms-wmv",
}


class InvalidVideoId(ValueError):
    """An id that can never name a video (bad characters, NUL, slashes): 400."""


class VideoNotFound(LookupError):
    """No video has this id (or its file left the media dir): 404."""


class VideoIdTaken(ValueError):
    """`place` was asked for an id another file already has."""


@dataclass(frozen=True)
class VideoFile:
    id: str
    path: Path  # realpath, inside the media dir
    title: str
    size: int
    mtime: float
    uploaded: bool = False  # came in over HTTP: never the default video; deletable
    owner: str | None = None  # the session key of a session's upload

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.path.suffix.lower(), "application/octet-stream")


def slugify(text: str) -> str:
    slug = _SLUG_RE.sub("-", text).strip("-_")[:100]
    return slug if slug and slug[0].isalnum() else f"video-{slug}".strip("-")


def check_id(video_id: str) -> str:
    if not _ID_RE.match(video_id):
        raise InvalidVideoId(f"invalid video id {video_id[:80]!r}")
    return video_id


def title_for(rel: str, entry: Entry) -> str:
    """The title a file shows: the one recorded (an upload's file name), else its path's."""
    derived = Path(rel).with_suffix("").name.replace("_", " ").replace("-", " ").strip()
    return entry.title or derived or entry.id


def free_id(base: str, taken: set[str]) -> str:
    """`base`, or `base-N` with the first N that no video holds."""
    vid, n = base, 1
    while vid in taken:
        n += 1
        vid = f"{base}-{n}"
    return vid
