"""Subtitles in Chromium: two viewers, one on the progressive MP4 and one on HLS through hls.js, each
turns subtitles on for themselves, and the same cue is on screen at the same moment in both."""

from __future__ import annotations

import json
import logging
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from . import harness
from .test_player import SKEW_P95_BOUND_MS, create_session_as_host
from .viewer import Viewer, wait_in_sync

pytestmark = [pytest.mark.browser]
log = logging.getLogger(__name__)

OpenViewer = Callable[..., Viewer]
SECONDS = 40
CUE_UPDATE_MS = 250  # HTML: timeupdate (and with it the cue update) fires every 15 to 250 ms


def one_cue_per_second(seconds: int) -> str:
    """Cue `n` covers [n, n+1) s: which cue is showing says where the video is, to the second."""
    def ts(s: int) -> str:
        return f"00:{s // 60:02d}:{s % 60:02d},000"
    return "\n".join(f"{n + 1}\n{ts(n)} --> {ts(n + 1)}\ncue {n}\n" for n in range(seconds))


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media-subs")
    harness.make_clip(root / "movie.mp4", seconds=SECONDS)
    (root / "movie.en.srt").write_text(one_cue_per_second(SECONDS))
    return root


# Chromium plays a finished HLS playlist natively; hiding that makes the page use hls.js, the path
# every other browser without native HLS takes.
NO_NATIVE_HLS_JS = """(() => { const can = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? '' : can.call(this, type); }; })()"""

CUE_JS = """() => { const t = [...document.querySelector('video').textTracks].find(t => t.mode === 'showing');
  const c = t && t.activeCues && t.activeCues[0]; return c ? c.text : null; }"""

RECORD_JS = """() => { window.__cues = [];
  const t = [...document.querySelector('video').textTracks].find(t => t.mode === 'showing');
  t.addEventListener('cuechange', () => { const c = t.activeCues[0];
    if (c) window.__cues.push([c.text, Date.now()]); }); }"""


def wait_packaged(base_url: str, video_id: str, timeout: float = 60.0) -> dict[str, object]:
    """The video's API entry once its HLS packaging is ready (deadline poll)."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{base_url}/api/videos/{video_id}") as answer:
            entry = json.load(answer)
        if entry["hls"]["status"] == "ready" or time.monotonic() > deadline:
            assert entry["hls"]["status"] == "ready", entry
            return dict(entry)
        time.sleep(0.2)  # the poll interval


def turn_subtitles_on(viewer: Viewer) -> None:
    viewer.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    viewer.page.keyboard.press("c")
    viewer.page.wait_for_function(
        """() => { const t = [...document.querySelector('video').textTracks].find(t => t.mode === 'showing');
                   return t && t.label === 'English' && t.cues && t.cues.length > 0; }""")
    viewer.page.wait_for_selector('[data-subtitles][aria-pressed="true"]')  # rendered on the track's change


def test_a_subtitle_cue_shows_at_the_same_moment_in_two_tabs(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    entry = wait_packaged(server.base_url, "movie")
    assert [(t["lang"], t["label"]) for t in entry["subtitles"]] == [("en", "English")]  # type: ignore[union-attr]
    host, link = create_session_as_host(open_viewer, server.base_url)
    host.page.goto(host.page.url + "&transport=mp4")  # the same tab: still the host
    host.wait_role("host")
    host.page.wait_for_selector('[data-video-select] option[value="movie"]', state="attached")
    host.page.select_option("[data-video-select]", "movie")
    guest = open_viewer("guest", "")
    guest.context.add_init_script(NO_NATIVE_HLS_JS)  # so the guest plays through hls.js (MSE)
    guest.page.goto(link + "&transport=hls")
    guest.wait_role("participant")
    for v in (host, guest):
        v.page.wait_for_function("() => document.querySelector('video').dataset.transport !== undefined "
                                 "&& document.querySelectorAll('video track').length === 1", timeout=30_000)
        v.wait_ready(timeout=30_000)
    assert host.page.evaluate("() => document.querySelector('video').dataset.transport") == "mp4"
    assert guest.page.evaluate("() => document.querySelector('video').dataset.transport") == "hls.js"
    for v in (host, guest):
        assert v.page.evaluate(CUE_JS) is None, "subtitles are off until the viewer turns them on"
        turn_subtitles_on(v)

    # paused at one synced position, both show that second's cue
    host.seek(7.5)
    for v in (host, guest):
        v.wait_video("v.paused && !v.seeking && Math.abs(v.currentTime - 7.5) < 0.2", timeout=15_000)
        v.page.wait_for_function(f"() => ({CUE_JS})() === 'cue 7'")

    # playing and in sync, each cue appears in both tabs at the same wall-clock moment (one
    # machine, one clock): every onset from then on is compared
    host.click_play_pause()
    wait_in_sync([host, guest], SKEW_P95_BOUND_MS)
    for v in (host, guest):
        v.page.evaluate(RECORD_JS)
    last = int(str(host.page.evaluate(CUE_JS)).split()[-1]) + 5
    for v in (host, guest):
        v.page.wait_for_function(f"() => ({CUE_JS})() === 'cue {last}'", timeout=20_000)
    seen = [dict(v.page.evaluate("() => window.__cues")) for v in (host, guest)]
    common = sorted(set(seen[0]) & set(seen[1]))
    assert len(common) >= 4, seen
    gaps = [abs(seen[0][cue] - seen[1][cue]) for cue in common]
    log.info("cue onsets apart (ms): %s", dict(zip(common, gaps, strict=True)))
    # Typically within the sync bound; each one within the 250 ms a browser may take to run "time
    # marches on" (the HTML cadence of timeupdate) on top of it, which no sync can remove.
    assert statistics.median(gaps) <= SKEW_P95_BOUND_MS, f"cue onsets apart by {gaps} ms"
    assert max(gaps) <= SKEW_P95_BOUND_MS + CUE_UPDATE_MS, f"cue onsets apart by {gaps} ms"


def test_the_subtitle_choice_is_remembered_per_browser(
    server: harness.ServerProcess, open_viewer: OpenViewer
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    host.page.wait_for_selector('[data-video-select] option[value="movie"]', state="attached")
    host.page.select_option("[data-video-select]", "movie")
    host.page.wait_for_function("() => document.querySelectorAll('video track').length === 1")
    turn_subtitles_on(host)
    host.page.reload()
    host.wait_role("host")
    host.page.wait_for_function(
        "() => [...document.querySelector('video').textTracks].some(t => t.mode === 'showing')")
    guest = open_viewer("guest", link)  # another browser: its own choice, off
    guest.wait_role("participant")
    guest.page.wait_for_function("() => document.querySelectorAll('video track').length === 1")
    assert guest.page.evaluate(
        "() => [...document.querySelector('video').textTracks].every(t => t.mode === 'disabled')")
    host.page.keyboard.press("c")  # one track: C turns it off again
    host.page.wait_for_function(
        "() => [...document.querySelector('video').textTracks].every(t => t.mode === 'disabled')")
    assert host.page.evaluate("() => localStorage.getItem('videosync:subtitles')") == "off"
