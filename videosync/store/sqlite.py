"""The persistent embedded store: the memory store as the live copy, journaled to SQLite.

Every request is answered from memory, as by the memory store; each write only marks its key
dirty. At most `flush_interval` later a worker thread writes every dirty key (its value, or its
absence) to the database in one transaction, so the event loop never waits for the disk and a
SIGKILL loses at most the last interval or so. SQLite's write-ahead log keeps the file whole
whatever moment the process dies at. On start the file is read back, expired keys dropped.

The journal is generic over the store's data model (strings and hashes with TTLs), not over
sessions: whatever keys the rooms keep survive a restart, as they would in Redis.
Pub/sub stays in the process (a restart ends every subscription anyway).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .base import StoreError
from .memory import MemoryStore

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.5
FILE_NAME = "videosync.sqlite3"

# JSON texts: [[name, kind, value, expires_at as Unix time], ...] and [name, ...] of keys gone
Batch = tuple[str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,      -- 's' string, 'h' hash (a JSON object)
    value TEXT NOT NULL,
    expires_at REAL          -- Unix time; NULL: no expiry
) WITHOUT ROWID
"""


def url_for_dir(data_dir: str) -> str:
    """The store URL for a data directory: sqlite:///abs/path/videosync.sqlite3."""
    return "sqlite://" + str(Path(data_dir).resolve() / FILE_NAME)


def path_of(url: str) -> Path:
    path = url.removeprefix("sqlite://")
    if not path.startswith("/"):
        raise ValueError(f"sqlite store URL needs an absolute path (sqlite:///dir/file), got {url!r}")
    return Path(path)


class SqliteFile:
    """The database file; used from one thread at a time (the store's writer thread, or the
    caller while nothing else runs: opening, loading, closing)."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One process per data dir: two would each keep their own live copy and overwrite
            # each other's keys. The lock goes with the process, however it ends.
            self._lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot use data dir {path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise StoreError(f"data dir {path.parent} is in use by another videosync process") from None
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit is in the OS once written; a process crash loses nothing
            # committed, only a power cut might lose the last commits (never the file's integrity)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot open {path}: {exc}") from None

    def load(self, now: float) -> list[tuple[str, str, str, float | None]]:
        """Every live key; expired ones are deleted from the file on the way."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
            return list(self._db.execute("SELECT name, kind, value, expires_at FROM keys"))

    def write(self, batch: Batch) -> None:
        """One transaction: every key as it is now, or gone.

        The batch arrives as two JSON texts that SQLite unpacks itself (json_each): one statement
        per kind of change, so this thread takes the GIL twice per flush, not once per row (every
        take waits for the event loop's thread to let go of it)."""
        upserts, deletes = batch
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "DELETE FROM keys WHERE name IN (SELECT value FROM json_each(?))", (deletes,)
            )
            self._db.execute(
                "INSERT INTO keys (name, kind, value, expires_at) "
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
                " json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?) WHERE true "
                "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, value = excluded.value, "
                "expires_at = excluded.expires_at",
                (upserts,),
            )

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        os.close(self._lock_fd)  # releases the lock


class SqliteStore(MemoryStore):
    def __init__(
        self,
        url: str,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        flush_interval: float = FLUSH_INTERVAL_S,
        **memory_options: float,
    ) -> None:
        super().__init__(url, clock, **memory_options)
        self._wall_clock = wall_clock
        self._flush_interval = flush_interval
        self._dirty: set[str] = set()
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[bool] | None = None
        self._closed = False
        self._db_file = SqliteFile(path_of(url))
        # one thread: flushes reach the file in the order they were taken
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._load()

    def _load(self) -> None:
        wall, now = self._wall_clock(), self._clock()
        rows = self._db_file.load(wall)
        for name, kind, text, wall_expiry in rows:
            value: str | dict[str, str] = json.loads(text) if kind == "h" else text
            expires = None if wall_expiry is None else now + (wall_expiry - wall)
            self.keys.load(name, value, expires)
        log.debug("sqlite store: %d keys loaded from %s", len(rows), path_of(self.url))

    # -- the journal ----------------------------------------------------------
    def _changed(self, name: str) -> None:
        self._dirty.add(name)
        if self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # written outside a loop: flushed by the next write in one, or by close()
            self._flush_timer = loop.call_later(self._flush_interval, self._flush)

    def _take_dirty(self) -> Batch:
        """The dirty keys as they are now, serialised on the loop (nothing shared with the writer)."""
        wall_offset = self._wall_clock() - self._clock()
        upserts: list[tuple[str, str, str, float | None]] = []
        deletes: list[str] = []
        for name in self._dirty:
            entry = self.keys.peek(name)
            if entry is None:
                deletes.append(name)
                continue
            value = entry.value
            expires = None if entry.expires_at is None else entry.expires_at + wall_offset
            if isinstance(value, str):
                upserts.append((name, "s", value, expires))
            else:
                upserts.append((name, "h", json.dumps(value, separators=(",", ":")), expires))
        self._dirty = set()
        return json.dumps(upserts), json.dumps(deletes)

    def _start_write(self) -> asyncio.Future[bool]:
        names = set(self._dirty)
        loop = asyncio.get_running_loop()
        writing = self._writing = loop.run_in_executor(self._writer, self._write, self._take_dirty())

        def retry_if_failed(done: asyncio.Future[bool]) -> None:
            if not done.cancelled() and done.result() is False:
                # kept in memory all the same: written with the next flush, unless changed again
                self._dirty |= {name for name in names if name not in self._dirty}
                if self._flush_timer is None and not self._closed:
                    self._flush_timer = loop.call_later(self._flush_interval, self._flush)

        writing.add_done_callback(retry_if_failed)
        return writing

    def _flush(self) -> None:
        self._flush_timer = None
        loop = asyncio.get_running_loop()
        if self._writing is not None and not self._writing.done():
            # the disk is behind: gather more and write them together next time
            self._flush_timer = loop.call_later(self._flush_interval, self._flush)
            return
        if self._dirty:
            self._start_write()

    def _write(self, batch: Batch) -> bool:
        try:
            self._db_file.write(batch)
        except sqlite3.Error:
            log.exception("sqlite store: writing a batch of changes failed; retrying with the next")
            return False
        return True

    async def flush(self) -> None:
        """Write every change so far to the file now (tests, shutdown)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._writing is not None:
            await self._writing
        if self._dirty:
            await self._start_write()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.flush()
        await super().close()
        self._writer.shutdown(wait=True)
        self._db_file.close()
