"""What each video's packaging is at, as the media API shows it, and who hears of each change.

The packaging process records every status change (`StatusBoard.changed`); a process that does not
package takes the views the packaging one publishes (`StatusBoard.show`). A view of a job with
output reads its playlist for the packaged edge, in a thread; a newer status overtakes a view still
being read, so subscribers never hear statuses out of order.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from . import metrics
from .hls import (
    FAILED,
    PACKAGING,
    READY,
    JobStatus,
    PackStatus,
    main_playlist,
    playlist_info,
    read_ready,
    rev_dir,
)
from .media import MediaLibrary
from .video import VideoFile

log = logging.getLogger(__name__)

# called with (video_id, status view); may be a coroutine function (run as a task)
ProgressCallback = Callable[[str, dict[str, object]], object]
HLS_URL_PREFIX = "/media/hls"
NO_STATUS: dict[str, object] = {"status": PackStatus.NONE, "progress": 0.0, "edge": 0.0, "playlist": None,
                                "message": "", "mode": None, "speed": None}


class StatusBoard:
    def __init__(self, library: MediaLibrary) -> None:
        self.library = library
        self.jobs: dict[str, JobStatus] = {}  # the packaging process's own jobs
        self._views: dict[str, dict[str, object]] = {}
        self._serial: dict[str, int] = {}
        self._subscribers: list[ProgressCallback] = []
        self._notifications: set[asyncio.Future[Any]] = set()

    def subscribe(self, callback: ProgressCallback) -> Callable[[], None]:
        """Call `callback(video_id, status_view)` on every change (a coroutine function is run as
        a task); returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def status(self, video_id: str) -> dict[str, object]:
        """The `hls` object of the media API: status, progress, edge, playlist URL, message."""
        return dict(self._views.get(video_id, NO_STATUS))

    def edge(self, video_id: str) -> float | None:
        """Seconds a viewer may seek to, or None when the whole video is available."""
        view = self.status(video_id)
        edge = view["edge"]
        done = view["status"] in (READY, PackStatus.NONE, FAILED)
        return None if done or not isinstance(edge, float) else edge

    def known(self) -> set[str]:
        """The videos with a job or a view."""
        return set(self.jobs) | set(self._views)

    def view(self, video_id: str, job: JobStatus) -> dict[str, object]:
        """Blocking (reads the playlist for the packaged edge): call in a thread."""
        out_dir = rev_dir(self.library.hls_dir(video_id), job)
        playlist = main_playlist(out_dir) if out_dir and job.status in (PACKAGING, READY) else None
        info = playlist_info(out_dir) if out_dir and playlist is not None else None
        return {
            "status": job.status,
            "progress": job.progress,
            "edge": round(info.seconds, 3) if info else 0.0,
            "playlist": f"{HLS_URL_PREFIX}/{video_id}/{job.rev}/{playlist.name}" if playlist else None,
            "message": self.library.public_message(job.message),
            "mode": job.mode,
            "speed": job.speed,
        }

    def read_ready(self, videos: list[VideoFile]) -> dict[str, tuple[JobStatus, dict[str, object]]]:
        """The finished packaging found on disk of these videos, with its view, for those not
        known to be ready already (blocking: call in a thread)."""
        found = {}
        for video in videos:
            job = self.jobs.get(video.id)
            if job is not None and job.status == READY and (job.source_size, job.source_mtime) == (
                    video.size, video.mtime):
                continue
            ready = read_ready(self.library.hls_dir(video.id), video.size, video.mtime)
            if ready is not None:
                found[video.id] = (ready, self.view(video.id, ready))
        return found

    def changed(self, video_id: str, job: JobStatus) -> None:
        """A job's new status: kept, counted and delivered to the subscribers."""
        self.jobs[video_id] = job
        metrics.packaging(job.status, job.speed)
        serial = self._serial[video_id] = self._serial.get(video_id, 0) + 1
        if job.rev is not None and job.status in (PACKAGING, READY):
            self._spawn_notification(self._publish(video_id, job, serial))
        else:
            self._deliver(video_id, self.view(video_id, job))  # reads nothing from disk

    def keep(self, video_id: str, job: JobStatus, view: dict[str, object]) -> None:
        """A finished packaging found on disk: kept without telling anyone."""
        self.jobs[video_id], self._views[video_id] = job, view

    def show(self, video_id: str, view: dict[str, object]) -> None:
        """A view the packaging process published."""
        self._views[video_id] = view

    def forget(self, video_id: str) -> None:
        self.jobs.pop(video_id, None)
        self._views.pop(video_id, None)
        self._serial[video_id] = self._serial.get(video_id, 0) + 1  # drops a view in flight

    async def settled(self) -> None:
        """Wait until every status change has been delivered and every subscriber task has run."""
        while self._notifications:
            await asyncio.gather(*tuple(self._notifications), return_exceptions=True)

    async def _publish(self, video_id: str, job: JobStatus, serial: int) -> None:
        view = await asyncio.to_thread(self.view, video_id, job)
        if self._serial.get(video_id) != serial:
            return  # a newer status overtook this one while the playlist was read
        self._deliver(video_id, view)

    def _deliver(self, video_id: str, view: dict[str, object]) -> None:
        self._views[video_id] = view
        for callback in list(self._subscribers):
            try:
                result = callback(video_id, view)
            except Exception:  # a subscriber's bug must not stop packaging
                log.exception("packaging progress subscriber failed")
                continue
            if inspect.isawaitable(result):  # e.g. hub.publish_media_status: runs as a task
                self._spawn_notification(result)

    def _spawn_notification(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._notifications.add(task)
        task.add_done_callback(self._notified)

    def _notified(self, task: asyncio.Future[Any]) -> None:
        self._notifications.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("packaging progress subscriber failed: %s", task.exception())
