"""One person watching in the browser tests: a browser context, its page, and helpers that read
the page's <video> and drive its controls; plus the skew measurement over several viewers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import harness

HOST_GRACE = "1"  # seconds before a departed host is replaced (keeps the promotion test short)


@dataclass
class Viewer:
    """One person watching: their own browser context and page."""

    name: str
    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)

    def video(self) -> dict[str, Any]:
        return self.page.evaluate(
            """() => { const v = document.querySelector('video');
                       return {currentTime: v.currentTime, paused: v.paused, seeking: v.seeking,
                               playbackRate: v.playbackRate, readyState: v.readyState}; }"""
        )

    def role(self) -> str:
        return str(self.page.get_attribute("[data-role-badge]", "data-role") or "")

    def wait_role(self, role: str, timeout: float = 10_000) -> None:
        self.page.wait_for_selector(f'[data-role-badge][data-role="{role}"]', timeout=timeout)
        self.page.wait_for_function(
            "() => window.videosync && window.videosync.store.memberId", timeout=timeout
        )

    def wait_connected(self, timeout: float = 15_000) -> None:
        self.page.wait_for_selector('[data-connection][data-state="open"]', timeout=timeout)

    def wait_ready(self, timeout: float = 15_000) -> None:
        self.page.wait_for_function("() => document.querySelector('video').readyState >= 3", timeout=timeout)

    def wait_video(self, predicate_js: str, timeout: float = 10_000) -> None:
        self.page.wait_for_function(
            f"() => {{ const v = document.querySelector('video'); return {predicate_js}; }}",
            timeout=timeout,
        )

    def authoritative(self) -> dict[str, Any]:
        return self.page.evaluate("() => window.videosync.controller.state")

    # host actions, through the page's own controls
    def click_play_pause(self) -> None:
        self.page.click("[data-play]")

    def seek(self, seconds: float) -> None:
        self.page.eval_on_selector(
            "[data-seek]",
            """(el, t) => { el.value = String(t); el.dispatchEvent(new Event('input'));
                            el.dispatchEvent(new Event('change')); }""",
            seconds,
        )

    def set_speed(self, rate: str) -> None:
        self.page.select_option("[data-speed]", rate)


def wait_in_sync(
    viewers: list[Viewer], bound_ms: float, rate: float = 1.0, timeout: float = 15.0, hold_s: float = 1.5
) -> float:
    """Poll until every pair of viewers has stayed within `bound_ms` of each other through the
    last `hold_s` seconds (every 500 ms window steady); seconds it took. Fails past `timeout`.

    What a fixed "let it settle" sleep used to stand for: returns as soon as they converged, and
    on a loaded machine waits as long as the deadline allows instead of measuring too early."""
    for v in viewers:
        harness.install_sampler(v.page)
    page = viewers[0].page
    start = harness.wall_now(page)
    pairs = len(viewers) * (len(viewers) - 1) // 2
    windows = int(hold_s * 1000 // 500)
    begun = time.monotonic()
    skews: list[float] = []
    while time.monotonic() - begun < timeout:
        page.wait_for_timeout(250)  # the poll interval
        end = harness.wall_now(page)
        since = end - windows * 500.0
        if since < start:
            continue
        samples = [harness.read_samples(v.page, since) for v in viewers]
        skews = harness.window_skews(samples, since, end, window_ms=500.0, rate=rate)
        if len(skews) == pairs * windows and max(skews) <= bound_ms:
            return time.monotonic() - begun
    raise AssertionError(f"not within {bound_ms} ms of each other within {timeout} s; last skews {skews}")


def measure_skew(viewers: list[Viewer], seconds: float, rate: float = 1.0) -> list[float]:
    """Pairwise steady-state skews (ms) over `seconds` of sampling."""
    for v in viewers:
        harness.install_sampler(v.page)
    start = harness.wall_now(viewers[0].page)
    time.sleep(seconds)  # the sampling period, not a wait for something to happen
    samples = [harness.read_samples(v.page, start) for v in viewers]
    end = min(s[-1][0] for s in samples if s)
    return harness.window_skews(samples, start, end, window_ms=500.0, rate=rate)
