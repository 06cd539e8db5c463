"""Keeping the processes that share a media dir in step, through the store's pub/sub.

With `--workers`, one process packages and every process answers the media API. Two channels keep
them alike: the packaging process's status changes (published on STATUS_CHANNEL by the hub's
`publish_media_status`, the same events the hub relays to sessions as `mediaStatus`), which the
others keep as their status; and "the library changed" (an upload placed, a video removed), after
which the others re-read the media dir. The packaging process also sweeps away the uploads of
sessions that no longer exist in the store, which works whichever process served the session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .events import Event
from .store import Store, StoreError
from .video import VideoNotFound

if TYPE_CHECKING:
    from .packager import Packager

log = logging.getLogger(__name__)

SessionExists = Callable[[str], Awaitable[bool]]
STATUS_CHANNEL = "videosync:media"  # the hub publishes mediaStatus events here (its MEDIA_CHANNEL)
LIBRARY_CHANNEL = "videosync:media:library"  # "I added or removed something: re-read the dir"
RETRY_S = 1.0


class LibrarySync:
    def __init__(self, packager: Packager, bus: Store, session_exists: SessionExists | None = None,
                 sweep_interval: float | None = 30.0) -> None:
        self.packager = packager
        self.bus = bus
        self.session_exists = session_exists
        self.sweep_interval = sweep_interval
        self.origin = secrets.token_hex(8)  # names this process's announcements

    def start(self, package: bool) -> list[asyncio.Task[None]]:
        """The tasks that keep this process in step (the packager cancels them on close)."""
        tasks = [asyncio.create_task(self._listen_library(), name="library-changes")]
        if not package:
            tasks.append(asyncio.create_task(self._listen_status(), name="media-status"))
        elif self.session_exists is not None and self.sweep_interval:
            tasks.append(asyncio.create_task(self._sweep_loop(), name="upload-sweep"))
        return tasks

    async def announce(self) -> None:
        try:
            await self.bus.publish(LIBRARY_CHANNEL, self.origin)
        except StoreError as exc:  # the others find it on their next rescan
            log.warning("library change not announced: %s", exc)

    async def _listen_library(self) -> None:
        while True:
            try:
                async with self.bus.subscribe(LIBRARY_CHANNEL) as messages:
                    async for origin in messages:
                        if origin != self.origin:  # this process knows its own changes already
                            await self.packager.rescan()
            except (StoreError, OSError) as exc:
                log.warning("library change listener: %s; retrying", exc)
                await asyncio.sleep(RETRY_S)

    async def _listen_status(self) -> None:
        """In a process that does not package: the statuses the packaging process publishes."""
        while True:
            try:
                async with self.bus.subscribe(STATUS_CHANNEL) as messages:
                    async for text in messages:
                        self._heard(text)
            except (StoreError, OSError) as exc:
                log.warning("media status listener: %s; retrying", exc)
                await asyncio.sleep(RETRY_S)

    def _heard(self, text: str) -> None:
        event = Event.decode(text)
        if event is None:
            return
        try:
            message = json.loads(event.wire)
            video, view = message["video"], message["status"]
        except (ValueError, TypeError, KeyError):
            return
        if isinstance(video, str) and isinstance(view, dict):
            self.packager.heard(video, view)

    async def _sweep_loop(self) -> None:
        assert self.sweep_interval
        while True:
            await asyncio.sleep(self.sweep_interval)
            await self.sweep()

    async def sweep(self) -> list[str]:
        """Delete the uploads of sessions that have ended or expired; the ids deleted."""
        if self.session_exists is None:
            return []
        library = self.packager.library
        removed: list[str] = []
        for owner in {v.owner for v in library.uploads() if v.owner}:
            try:
                if await self.session_exists(owner):
                    continue
            except StoreError as exc:
                log.warning("upload sweep postponed: %s", exc)
                return removed
            for video in library.uploads(owner):
                try:
                    await self.packager.remove(video.id)
                except (VideoNotFound, PermissionError, OSError) as exc:
                    log.warning("could not remove the upload %s: %s", video.id, exc)
                    continue
                removed.append(video.id)
        if removed:
            log.info("removed %d uploads of ended sessions", len(removed))
        return removed
