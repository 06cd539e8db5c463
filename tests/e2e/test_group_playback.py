"""Group playback in real Chromium: who controls, and the buffering gate with one viewer's media
requests blocked through the DevTools protocol (its player cannot load the next video until they
are let through; its WebSocket stays up, as a viewer on a starved link keeps its sync channel).

Behaviour only; the timings (pause after a stall, resume spread) are measured by
scripts/bench/bench_buffer_gate.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from . import harness
from .test_player import create_session_as_host, join_by_link, start_playing
from .viewer import Viewer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OpenViewer = Callable[..., Viewer]


# Every request a player makes for media (files, HLS playlists and segments, the library entry).
MEDIA_URLS = ["*/api/video*", "*/media/*"]


def block_media(viewer: Viewer, blocked: bool) -> Any:
    cdp = viewer.context.new_cdp_session(viewer.page)
    cdp.send("Network.enable")
    cdp.send("Network.setBlockedURLs", {"urls": MEDIA_URLS if blocked else []})
    return cdp


def test_mode_everyone_lets_a_participant_seek_for_all(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    start_playing(host, guest)
    assert guest.page.is_disabled("[data-seek]")

    host.page.select_option("[data-control-mode]", "everyone")
    guest.page.wait_for_selector('body[data-can-control="true"]')
    assert not guest.page.is_disabled("[data-seek]")
    host.page.wait_for_selector(f'[data-members] li[data-member-id="{member_id(guest)}"][data-controls="true"]')

    guest.seek(40.0)
    for v in (host, guest):
        v.wait_video("!v.seeking && v.currentTime >= 40 && v.currentTime < 48")

    host.page.select_option("[data-control-mode]", "host")
    guest.page.wait_for_selector('body[data-can-control="false"]')
    assert guest.page.is_disabled("[data-seek]")


def member_id(viewer: Viewer) -> str:
    return str(viewer.page.evaluate("() => window.videosync.store.memberId"))


def test_a_viewer_that_cannot_load_holds_everyone_and_all_start_together(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    slow = join_by_link(open_viewer, "slow", server.base_url, link)
    slow.page.fill("[data-name]", "Ana")
    slow.page.click("[data-name-form] button")
    host.page.wait_for_selector("[data-members] li:has-text('Ana')")
    start_playing(host, guest, slow)

    # The slow viewer's media requests fail from now on. (Not the whole network: going offline
    # also silences its WebSocket, which it gives up after 5 s — the gate then releases it as gone,
    # and whether that came before this test looked was a race on a loaded machine.)
    cdp = block_media(slow, blocked=True)
    host.page.select_option("[data-video-select]", "other")
    for v in (host, guest):
        v.page.wait_for_function("() => window.videosync.controller.state.video === 'other'")
        v.wait_ready()
    host.click_play_pause()

    slow_id = member_id(slow)
    for v in (host, guest):
        v.page.wait_for_selector("[data-waiting]:not([hidden])")
        # at the start the wait names everyone until their players say they have the new video
        v.page.wait_for_function(
            "() => document.querySelector('[data-waiting-text]').textContent === 'waiting for Ana…'"
        )
        assert v.page.evaluate("() => window.videosync.controller.state.waitingFor") == [slow_id]
        v.wait_video("v.paused")

    slow.page.wait_for_function("() => window.videosync.media.retries > 0")  # it tried, and failed
    cdp.send("Network.setBlockedURLs", {"urls": []})
    # its player loads the video again by itself (it retries a source the network failed)
    for v in (host, guest, slow):
        v.wait_video("!v.paused && v.currentTime > 0.3", timeout=20_000)
        v.page.wait_for_selector("[data-waiting]", state="hidden")
    starts = [v.page.evaluate("() => window.videosync.controller.state.timestamp") for v in (host, guest, slow)]
    assert len(set(starts)) == 1, f"not one scheduled start: {starts}"


def test_don_t_wait_for_me_lets_the_others_start(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    slow = join_by_link(open_viewer, "slow", server.base_url, link)
    start_playing(host, slow)
    slow.page.check("[data-dont-wait]")
    block_media(slow, blocked=True)
    host.page.select_option("[data-video-select]", "other")
    host.page.wait_for_function("() => window.videosync.controller.state.video === 'other'")
    host.wait_ready()
    host.click_play_pause()
    host.wait_video("!v.paused && v.currentTime > 1", timeout=10_000)
    assert host.page.is_hidden("[data-waiting]")
