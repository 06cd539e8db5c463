"""The media library and its packager for a server's lifetime (`open_media`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from .ffmpeg import FfmpegMissing, Tools, find_tools
from .media import MediaLibrary
from .packager import Packager
from .sample import generate_sample
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_media(
    settings: Settings, run_packager: bool = True, store: Store | None = None,
) -> AsyncIterator[tuple[MediaLibrary, Packager]]:
    """The media library and its packager, started; closed on leaving.

    With `run_packager`: packages every video not yet packaged, watches the dir for new ones,
    deletes the uploads of ended sessions, and when the dir is empty generates the sample video in
    the background (the server answers at once; /api/video is a 404 for the few seconds that
    takes). Pass run_packager=False in all but one process when several share a media dir
    (`--workers`); with a `store` they learn statuses and library changes through it.
    """
    try:
        tools: Tools | None = find_tools()
    except FfmpegMissing as exc:
        log.warning("%s: videos are served, but nothing is probed or packaged", exc)
        tools = None
    library = MediaLibrary(settings.media_dir, tools, settings.video)
    packager = Packager(
        library, tools, jobs=settings.packager_jobs, threads=settings.packager_threads, bus=store,
        session_exists=store.session_exists if store is not None else None,
    )
    await packager.start(package=run_packager)
    sample_task = None
    if run_packager:
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
    for video in await library.rescan():
        if video.path == sample:
            packager.enqueue(video.id)  # complete (renamed into place): no need to let it settle
    await packager.added_elsewhere()
