"""The written-down part of the library: the id each file has, and who uploaded it.

Ids once came from the order of a directory walk, so a file added later whose name sorted first
took the unsuffixed id and renumbered a video sessions were already playing. Now an id, once given,
stays with its file across restarts and additions because it is recorded here; a new file only
ever gets an id nobody holds. Every process sharing the media dir reads and rewrites the same file
under an exclusive `flock`, so two workers adding files at once cannot hand out one id twice.
A media dir the server may not write keeps working: the ids are then kept in memory only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .ffmpeg import ProbeInfo

log = logging.getLogger(__name__)

CATALOGUE_DIRNAME = ".videosync"
CATALOGUE_FILE = "catalogue.json"
LOCK_FILE = "catalogue.lock"


@dataclass(frozen=True)
class Entry:
    """One file of the library, keyed in the catalogue by its path relative to the media dir."""

    id: str
    uploaded: bool = False  # came in over HTTP; False: the operator put it there (read-only)
    owner: str | None = None  # the session a session upload belongs to (None: permanent)
    title: str | None = None  # an upload's original file name; else derived from the path
    probe: dict[str, Any] | None = None  # ProbeInfo when placed, with the size and mtime it was for
    extra: dict[str, Any] = field(default_factory=dict)  # fields of a newer version, kept as they are

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "extra" and v not in (None, False)}
        return {**self.extra, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        known = {"id", "uploaded", "owner", "title", "probe"}
        return cls(
            id=str(data["id"]), uploaded=bool(data.get("uploaded")), owner=data.get("owner"),
            title=data.get("title"), probe=data.get("probe"),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def probe_for(self, size: int, mtime: float) -> ProbeInfo | None:
        """The recorded probe, if it was taken of this very revision of the file."""
        if not self.probe or (self.probe.get("size"), self.probe.get("mtime")) != (size, mtime):
            return None
        fields = {k: v for k, v in self.probe.items() if k in ProbeInfo.__dataclass_fields__}
        try:
            return ProbeInfo(**fields)
        except TypeError:
            return None


def probe_record(info: ProbeInfo | None, size: int, mtime: float) -> dict[str, Any] | None:
    return None if info is None else {**asdict(info), "size": size, "mtime": mtime}


class Catalogue:
    """`with catalogue.locked() as entries:` the entries by relative path, locked against every
    other process; changes made to the dict are written back (atomically) on leaving."""

    def __init__(self, media_root: Path) -> None:
        self.dir = media_root / CATALOGUE_DIRNAME
        self.path = self.dir / CATALOGUE_FILE
        self._memory: dict[str, Entry] = {}  # used when the media dir is read-only

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Entry]]:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            log.debug("catalogue not writable (%s): ids kept in memory", exc)
            yield self._memory
            return
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._read()
            before = dict(entries)
            yield entries
            if entries != before:
                self._write(entries)
            self._memory = entries
        finally:
            os.close(lock)  # releases the flock

    def _read(self) -> dict[str, Entry]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return {rel: Entry.from_json(e) for rel, e in data.get("files", {}).items()}
        except FileNotFoundError:
            return dict(self._memory)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # never silently renumber: keep what this process knew and say why
            log.error("unreadable %s (%s): keeping the ids this process knows", self.path, exc)
            return dict(self._memory)

    def _write(self, entries: dict[str, Entry]) -> None:
        tmp = self.path.with_name(f".{CATALOGUE_FILE}.{os.getpid()}.tmp")
        body = {"version": 1, "files": {rel: e.to_json() for rel, e in sorted(entries.items())}}
        try:
            tmp.write_text(json.dumps(body, indent=1), "utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)
            tmp.unlink(missing_ok=True)
