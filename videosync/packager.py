"""The packaging job runner: queues videos of the library, runs one ffmpeg at a time, reports.

Start it with `await packager.start()` at server start-up and stop it with `await
packager.close()`. `subscribe(callback)` registers `callback(video_id, hls_status_dict)`, called on
every status change (at most every 0.5 s while packaging) — the hub uses it to tell sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from . import metrics
from .ffmpeg import FfmpegMissing, Tools, find_tools
from .hls import (
    FAILED,
    PACKAGING,
    QUEUED,
    READY,
    JobStatus,
    main_playlist,
    package_video,
    playlist_info,
    read_status,
    rev_dir,
    write_status,
)
from .media import InvalidVideoId, MediaLibrary, VideoFile, VideoNotFound
from .sample import generate_sample
from .settings import Settings

log = logging.getLogger(__name__)

# called with (video_id, hls status dict); may be a coroutine function (run as a task)
ProgressCallback = Callable[[str, dict[str, object]], object]
HLS_URL_PREFIX = "/media/hls"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    ) -> None:
        self.library = library
        self.tools = tools
        self.ladder = ladder
        self.rescan_interval = rescan_interval
        self.settle_seconds = settle_seconds  # a file still being copied in is left for later
        self.stall_timeout = stall_timeout
        self._statuses: dict[str, JobStatus] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: set[str] = set()
        self._subscribers: list[ProgressCallback] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._notifications: set[asyncio.Future[object]] = set()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    # -- observing --------------------------------------------------------------------------
    def subscribe(self, callback: ProgressCallback) -> Callable[[], None]:
        """Call `callback(video_id, status_dict)` on every change (a coroutine function is run as
        a task); returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def status(self, video_id: str) -> dict[str, object]:
        """The `hls` object of the media API: status, progress, edge, playlist URL, message."""
        job = self._statuses.get(video_id)
        hls_dir = self.library.hls_dir(video_id)
        if job is None or job.pid not in (None, os.getpid()):
            job = read_status(hls_dir) or job  # a CLI run may be packaging it right now
        if job is None:
            return {"status": "none", "progress": 0.0, "edge": 0.0, "playlist": None,
                    "message": "", "mode": None, "speed": None}
        out_dir = rev_dir(hls_dir, job)
        playlist = main_playlist(out_dir) if out_dir and job.status in (PACKAGING, READY) else None
        info = playlist_info(out_dir) if out_dir and playlist is not None else None
        return {
            "status": job.status,
            "progress": job.progress,
            "edge": round(info.seconds, 3) if info else 0.0,
            "playlist": f"{HLS_URL_PREFIX}/{video_id}/{job.rev}/{playlist.name}" if playlist else None,
            "message": job.message,
            "mode": job.mode,
            "speed": job.speed,
        }

    def edge(self, video_id: str) -> float | None:
        """Seconds a viewer may seek to, or None when the whole video is available."""
        view = self.status(video_id)
        return None if view["status"] in (READY, "none", FAILED) else float(view["edge"])  # type: ignore[arg-type]

    def _changed(self, video_id: str, job: JobStatus) -> None:
        self._statuses[video_id] = job
        metrics.packaging(job.status, job.speed)
        if not self._subscribers:
            return
        view = self.status(video_id)
        for callback in list(self._subscribers):
            try:
                result = callback(video_id, view)
            except Exception:  # a subscriber's bug must not stop packaging
                log.exception("packaging progress subscriber failed")
                continue
            if inspect.isawaitable(result):  # e.g. hub.publish_media_status: runs as a task
                task = asyncio.ensure_future(result)
                self._notifications.add(task)
                task.add_done_callback(self._notified)

    def _notified(self, task: asyncio.Future[object]) -> None:
        self._notifications.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("packaging progress subscriber failed: %s", task.exception())

    # -- queueing ---------------------------------------------------------------------------
    def enqueue(self, video_id: str) -> None:
        if video_id in self._pending or not self.running:
            return  # a server process that does not package leaves the job to the one that does
        self._pending.add(video_id)
        try:
            video = self.library.get(video_id)
        except (InvalidVideoId, VideoNotFound):
            self._pending.discard(video_id)
            return
        job = JobStatus(QUEUED, source_size=video.size, source_mtime=video.mtime, pid=os.getpid())
        write_status(self.library.hls_dir(video_id), job)
        self._changed(video_id, job)
        self._queue.put_nowait(video_id)

    def reconcile(self, video: VideoFile, now: float | None = None) -> None:
        """Queue a video unless its packaged output is current or someone else is on it."""
        if video.id in self._pending:
            return
        now = time.time() if now is None else now
        if now - video.mtime < self.settle_seconds:
            return
        job = read_status(self.library.hls_dir(video.id))
        if job is not None and (job.source_size, job.source_mtime) == (video.size, video.mtime):
            out_dir = rev_dir(self.library.hls_dir(video.id), job)
            if job.status == READY and out_dir and (info := playlist_info(out_dir)) and info.ended:
                self._statuses[video.id] = job
                return
            if job.status == FAILED:
                self._statuses[video.id] = job
                return
            other = job.pid not in (None, os.getpid()) and _pid_alive(job.pid)
            if job.status in (QUEUED, PACKAGING) and other \
                    and now - job.updated < self.stall_timeout:
                self._statuses[video.id] = job
                return
        # never packaged, stale, half-packaged by a process that died: (re)package
        self.enqueue(video.id)

    async def rescan(self) -> None:
        videos = await asyncio.to_thread(self.library.scan)
        for video in videos:
            self.reconcile(video)
        await asyncio.to_thread(self._prune, {video.id for video in videos})

    def _prune(self, present: set[str]) -> None:
        """Delete the packaged output of videos that are gone (deleted or renamed away)."""
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
                self._statuses.pop(name, None)

    # -- running ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._work(), name="packager-worker"))
        await self.rescan()
        if self.rescan_interval:
            self._tasks.append(asyncio.create_task(self._rescan_loop(), name="packager-rescan"))

    async def close(self) -> None:
        """Stop the runner; a running ffmpeg is killed (its job is redone on the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def join(self) -> None:
        """Wait until the queue is empty and nothing is packaging (for tests and the CLI)."""
        await self._queue.join()

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
            try:
                await self._package(video_id)
            except Exception:  # keep the runner alive whatever one job does
                log.exception("packaging %s crashed", video_id)
                job = self._statuses.get(video_id) or JobStatus(PACKAGING)
                failed = replace(job, status=FAILED, message="internal error", updated=time.time())
                write_status(self.library.hls_dir(video_id), failed)
                self._changed(video_id, failed)
            finally:
                self._pending.discard(video_id)
                self._queue.task_done()

    async def _package(self, video_id: str) -> None:
        try:
            video = self.library.get(video_id)
        except VideoNotFound:
            return
        await package_video(
            video.path, self.library.hls_dir(video_id), self.tools, ladder=self.ladder,
            on_status=lambda job: self._changed(video_id, job), stall_timeout=self.stall_timeout,
        )


@contextlib.asynccontextmanager
async def open_media(
    settings: Settings, run_packager: bool = True
) -> AsyncIterator[tuple[MediaLibrary, Packager]]:
    """The media library and its packager for a server's lifetime.

    With `run_packager`: packages every video not yet packaged, watches the dir for new ones, and
    when the dir is empty generates the sample video in the background (the server answers at
    once; /api/video is a 404 for the few seconds that takes). Pass run_packager=False in all but
    one process when several share a media dir (`--workers`): they still report status from disk.
    """
    try:
        tools: Tools | None = find_tools()
    except FfmpegMissing as exc:
        log.warning("%s: videos are served, but nothing is probed or packaged", exc)
        tools = None
    library = MediaLibrary(settings.media_dir, tools, settings.video)
    await asyncio.to_thread(library.scan)
    packager = Packager(library, tools)
    sample_task = None
    if run_packager:
        await packager.start()
        sample_task = asyncio.create_task(_sample(library, packager), name="sample-video")
    try:
        yield library, packager
    finally:
        if sample_task is not None:
            sample_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sample_task
        await packager.close()


async def _sample(library: MediaLibrary, packager: Packager) -> None:
    sample = await generate_sample(library.root, library.tools)
    if sample is None:
        return
    for video in await asyncio.to_thread(library.scan):
        if video.path == sample:
            packager.enqueue(video.id)  # complete (renamed into place): no need to let it settle
