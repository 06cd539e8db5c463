"""The player's everyday controls in Chromium: keyboard shortcuts act for everyone only when they
come from whoever may control; volume and mute stay with each viewer; fullscreen takes the whole
player (video, overlay layer and controls)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from . import harness
from .test_player import create_session_as_host, join_by_link
from .viewer import Viewer

pytestmark = [pytest.mark.browser]

OpenViewer = Callable[..., Viewer]


def press(viewer: Viewer, key: str) -> None:
    """A key press on the page itself (nothing focused), as a keyboard user would after a click."""
    viewer.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    viewer.page.keyboard.press(key)


SPY_JS = """() => { const socket = window.videosync.socket; window.__sent = [];
  const send = socket.send.bind(socket);
  socket.send = (m) => { if (m.type !== 'timeSync' && m.type !== 'report') window.__sent.push(m.type); return send(m); }; }"""


def spy_on_commands(viewer: Viewer) -> None:
    """Record every message the page sends from now on, except clock pings and status reports."""
    viewer.page.evaluate(SPY_JS)


def commands_sent(viewer: Viewer) -> list[str]:
    return list(viewer.page.evaluate("() => window.__sent"))


def test_keyboard_seek_and_play_by_the_host_reach_the_other_tab(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    for v in (host, guest):
        v.wait_ready()

    press(host, "ArrowRight")
    press(host, "ArrowRight")
    for v in (host, guest):
        v.page.wait_for_function("() => Math.abs(window.videosync.store.playback.currentTime - 10) < 0.5")
        v.wait_video("v.paused && !v.seeking && Math.abs(v.currentTime - 10) < 0.5")
    press(host, "ArrowLeft")
    guest.wait_video("!v.seeking && Math.abs(v.currentTime - 5) < 0.5")

    press(host, " ")
    for v in (host, guest):
        v.wait_video("!v.paused && v.currentTime > 5.3")
    press(host, "k")
    for v in (host, guest):
        v.wait_video("v.paused")


def test_a_participants_shortcuts_change_nothing_for_anyone(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    guest.wait_ready()
    spy_on_commands(guest)
    for key in (" ", "k", "ArrowRight", "ArrowLeft"):
        press(guest, key)
    guest.page.wait_for_selector("[data-notice]:not([hidden])")
    assert "Only the host" in (guest.page.text_content("[data-notice]") or "")
    assert commands_sent(guest) == [], "the refusal is local: nothing is sent"
    assert guest.video()["paused"]


def test_mute_and_volume_stay_with_one_viewer_and_are_remembered(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    for v in (host, guest):
        v.wait_ready()
    before = host.authoritative()
    spy_on_commands(host)

    press(host, "m")
    host.page.wait_for_function("() => document.querySelector('video').muted")
    # the button follows the element's volumechange event, a task after `muted` changed
    host.page.wait_for_selector('[data-mute][aria-pressed="true"]')
    host.page.fill("[data-volume]", "0.4")  # a range input: fill sets its value and fires input
    host.page.wait_for_function("() => Math.abs(document.querySelector('video').volume - 0.4) < 1e-6")

    guest_audio = guest.page.evaluate(
        "() => { const v = document.querySelector('video'); return [v.muted, v.volume]; }"
    )
    assert guest_audio == [False, 1], "the other tab's sound is its own"
    assert commands_sent(host) == [], "local volume never touches the shared state"
    assert host.authoritative() == before

    host.page.reload()
    host.wait_role("host")
    audio = host.page.evaluate(
        "() => { const v = document.querySelector('video'); return [v.muted, v.volume]; }"
    )
    assert audio == [False, pytest.approx(0.4)], "volume is remembered (moving the slider off 0 unmuted)"
    press(host, "m")
    # saved by the volumechange handler, which also renders the button: wait for the button
    host.page.wait_for_selector('[data-mute][aria-pressed="true"]')
    host.page.reload()
    host.wait_role("host")
    assert host.page.evaluate("() => document.querySelector('video').muted") is True, "mute is remembered"


def test_fullscreen_takes_the_whole_player_with_its_controls(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, _ = create_session_as_host(open_viewer, server.base_url)
    host.wait_ready()
    press(host, "f")
    host.page.wait_for_function("() => document.fullscreenElement !== null")
    inside = host.page.evaluate(
        """() => { const fs = document.fullscreenElement;
                   return ['[data-video]', '[data-play]', '[data-seek]', '[data-mute]', '[data-fullscreen]',
                           '[data-stage-overlay]'].filter((s) => !fs.contains(document.querySelector(s))); }"""
    )
    assert inside == [], f"outside the fullscreen element: {inside}"
    host.page.wait_for_selector('[data-fullscreen][aria-pressed="true"]')  # it follows fullscreenchange
    assert host.page.is_visible("[data-play]")
    press(host, "f")
    host.page.wait_for_function("() => document.fullscreenElement === null")
    host.page.click("[data-fullscreen]")
    host.page.wait_for_function(
        "() => document.fullscreenElement === document.querySelector('[data-player]')"
    )


OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const cut = [...document.querySelectorAll('button, input, select, a')]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => { const r = el.getBoundingClientRect(); return r.left < 0 || r.right > width + 0.5; })
    .map((el) => el.outerHTML.slice(0, 80));
  return {scroll: document.documentElement.scrollWidth, width, cut};
}"""


def test_every_page_fits_a_phone_screen(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    home = open_viewer("phone", server.base_url + "/", **phone)
    home.page.wait_for_selector("[data-create]")
    fit = home.page.evaluate(OVERFLOW_JS)
    assert fit["cut"] == [] and fit["scroll"] <= fit["width"], fit
    home.page.tap("[data-create]")
    home.page.wait_for_selector("[data-created]:not([hidden])")
    assert home.page.evaluate(OVERFLOW_JS)["cut"] == []
    home.page.tap("[data-open-player]")
    home.wait_role("host")
    fit = home.page.evaluate(OVERFLOW_JS)
    assert fit["cut"] == [] and fit["scroll"] <= fit["width"], fit
    home.wait_ready()
    home.page.tap("[data-play]")
    home.wait_video("!v.paused && v.currentTime > 0.3")
