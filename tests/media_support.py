"""Clips for the media tests, generated once per run with the real ffmpeg (never committed)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from videosync.ffmpeg import Tools, find_tools
from videosync.sample import make_clip

SMALL = {"width": 320, "height": 180, "fps": 25}


@pytest.fixture(scope="session")
def tools() -> Tools:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed: run scripts/test.sh, which installs it")
    return find_tools()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    """name -> clip: `h264_aac` (copy), `h264_mp2` (copy video, re-encode audio), `mpeg4`
    (transcode), `silent` (no audio), `long` (30 s, to watch a transcode while it runs),
    `moov_last` (index at the end, so half of it is unreadable)."""
    root = tmp_path_factory.mktemp("clips")
    return {
        "h264_aac": make_clip(root / "h264_aac.mp4", tools, seconds=10, **SMALL),
        "h264_mp2": make_clip(root / "h264_mp2.mkv", tools, seconds=10, audio_codec="mp2", **SMALL),
        "mpeg4": make_clip(root / "mpeg4.mkv", tools, seconds=10, video_codec="mpeg4", **SMALL),
        "silent": make_clip(root / "silent.mp4", tools, seconds=10, audio_codec=None, **SMALL),
        "long": make_clip(root / "long.mkv", tools, seconds=30, video_codec="mpeg4", **SMALL),
        "moov_last": make_clip(root / "moov_last.mp4", tools, seconds=10, faststart=False, **SMALL),
    }


def ffprobe_streams(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        check=True, capture_output=True,
    )
    return list(json.loads(out.stdout)["streams"])


def fake_ffmpeg(directory: Path, script: str) -> str:
    """An executable standing in for ffmpeg (a full disk, a hang), so failures are reproducible."""
    path = directory / "fake-ffmpeg"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


GOLDEN_MTIME = 1744724728  # Tue, 15 Apr 2025 13:45:28 GMT: the Last-Modified in the Go transcripts


def golden_copy(clip: Path, target: Path) -> Path:
    """`clip` copied to `target` with the transcripts' mtime, so Last-Modified is predictable."""
    shutil.copy(clip, target)
    os.utime(target, (GOLDEN_MTIME, GOLDEN_MTIME))
    return target


def clip_media_dir(tmp_path: Path, clip: Path, name: str = "clip.mp4") -> Path:
    """A fresh media dir holding one golden copy of `clip` as `name`."""
    media = tmp_path / "media"
    media.mkdir()
    golden_copy(clip, media / name)
    return media


def media_services(media_dir: Path, tools: Tools, tmp_path: Path, store_url: str = "memory://",  # type: ignore[no-untyped-def]
                   store=None, **settings: object):
    """Services for make_app with the media routes, on the given store; also the packager (not
    started: a test starts it, with `await packager.start()`)."""
    from videosync.app import Services
    from videosync.media import MediaLibrary
    from videosync.packager import Packager
    from videosync.sessions import SessionService
    from videosync.settings import Settings
    from videosync.store import open_store

    config = Settings(media_dir=str(media_dir), web_dir=str(tmp_path / "no-web"), **settings)  # type: ignore[arg-type]
    library = MediaLibrary(media_dir, tools, config.video)
    store = store or open_store(store_url)  # a store passed in: a second process on the same one

    async def session_exists(key: str) -> bool:
        return await store.session_exists(key)

    packager = Packager(library, tools, rescan_interval=None, settle_seconds=0, bus=store,
                        jobs=config.packager_jobs, threads=config.packager_threads,
                        session_exists=session_exists, sweep_interval=None)
    services = Services(
        settings=config, store=store,
        sessions=SessionService(store, config.session_ttl, video_exists=library.has),
        library=library, packager=packager,
    )
    return services, library, packager


def serving_media(io_loop: Any, media_dir: Path, tools: Tools, tmp_path: Path, store_url: str = "memory://",
                  **settings: object) -> Iterator[tuple[Any, Any, Any]]:
    """The body of a `media` fixture (`yield from serving_media(...)`): media_services' triple,
    then the packager and the store closed once the test is done."""
    services, library, packager = media_services(media_dir, tools, tmp_path, store_url, **settings)
    yield services, library, packager
    io_loop.run_sync(packager.close)
    io_loop.run_sync(services.store.close)


# A test module whose `media` fixture uses serving_media imports these to serve and reach it.
@pytest.fixture(name="services")
def media_services_fixture(media):  # type: ignore[no-untyped-def]
    return media[0]


@pytest.fixture(name="app")
def media_app(media):  # type: ignore[no-untyped-def]
    from videosync.app import make_app

    return make_app(media[0])
