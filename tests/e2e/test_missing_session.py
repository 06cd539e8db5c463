"""A player page whose session does not exist, or ends while people watch, shows one clear state:
why, with the controls disabled, the video stopped, nothing that needs a live session (members,
"Make host", sharing) and a way to start a new session."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.redis_server import RedisServer

from . import harness
from .viewer import HOST_GRACE, Viewer

pytestmark = [pytest.mark.browser]

OpenViewer = Callable[..., Viewer]


def assert_gone_state(viewer: Viewer, title: str) -> None:
    page = viewer.page
    page.wait_for_selector("[data-gone]:not([hidden])", timeout=15_000)
    assert title in (page.text_content("[data-gone-title]") or "")
    assert page.is_hidden("[data-error]"), "one message, not two"
    body = page.inner_text("body")
    assert "Nobody is host" not in body, "no contradictory host message"
    assert "Only the host controls" not in body
    for control in ("[data-play]", "[data-seek]", "[data-speed]"):
        assert page.is_disabled(control), f"{control} is still live"
    assert page.is_hidden("[data-members]"), "the member list is hidden"
    assert page.locator("[data-make-host]:visible").count() == 0
    assert page.is_hidden("[data-share-link]"), "a dead link is not offered for sharing"
    assert page.is_hidden("[data-overlay]")
    video = viewer.video()
    assert video["paused"], "the video is stopped"
    assert page.get_attribute("[data-connection]", "data-state") == "closed"


def test_an_unknown_key_shows_does_not_exist_and_offers_a_new_session(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    stranger = open_viewer("stranger", f"{server.base_url}/pages/player.html?sessionKey={uuid.uuid4()}")
    assert_gone_state(stranger, "This session does not exist")
    assert stranger.page.evaluate("() => document.activeElement.dataset.newSession !== undefined"), (
        "keyboard focus lands on the way out"
    )
    stranger.page.click("[data-new-session]")
    stranger.page.wait_for_selector("[data-create]")
    assert stranger.page.url.rstrip("/") == server.base_url


def test_a_link_without_a_key_shows_the_same_state(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    stranger = open_viewer("stranger", f"{server.base_url}/pages/player.html")
    assert_gone_state(stranger, "This session does not exist")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    proc = harness.start_redis()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def redis_backed(
    media_dir: Path, tmp_path: Path, redis_server: RedisServer
) -> Iterator[harness.ServerProcess]:
    with harness.running_server(
        media_dir,
        tmp_path / "server.log",
        redis_url=redis_server.url,
        extra_args=["--host-grace", HOST_GRACE],
    ) as srv:
        yield srv


def create_session(base_url: str) -> dict[str, Any]:
    request = urllib.request.Request(base_url + "/api/sessions", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def test_a_session_that_ends_while_watching_stops_everyone(
    redis_backed: harness.ServerProcess, redis_server: RedisServer, open_viewer: OpenViewer
) -> None:
    key = create_session(redis_backed.base_url)["sessionKey"]
    link = f"{redis_backed.base_url}/pages/player.html?sessionKey={key}"
    first = open_viewer("first", link)
    first.wait_role("host")
    second = open_viewer("second", link)
    second.wait_role("participant")
    first.wait_ready()
    first.click_play_pause()
    for v in (first, second):
        v.wait_video("!v.paused && v.currentTime > 0.3")

    with redis.Redis(port=redis_server.port) as client:
        client.delete(f"session:{key}")  # what an operator's DEL or an expiry does

    for v in (first, second):
        assert_gone_state(v, "This session has ended")
        # and it stays stopped: the socket is closed for good, no reconnect is scheduled
        assert v.page.evaluate("() => window.videosync.socket.stopped") is True
