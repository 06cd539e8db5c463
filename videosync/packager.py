"""The packaging service: queues videos of the library, runs ffmpeg, keeps and pushes the status.

Start it with `await packager.start(package=...)` at server start-up and stop it with `await
packager.close()`. Of several processes sharing a media dir (`--workers`), one packages
(`package=True`); the others learn every status change and library change through the store
(mediasync.py), so that each process answers `GET /api/videos/{id}` alike. Status lives in
memory: the disk keeps only what a restart needs (hls.py: `ready.json`). `subscribe(callback)`
registers `callback(video_id, status_view)`, called on every change (at most every 0.5 s while
packaging): the hub relays it to the sessions that watch the video as `mediaStatus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from . import metrics
from .ffmpeg import ProbeInfo, Tools
from .hls import (
    FAILED,
    PACKAGING,
    QUEUED,
    READY,
    JobStatus,
    PackStatus,
    claim,
    main_playlist,
    playlist_info,
    read_ready,
    rev_dir,
)
from .hls_ffmpeg import package_video
from .jobqueue import FairQueue
from .media import InvalidVideoId, MediaLibrary, VideoFile, VideoNotFound
from .mediasync import LibrarySync, SessionExists
from .store import Store
from .subtitles import SubtitleError, Subtitles

log = logging.getLogger(__name__)

# called with (video_id, status view); may be a coroutine function (run as a task)
ProgressCallback = Callable[[str, dict[str, object]], object]
HLS_URL_PREFIX = "/media/hls"
NO_STATUS: dict[str, object] = {"status": PackStatus.NONE, "progress": 0.0, "edge": 0.0, "playlist": None,
                                "message": "", "mode": None, "speed": None}


class Packager:
    def __init__(
        self,
        library: MediaLibrary,
        tools: Tools | None,
        *,
        ladder: bool = False,
        rescan_interval: float | None = 10.0,
        settle_seconds: float = 2.0,
        stall_timeout: float = 120.0,
        jobs: int = 1,
        threads: int | None = None,
        bus: Store | None = None,
        session_exists: SessionExists | None = None,
        sweep_interval: float | None = 30.0,
    ) -> None:
        self.library = library
        self.tools = tools
        self.ladder = ladder
        self.rescan_interval = rescan_interval
        self.settle_seconds = settle_seconds  # a file still being copied in is left for later
        self.stall_timeout = stall_timeout
        self.jobs = jobs
        self.threads = threads
        # keeps this process in step with the others on the media dir (None: alone)
        self.sync = LibrarySync(self, bus, session_exists, sweep_interval) if bus is not None else None
        self.packages = False  # this process runs ffmpeg (set by start)
        self.subtitles = Subtitles(library, tools)  # text streams are extracted with each job
        self._jobs: dict[str, JobStatus] = {}
        self._views: dict[str, dict[str, object]] = {}
        self._serial: dict[str, int] = {}
        self._infos: dict[str, ProbeInfo] = {}  # probes handed in with a job: not probed again
        self._queue = FairQueue()
        self._pending: set[str] = set()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._subscribers: list[ProgressCallback] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._notifications: set[asyncio.Future[Any]] = set()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    # -- observing --------------------------------------------------------------------------
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

    def _view(self, video_id: str, job: JobStatus) -> dict[str, object]:
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

    def _changed(self, video_id: str, job: JobStatus) -> None:
        self._jobs[video_id] = job
        metrics.packaging(job.status, job.speed)
        serial = self._serial[video_id] = self._serial.get(video_id, 0) + 1
        if job.rev is not None and job.status in (PACKAGING, READY):
            self._spawn_notification(self._publish(video_id, job, serial))
        else:
            self._deliver(video_id, self._view(video_id, job))  # reads nothing from disk

    async def _publish(self, video_id: str, job: JobStatus, serial: int) -> None:
        view = await asyncio.to_thread(self._view, video_id, job)
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

    def _forget(self, video_id: str) -> None:
        self._jobs.pop(video_id, None)
        self._views.pop(video_id, None)
        self._infos.pop(video_id, None)
        self._serial[video_id] = self._serial.get(video_id, 0) + 1  # drops a view in flight

    # -- the library changing -----------------------------------------------------------------
    async def added(self, video: VideoFile, info: ProbeInfo | None = None) -> None:
        """A file was placed into the library (an upload): package it, tell the other processes."""
        self.enqueue(video.id, info)
        await self._announce()

    async def remove(self, video_id: str) -> VideoFile:
        """Delete an uploaded video with its packaging (PermissionError for the operator's files)."""
        self._cancel(video_id)
        video = await asyncio.to_thread(self.library.remove, video_id)
        self._forget(video_id)
        await self._announce()
        return video

    async def _announce(self) -> None:
        if self.sync is not None:
            await self.sync.announce()

    async def added_elsewhere(self) -> None:
        """Files were put into the media dir by this process (the sample): tell the others."""
        await self._announce()

    def heard(self, video_id: str, view: dict[str, object]) -> None:
        """A status the packaging process published (for a process that does not package)."""
        if not self.packages and self.library.has(video_id):
            self._views[video_id] = view

    async def sweep(self) -> list[str]:
        """Delete the uploads of sessions that have ended or expired; the ids deleted."""
        return await self.sync.sweep() if self.sync is not None else []

    def _cancel(self, video_id: str) -> None:
        if self._queue.discard(video_id):
            self._pending.discard(video_id)
        task = self._active.get(video_id)
        if task is not None:
            task.cancel()

    # -- queueing ---------------------------------------------------------------------------
    def enqueue(self, video_id: str, info: ProbeInfo | None = None) -> None:
        if not self.packages or video_id in self._pending:
            return  # a server process that does not package leaves the job to the one that does
        try:
            video = self.library.get(video_id)
        except (InvalidVideoId, VideoNotFound):
            return
        self._pending.add(video_id)
        if info is not None:
            self._infos[video_id] = info
        self._changed(video_id, JobStatus(QUEUED, source_size=video.size, source_mtime=video.mtime,
                                          pid=os.getpid()))
        self._queue.put(video.owner, video_id)

    def reconcile(self, video: VideoFile, ready: tuple[JobStatus, dict[str, object]] | None,
                  now: float | None = None) -> None:
        """Queue a video unless its packaged output (`ready`, read from disk) is current."""
        if video.id in self._pending:
            return
        job = self._jobs.get(video.id)
        if job is not None and (job.source_size, job.source_mtime) == (video.size, video.mtime) \
                and job.status in (READY, FAILED):
            return
        if ready is not None:
            self._jobs[video.id], self._views[video.id] = ready
            return
        now = time.time() if now is None else now
        # an upload is whole when placed; a file copied in by hand may still be growing
        if not self.packages or (not video.uploaded and now - video.mtime < self.settle_seconds):
            return
        self.enqueue(video.id)

    async def rescan(self) -> None:
        videos = await self.library.rescan()
        ready = await asyncio.to_thread(self._read_ready, videos)
        for video in videos:
            self.reconcile(video, ready.get(video.id))
        present = {video.id for video in videos}
        for gone in (set(self._jobs) | set(self._views)) - present:
            self._cancel(gone)
            self._forget(gone)
        if self.packages:
            await asyncio.to_thread(self._prune, present)

    def _read_ready(self, videos: list[VideoFile]) -> dict[str, tuple[JobStatus, dict[str, object]]]:
        found = {}
        for video in videos:
            job = self._jobs.get(video.id)
            if job is not None and job.status == READY and (job.source_size, job.source_mtime) == (
                    video.size, video.mtime):
                continue
            ready = read_ready(self.library.hls_dir(video.id), video.size, video.mtime)
            if ready is not None:
                found[video.id] = (ready, self._view(video.id, ready))
        return found

    def _prune(self, present: set[str]) -> None:
        """Delete the packaged output of videos that are gone (deleted or renamed away)."""
        self.subtitles.prune(present)
        root = self.library.hls_root
        if not root.is_dir():
            return
        for child in root.iterdir():
            name = child.name
            if name in present or name in self._pending or name.startswith("."):
                continue
            if child.is_dir() and not child.is_symlink():
                log.info("removing the HLS packaging of %s: its video is gone", name)
                shutil.rmtree(child, ignore_errors=True)

    # -- running ----------------------------------------------------------------------------
    async def start(self, package: bool = True) -> None:
        self.packages = package
        if package:
            for n in range(self.jobs):
                self._tasks.append(asyncio.create_task(self._work(), name=f"packager-{n}"))
        await self.rescan()
        if self.rescan_interval:
            self._tasks.append(asyncio.create_task(self._rescan_loop(), name="packager-rescan"))
        if self.sync is not None:
            self._tasks += self.sync.start(package)

    async def close(self) -> None:
        """Stop the runner; a running ffmpeg is killed (its job is redone on the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.packages = False

    async def join(self) -> None:
        """Wait until the queue is empty, nothing is packaging and every status is published."""
        await self._queue.join()
        while self._notifications:
            await asyncio.gather(*tuple(self._notifications), return_exceptions=True)

    async def _rescan_loop(self) -> None:
        assert self.rescan_interval
        while True:
            await asyncio.sleep(self.rescan_interval)
            try:
                await self.rescan()
            except OSError as exc:
                log.warning("media rescan failed: %s", exc)

    async def _work(self) -> None:
        while True:
            video_id = await self._queue.get()
            job = asyncio.create_task(self._package(video_id), name=f"package-{video_id}")
            self._active[video_id] = job
            try:
                await job
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the packager is closing
                log.info("packaging %s cancelled: the video was removed", video_id)
            except Exception:  # keep the runner alive whatever one job does
                log.exception("packaging %s crashed", video_id)
                last = self._jobs.get(video_id) or JobStatus(PACKAGING)
                self._changed(video_id, replace(last, status=FAILED, message="internal error",
                                                updated=time.time()))
            finally:
                self._active.pop(video_id, None)
                self._pending.discard(video_id)
                self._queue.task_done()

    async def _package(self, video_id: str) -> None:
        try:
            video = self.library.get(video_id)
        except VideoNotFound:
            return
        info = self._infos.pop(video_id, None) or self.library.cached_probe(video)
        with contextlib.ExitStack() as held:
            mine = await asyncio.to_thread(held.enter_context, claim(self.library.hls_root, video_id))
            if not mine:
                self._changed(video_id, JobStatus(
                    PACKAGING, source_size=video.size, source_mtime=video.mtime,
                    message="being packaged by another process"))
                return
            await package_video(
                video.path, self.library.hls_dir(video_id), self.tools, ladder=self.ladder,
                on_status=lambda job: self._changed(video_id, job), stall_timeout=self.stall_timeout,
                info=info, threads=self.threads,
            )
        try:
            await self.subtitles.extract_streams(video)
        except (SubtitleError, OSError) as exc:  # the video plays without them
            log.warning("subtitles of %s not extracted: %s", video_id, exc)
