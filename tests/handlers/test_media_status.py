"""`mediaStatus` over a real WebSocket: a member learns the packaging status of the session's video
when it joins and when the video changes (unless there is nothing to wait for), and a session with
no video of its own follows the default video's packaging."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tornado.ioloop import IOLoop

from tests.support.ws_fixtures import Connect
from videosync.app import Services
from videosync.media import MediaLibrary
from videosync.packager import Packager
from videosync.packaging_status import NO_STATUS
from videosync.sessions import SessionService
from videosync.settings import Settings
from videosync.state import PlaybackState
from videosync.store import Store

PACKAGING = {**NO_STATUS, "status": "packaging", "progress": 0.25, "mode": "transcode"}
READY = {**NO_STATUS, "status": "ready", "progress": 1.0, "playlist": "/media/hls/clip/1/index.m3u8"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.mp4", "clip.mp4"):  # "a" sorts first: the default video
        (media / name).write_bytes(b"not decoded here")
    return Settings(media_dir=str(media), web_dir=str(tmp_path / "no-web"), presence_interval=0.2)


@pytest.fixture
def packager(library: MediaLibrary) -> Packager:
    # Not started: like a process that does not package, it keeps the statuses it is told (`heard`).
    return Packager(library, None, rescan_interval=None)


@pytest.fixture
def services(settings: Settings, store: Store, library: MediaLibrary, packager: Packager) -> Services:
    sessions = SessionService(store, settings.session_ttl, video_exists=library.has)
    return Services(settings=settings, store=store, sessions=sessions, library=library, packager=packager)


@pytest.fixture(autouse=True)
def _stop_hub(services: Services, io_loop: IOLoop):  # type: ignore[no-untyped-def]
    io_loop.run_sync(lambda: asyncio.sleep(0, services.hub.start()))  # on the test's loop
    yield
    io_loop.run_sync(lambda: services.hub.shutdown(timeout=2))


async def session_watching(services: Services, video: str | None) -> str:
    key = (await services.sessions.create()).key
    if video is not None:
        await services.sessions.save_state(key, PlaybackState(video=video))
    return key


def media_statuses(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "mediaStatus"]


@pytest.mark.gen_test(timeout=20)
async def test_a_joiner_is_told_the_status_of_a_video_still_packaging(
    connect: Connect, services: Services, packager: Packager
) -> None:
    packager.heard("clip", PACKAGING)
    member = await connect(f"?sessionKey={await session_watching(services, 'clip')}")
    assert await member.recv_type("mediaStatus") == {"type": "mediaStatus", "video": "clip", "status": PACKAGING}


@pytest.mark.gen_test(timeout=20)
async def test_a_joiner_is_not_told_about_a_ready_video_or_one_nothing_is_known_of(
    connect: Connect, services: Services, packager: Packager
) -> None:
    packager.heard("clip", READY)
    ready = await connect(f"?sessionKey={await session_watching(services, 'clip')}")
    unknown = await connect(f"?sessionKey={await session_watching(services, None)}")  # "a": no status
    assert media_statuses(await ready.nothing()) == []
    assert media_statuses(await unknown.nothing()) == []


@pytest.mark.gen_test(timeout=20)
async def test_a_session_without_a_video_follows_the_default_videos_packaging(
    connect: Connect, services: Services, packager: Packager
) -> None:
    assert services.library.default().id == "a"
    packager.heard("a", PACKAGING)
    member = await connect(f"?sessionKey={await session_watching(services, None)}")
    assert await member.recv_type("mediaStatus") == {"type": "mediaStatus", "video": "a", "status": PACKAGING}
    other = await connect(f"?sessionKey={await session_watching(services, 'clip')}")
    await services.hub.media_ready.wait()  # the media channel's subscription is in place
    later = {**PACKAGING, "progress": 0.5}
    await services.hub.publish_media_status("a", later)
    assert await member.recv_type("mediaStatus") == {"type": "mediaStatus", "video": "a", "status": later}
    assert media_statuses(await other.nothing()) == []


@pytest.mark.gen_test(timeout=20)
async def test_switching_to_a_video_still_packaging_tells_every_member_its_status(
    connect: Connect, services: Services, packager: Packager
) -> None:
    packager.heard("clip", PACKAGING)
    key = await session_watching(services, None)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    await host.update(video="clip", paused=True, currentTime=0)
    for member in (host, guest):
        assert (await member.recv_type("stateUpdate"))["state"]["video"] == "clip"
        assert await member.recv_type("mediaStatus") == {"type": "mediaStatus", "video": "clip", "status": PACKAGING}
    # a change of something else (the same video) says nothing new
    await host.update(video="clip", paused=False, currentTime=1)
    for member in (host, guest):
        assert media_statuses(await member.nothing()) == []
