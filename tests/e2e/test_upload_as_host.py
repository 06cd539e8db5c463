"""Uploading from the home page as a session's host, as a person would: no token is ever shown;
the upload carries the host token, the player opens on the new video, and packaging progress
arrives as pushed `mediaStatus` messages (no polling of the video's status)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .viewer import Viewer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OpenViewer = Callable[..., Viewer]


class Requests:
    """Every API request a page makes: (method, path, Authorization header or None)."""

    def __init__(self, page: Any) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        page.on("request", self._record)

    def _record(self, request: Any) -> None:
        path = re.sub(r"^https?://[^/]+", "", request.url)
        if path.startswith("/api/"):
            self.seen.append((request.method, path, request.headers.get("authorization")))

    def matching(self, method: str, pattern: str) -> list[tuple[str, str, str | None]]:
        return [r for r in self.seen if r[0] == method and re.fullmatch(pattern, r[1].split("?")[0])]


def test_upload_from_the_home_page_opens_the_player_as_host_on_the_new_video(
    upload_server: harness.ServerProcess, open_viewer: OpenViewer, slow_source: Path
) -> None:
    host = open_viewer("host", upload_server.base_url + "/")
    requests = Requests(host.page)
    host.page.wait_for_selector("[data-upload]")
    host.page.set_input_files("[data-upload-file]", str(slow_source))
    host.page.click("[data-upload]")
    host.page.wait_for_url("**/pages/player.html?sessionKey=*", timeout=30_000)
    host.wait_role("host")
    host.page.wait_for_function("() => /^holiday/.test(window.videosync.store.playback?.video ?? '')")
    video_id = str(host.authoritative()["video"])
    key = host.page.evaluate("() => window.videosync.store.sessionKey")

    # Packaging progress comes pushed over the socket and is shown to the people watching.
    host.page.wait_for_function(
        "() => /Preparing for streaming \\d+ %/.test(document.querySelector('[data-media-status]').textContent)",
        timeout=30_000,
    )
    host.page.wait_for_function(f"() => window.videosync.store.mediaStatus({video_id!r}) !== null")

    token = host.page.evaluate(f"() => sessionStorage.getItem('videosync:hostToken:{key}')")
    assert token, "the tab keeps the host token"
    assert token not in host.page.url and token not in host.page.inner_text("body"), "nobody sees the token"
    uploads = requests.matching("POST", r"/api/videos")
    assert [auth for (_, _, auth) in uploads] == [f"Bearer {token}"], "the upload is made as the host"
    listings = requests.matching("GET", r"/api/videos")
    assert listings and all(auth == f"Bearer {token}" for (_, _, auth) in listings), listings

    # Watching on while it packages: the status is never polled (one GET when the video is chosen).
    host.wait_ready(timeout=30_000)
    host.page.wait_for_function(
        f"() => window.videosync.store.mediaStatus({video_id!r}).progress > 0.2", timeout=60_000
    )
    status_gets = requests.matching("GET", rf"/api/videos/{re.escape(video_id)}")
    assert len(status_gets) <= 1, f"the video's status was polled: {status_gets}"


def test_upload_after_create_uses_the_session_just_created(
    upload_server: harness.ServerProcess, open_viewer: OpenViewer, slow_source: Path
) -> None:
    host = open_viewer("host", upload_server.base_url + "/")
    host.page.click("[data-create]")
    host.page.wait_for_selector("[data-created]:not([hidden])")
    created_key = host.page.text_content("[data-session-key]")
    host.page.set_input_files("[data-upload-file]", str(slow_source))
    host.page.click("[data-upload]")
    host.page.wait_for_url(f"**/pages/player.html?sessionKey={created_key}", timeout=30_000)
    host.wait_role("host")
    host.page.wait_for_function("() => /^holiday/.test(window.videosync.store.playback?.video ?? '')")
