"""Library videos over HLS, uploads with progress, and watching while a video is still packaging."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from . import harness
from .viewer import Viewer, measure_skew, wait_in_sync

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.ffmpeg]

OpenViewer = Callable[..., Viewer]


def open_home_as_host(open_viewer: OpenViewer, base_url: str) -> Viewer:
    return open_viewer("host", base_url + "/")


def create_with_selected_video(host: Viewer, video_id: str) -> str:
    host.page.wait_for_selector(f'[data-video-list] option[value="{video_id}"]', state="attached")
    host.page.select_option("[data-video-list]", video_id)
    host.page.click("[data-create]")
    host.page.wait_for_selector("[data-created]:not([hidden])")
    link = host.page.input_value("[data-share-link]")
    host.page.click("[data-open-player]")
    host.wait_role("host")
    return link


def join(open_viewer: OpenViewer, name: str, link: str) -> Viewer:
    viewer = open_viewer(name, link)
    viewer.wait_role("participant")
    return viewer


def transport(viewer: Viewer) -> str:
    viewer.page.wait_for_function("() => document.querySelector('video').dataset.transport")
    return str(viewer.page.evaluate("() => document.querySelector('video').dataset.transport"))


def video_status(base_url: str, video_id: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/api/videos/{video_id}") as r:
        return dict(json.load(r)["hls"])


def wait_packaged(base_url: str, video_id: str, timeout: float = 60.0) -> None:
    import json
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base_url}/api/videos/{video_id}") as r:
            if json.load(r)["hls"]["status"] == "ready":
                return
        time.sleep(0.3)
    raise TimeoutError(f"{video_id} was not packaged within {timeout} s")


def test_a_library_video_plays_over_hls_in_sync(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    wait_packaged(server.base_url, "clip")
    host = open_home_as_host(open_viewer, server.base_url)
    link = create_with_selected_video(host, "clip")
    guest = join(open_viewer, "guest", link)
    for v in (host, guest):
        assert transport(v) in ("hls.js", "hls-native")
        v.wait_ready()
    log.info("transport %s", transport(host))
    host.click_play_pause()
    for v in (host, guest):
        v.wait_video("!v.paused && v.currentTime > 0.5")
    wait_in_sync([host, guest], 100.0)
    skews = measure_skew([host, guest], 3.0)
    assert skews and harness.percentile(skews, 95) < 100.0

    host.seek(30.0)
    for v in (host, guest):
        v.wait_video("!v.seeking && v.currentTime >= 30 && v.currentTime < 36", timeout=15_000)


def test_upload_shows_progress_then_plays_while_still_packaging(
    upload_server: harness.ServerProcess, open_viewer: OpenViewer, slow_source: Path
) -> None:
    host = open_home_as_host(open_viewer, upload_server.base_url)
    host.page.set_input_files("[data-upload-file]", str(slow_source))
    host.page.click("[data-upload]")
    # Uploading makes a session for the video and opens its player as host, on that video.
    host.page.wait_for_url("**/pages/player.html?sessionKey=*", timeout=30_000)
    host.wait_role("host")
    host.page.wait_for_function("() => /^holiday/.test(window.videosync.store.playback?.video ?? '')")
    video_id = str(host.authoritative()["video"])
    link = host.page.url

    # Pin HLS: Chromium could decode this original too, and the point is the growing playlist.
    host.page.goto(link + "&transport=hls")
    host.wait_role("host")
    guest = join(open_viewer, "guest", link + "&transport=hls")
    for v in (host, guest):
        assert transport(v) in ("hls.js", "hls-native")
        v.wait_ready(timeout=30_000)
    log.info("transport %s; packaging %s", transport(host), video_status(upload_server.base_url, video_id))
    host.click_play_pause()
    for v in (host, guest):
        v.wait_video("!v.paused && v.currentTime > 1", timeout=20_000)
    # A seek far ahead lands no further than what has been packaged so far.
    version = host.authoritative()["version"]
    host.seek(55.0)
    host.page.wait_for_function("(v) => window.videosync.controller.state.version > v", arg=version)
    commanded = float(host.authoritative()["currentTime"])
    # Read after the seek: the playlist keeps growing, and the host clamped to the edge it saw when
    # it sent the command, which is at most this one (an edge read before the seek raced it).
    edge = float(
        host.page.evaluate(
            "() => { const r = document.querySelector('video').seekable; return r.end(r.length - 1); }"
        )
    )
    if edge < 55:
        assert commanded <= edge + 1.0, f"the host asked for {commanded} s with only {edge} s packaged"
    for v in (host, guest):  # each has applied the seek
        v.page.wait_for_function("(v) => window.videosync.controller.state.version > v", arg=version)
        v.wait_video("!v.seeking")
    for v in (host, guest):
        state = v.page.evaluate(
            """() => { const v = document.querySelector('video'); const r = v.seekable;
                       return {t: v.currentTime, edge: r.length ? r.end(r.length - 1) : null}; }"""
        )
        log.info(
            "%s after the seek: %s; packaging %s",
            v.name,
            state,
            video_status(upload_server.base_url, video_id),
        )
        assert state["edge"] is None or state["t"] <= state["edge"] + 0.5, state


def test_the_host_switches_video_for_everyone(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host = open_home_as_host(open_viewer, server.base_url)
    link = create_with_selected_video(host, "clip")
    guest = join(open_viewer, "guest", link)
    assert guest.page.is_hidden("[data-host-only]"), "only the host is offered the video picker"
    host.page.wait_for_selector('[data-video-select] option[value="other"]', state="attached")
    host.page.select_option("[data-video-select]", "other")
    for v in (host, guest):
        v.page.wait_for_function("() => window.videosync.controller.state.video === 'other'")
        v.page.wait_for_function(
            "() => { const v = document.querySelector('video');"
            " return v.readyState >= 1 && v.duration < 13; }",
            timeout=15_000,
        )
        assert v.video()["paused"] is True
    host.click_play_pause()
    guest.wait_video("!v.paused && v.currentTime > 0.5")
