"""Chat and moderation in Chromium, two tabs as people would use them: a message appears in the
other tab (as text), a removed tab says why and does not come back, a banned tab stays out after a
reload, a password-protected room refuses then admits, and fullscreen keeps the chat readable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from . import harness
from .test_player import create_session_as_host, join_by_link
from .viewer import Viewer

pytestmark = [pytest.mark.browser]

OpenViewer = Callable[..., Viewer]


def say(viewer: Viewer, text: str, form: str = "[data-chat-form]") -> None:
    viewer.page.fill(f"{form} input", text)
    viewer.page.press(f"{form} input", "Enter")


def chat_texts(viewer: Viewer) -> list[str]:
    return list(viewer.page.eval_on_selector_all("[data-chat-log] .chat-text", "els => els.map(e => e.textContent)"))


def test_a_message_appears_in_the_other_tab_as_text(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    host.page.wait_for_selector("[data-chat-log] .chat-line.system")  # "guest … joined"
    say(guest, "hello <b>host</b>")
    host.page.wait_for_selector("[data-chat-log] .chat-text")
    assert chat_texts(host) == ["hello <b>host</b>"]
    assert host.page.query_selector("[data-chat-log] b") is None, "typed markup is never markup"
    assert host.page.is_visible("[data-chat-overlay] .chat-line.chat"), "shown over the video too"
    guest.page.wait_for_selector("[data-chat-log] .chat-line.mine")
    assert guest.page.input_value("[data-chat-form] input") == ""
    # a late joiner gets the history with its init
    late = join_by_link(open_viewer, "late", server.base_url, link)
    late.page.wait_for_selector("[data-chat-log] .chat-text")
    assert chat_texts(late) == ["hello <b>host</b>"]
    assert host.errors == guest.errors == late.errors == []


def test_a_removed_tab_says_why_and_does_not_reconnect(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    guest_id = guest.page.evaluate("() => window.videosync.store.memberId")
    host.page.click(f'[data-kick="{guest_id}"]')
    guest.page.wait_for_selector("[data-gone]:not([hidden])")
    assert "removed" in (guest.page.text_content("[data-gone-title]") or "")
    stopped = guest.page.evaluate(
        "() => { const s = window.videosync.socket; return [s.status, s.stopped, s.timers.size]; }"
    )
    assert stopped == ["closed", True, 0], "no reconnect is scheduled"
    host.page.wait_for_selector(f'[data-members] li[data-member-id="{guest_id}"]', state="detached")
    host.page.wait_for_selector("[data-chat-log] .chat-line.system >> text=removed by the host")


def test_a_banned_tab_stays_out_after_a_reload(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    guest_id = guest.page.evaluate("() => window.videosync.store.memberId")
    host.page.click(f'[data-ban="{guest_id}"]')
    guest.page.wait_for_selector("[data-gone]:not([hidden])")
    assert "banned" in (guest.page.text_content("[data-gone-title]") or "")
    guest.page.reload()
    guest.page.wait_for_selector("[data-gone]:not([hidden])")
    assert "banned" in (guest.page.text_content("[data-gone-title]") or "")
    assert guest.page.evaluate("() => window.videosync.store.joined") is False


def test_a_locked_room_keeps_newcomers_out(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    host.page.click("[data-lock]")
    host.page.wait_for_selector("[data-locked-badge]:not([hidden])")
    late = open_viewer("late", link)
    late.page.wait_for_selector("[data-gone]:not([hidden])")
    assert "locked" in (late.page.text_content("[data-gone-title]") or "")


def test_a_password_room_refuses_then_admits(server: harness.ServerProcess, open_viewer: OpenViewer) -> None:
    host = open_viewer("host", server.base_url + "/")
    host.page.fill("[data-create-password]", "open sesame")
    host.page.click("[data-create]")
    host.page.wait_for_selector("[data-created]:not([hidden])")
    link = host.page.input_value("[data-share-link]")
    host.page.click("[data-open-player]")
    host.wait_role("host")  # the host token, not the password, lets its creator in
    assert host.page.is_hidden("[data-password-form]")

    guest = open_viewer("guest", link)
    guest.page.wait_for_selector("[data-password-form]:not([hidden])")
    assert "protected" in (guest.page.text_content("[data-password-message]") or "")
    assert guest.page.evaluate("() => window.videosync.store.joined") is False
    guest.page.fill("[data-password-input]", "wrong")
    guest.page.press("[data-password-input]", "Enter")
    guest.page.wait_for_selector("[data-password-form]:not([hidden]) >> text=not right")
    guest.page.fill("[data-password-input]", "open sesame")
    guest.page.click("[data-password-form] button")
    guest.wait_role("participant")
    guest.page.reload()  # the password is kept for this tab's reconnects
    guest.wait_role("participant")
    assert guest.page.is_hidden("[data-password-form]")


def test_fullscreen_keeps_the_chat_readable_and_writable(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    guest = join_by_link(open_viewer, "guest", server.base_url, link)
    host.page.click("[data-fullscreen]")
    host.page.wait_for_function("() => document.fullscreenElement === document.querySelector('[data-player]')")
    say(guest, "can you read this?")
    host.page.wait_for_selector("[data-chat-overlay] .chat-text >> text=can you read this?")
    inside = host.page.evaluate(
        """() => { const fs = document.fullscreenElement;
                   const line = [...document.querySelectorAll('[data-chat-overlay] .chat-line.chat')].at(-1);
                   const box = line.getBoundingClientRect();
                   return fs.contains(line) && fs.contains(document.querySelector('[data-chat-overlay-form]'))
                     && box.width > 0 && box.bottom <= innerHeight && getComputedStyle(line).opacity > 0.5; }"""
    )
    assert inside, "the last line is inside the fullscreen element, on screen and opaque"
    assert host.page.is_visible("[data-chat-overlay-form] input")
    say(host, "yes, in fullscreen", form="[data-chat-overlay-form]")
    guest.page.wait_for_selector("[data-chat-log] .chat-text >> text=yes, in fullscreen")
    assert host.page.evaluate("() => document.fullscreenElement !== null"), "typing kept fullscreen ('f' is text)"
