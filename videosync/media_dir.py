"""The media dir on disk: the video files in it, paths confined to it (realpath: no symlink or
`..` leads out), and files put in without overwriting. Blocking: callers run it in a thread."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Container, Iterator
from pathlib import Path

from .video import VideoIdTaken, check_id

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg", ".mpeg", ".ogv", ".flv", ".wmv",
})
HLS_DIRNAME = ".hls"  # packaged output, one folder per video id
UPLOAD_DIRNAME = ".uploads"  # partial uploads, and the videos that belong to a session


def is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def put_file(source: Path, dest: Path, *, move: bool) -> None:
    """Put `source` at `dest`, never overwriting (FileExistsError): a hard link when the filesystem
    has them, else a copy (or, for `move`, a rename) over a name claimed first with O_EXCL."""
    try:
        os.link(source, dest)
    except FileExistsError:
        raise
    except OSError:
        os.close(os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        try:
            if move:
                os.replace(source, dest)
            else:
                shutil.copy2(source, dest)  # keeps the mtime
        except OSError:
            dest.unlink(missing_ok=True)
            raise
        return
    if move:
        source.unlink()


class MediaDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.realpath(root))

    @property
    def hls_root(self) -> Path:
        return self.root / HLS_DIRNAME

    @property
    def upload_dir(self) -> Path:
        return self.root / UPLOAD_DIRNAME

    def hls_dir(self, video_id: str) -> Path:
        return self.hls_root / check_id(video_id)

    def walk(self) -> Iterator[tuple[str, tuple[Path, os.stat_result]]]:
        """The video files the operator put in (hidden folders such as .uploads/ left out), by
        path relative to the dir, with their real path and stat."""
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                    continue
                candidate = Path(dirpath) / name
                rel = candidate.relative_to(self.root).as_posix()
                stat = self.stat(rel)
                if stat is not None:
                    yield rel, stat

    def stat(self, rel: str) -> tuple[Path, os.stat_result] | None:
        real = Path(os.path.realpath(self.root / rel))
        if not is_inside(real, self.root):
            log.warning("skipping %s: it points outside the media dir", rel)
            return None
        try:
            return real, real.stat()
        except OSError:
            return None

    def put_free(self, source: Path, stem: str, ext: str, taken: Container[str], *, move: bool) -> str:
        """Put `source` at the top of the dir as STEM.EXT, or STEM-N.EXT with the first N that is
        neither in `taken` (paths the catalogue holds) nor on disk; the path it got."""
        for n in range(1, 1000):
            rel = f"{stem}{ext}" if n == 1 else f"{stem}-{n}{ext}"
            if rel in taken:
                continue
            try:
                put_file(source, self.root / rel, move=move)
            except FileExistsError:
                continue
            return rel
        raise VideoIdTaken("too many videos with this name")

    def resolve_file(self, relative: str) -> Path | None:
        """A file path under the media dir, or None if it escapes it, is missing or has a NUL."""
        if "\x00" in relative:
            return None
        real = Path(os.path.realpath(self.root / relative))
        if not is_inside(real, self.root) or real == self.root or not real.is_file():
            return None
        return real

    def public_message(self, message: str) -> str:
        """`message` without this server's paths (an ffmpeg error names the files it read):
        answers show paths relative to the media dir, the log keeps them whole."""
        return message.replace(str(self.root) + os.sep, "").replace(str(self.root), ".")
