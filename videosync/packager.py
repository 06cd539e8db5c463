"""The packaging service: queues videos of the library and runs the jobs, in turn by owner.

Start it with `await packager.start(package=...)` at server start-up and stop it with `await
packager.close()`. Of several processes sharing a media dir (`--workers`), one packages
(`package=True`); the others learn every status change and library change through the store
(mediasync.py), so that each process answers `GET /api/videos/{id}` alike. Status lives in
memory (packaging_status.py): the disk keeps only what a restart needs (hls.py: `ready.json`).
`subscribe(callback)` registers `callback(video_id, status_view)`, called on every change (at most
every 0.5 s while packaging): the hub relays it to the sessions that watch the video as
`mediaStatus`. Packaging one video is package_runner.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace

from .ffmpeg import ProbeInfo, Tools
from .hls import FAILED, PACKAGING, QUEUED, READY, JobStatus
from .jobqueue import FairQueue
from .media import MediaLibrary
from .mediasync import LibrarySync, SessionExists
from .package_runner import PackageRunner
from .packaging_status import ProgressCallback, StatusBoard
from .store import Store
from .video import InvalidVideoId, VideoFile, VideoNotFound

log = logging.getLogger(__name__)


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
        self.rescan_interval = rescan_interval
        self.settle_seconds = settle_seconds  # a file still being copied in is left for later
        self.jobs = jobs
        # keeps this process in step with the others on the media dir (None: alone)
        self.sync = LibrarySync(self, bus, session_exists, sweep_interval) if bus is not None else None
        self.packages = False  # this process runs ffmpeg (set by start)
        self.board = StatusBoard(library)
        self.runner = PackageRunner(library, tools, self.board, ladder=ladder,
                                    stall_timeout=stall_timeout, threads=threads)
        self.subtitles = self.runner.subtitles
        self._queue = FairQueue()
        self._pending: set[str] = set()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    # -- observing (the board's) --------------------------------------------------------------
    def subscribe(self, callback: ProgressCallback) -> Callable[[], None]:
        """Call `callback(video_id, status_view)` on every change; returns the unsubscribe function."""
        return self.board.subscribe(callback)

    def status(self, video_id: str) -> dict[str, object]:
        return self.board.status(video_id)

    def edge(self, video_id: str) -> float | None:
        return self.board.edge(video_id)

    def _forget(self, video_id: str) -> None:
        self.board.forget(video_id)
        self.runner.forget(video_id)

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
            self.board.show(video_id, view)

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
            self.runner.hand_probe(video_id, info)
        self.board.changed(video_id, JobStatus(QUEUED, source_size=video.size, source_mtime=video.mtime,
                                               pid=os.getpid()))
        self._queue.put(video.owner, video_id)

    def reconcile(self, video: VideoFile, ready: tuple[JobStatus, dict[str, object]] | None,
                  now: float | None = None) -> None:
        """Queue a video unless its packaged output (`ready`, read from disk) is current."""
        if video.id in self._pending:
            return
        job = self.board.jobs.get(video.id)
        if job is not None and (job.source_size, job.source_mtime) == (video.size, video.mtime) \
                and job.status in (READY, FAILED):
            return
        if ready is not None:
            self.board.keep(video.id, *ready)
            return
        now = time.time() if now is None else now
        # an upload is whole when placed; a file copied in by hand may still be growing
        if not self.packages or (not video.uploaded and now - video.mtime < self.settle_seconds):
            return
        self.enqueue(video.id)

    async def rescan(self) -> None:
        videos = await self.library.rescan()
        ready = await asyncio.to_thread(self.board.read_ready, videos)
        for video in videos:
            self.reconcile(video, ready.get(video.id))
        present = {video.id for video in videos}
        for gone in self.board.known() - present:
            self._cancel(gone)
            self._forget(gone)
        if self.packages:
            await asyncio.to_thread(self.runner.prune, present, self._pending)

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
        await self.board.settled()

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
            job = asyncio.create_task(self.runner.package(video_id), name=f"package-{video_id}")
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
                last = self.board.jobs.get(video_id) or JobStatus(PACKAGING)
                self.board.changed(video_id, replace(last, status=FAILED, message="internal error",
                                                     updated=time.time()))
            finally:
                self._active.pop(video_id, None)
                self._pending.discard(video_id)
                self._queue.task_done()
