"""Fixtures for the browser tests: a real server process, real media, Debian's Chromium.

One browser context per viewer: pages sharing a context stop rendering frames in the background.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import pytest

log = logging.getLogger(__name__)

HOST_GRACE = "1"  # seconds before a departed host is replaced (keeps the promotion test short)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = harness.have_tools()
    for item in items:
        if "browser" in item.keywords and missing:
            item.add_marker(pytest.mark.skip(reason=f"browser tests need: {', '.join(missing)}"))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    harness.make_clip(root / "clip.mp4", seconds=60)  # the default video (first by name)
    harness.make_clip(root / "other.mp4", seconds=12, size="240x180")
    return root


@pytest.fixture
def server(media_dir: Path, tmp_path: Path) -> Iterator[harness.ServerProcess]:
    with harness.running_server(
        media_dir,
        tmp_path / "server.log",
        extra_args=["--host-grace", HOST_GRACE],
    ) as srv:
        yield srv


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
    yield chromium
    chromium.close()


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


@pytest.fixture
def open_viewer(browser: Any) -> Iterator[Callable[..., Viewer]]:
    """open_viewer(name, url, in_browser=None) → a Viewer in a fresh context (of `in_browser`, by
    default the shared one); all are closed after the test."""
    viewers: list[Viewer] = []

    def _open(name: str, url: str, in_browser: Any = None, **context_args: Any) -> Viewer:
        context = (in_browser or browser).new_context(
            **{"viewport": {"width": 1000, "height": 700}, **context_args}
        )
        page = context.new_page()
        viewer = Viewer(name, context, page)
        page.on("pageerror", lambda exc: viewer.errors.append(str(exc)))
        page.on("console", lambda msg: log.debug("[%s] %s %s", name, msg.type, msg.text))
        if url:
            page.goto(url)
        viewers.append(viewer)
        return viewer

    yield _open
    for v in viewers:
        try:
            v.context.close()
        except Exception:  # noqa: BLE001 - a context closed by the test itself is fine
            pass
    for v in viewers:
        assert not v.errors, f"uncaught errors in {v.name}'s page: {v.errors}"


def measure_skew(viewers: list[Viewer], seconds: float, rate: float = 1.0) -> list[float]:
    """Pairwise steady-state skews (ms) over `seconds` of sampling."""
    for v in viewers:
        harness.install_sampler(v.page)
    start = harness.wall_now(viewers[0].page)
    time.sleep(seconds)
    samples = [harness.read_samples(v.page, start) for v in viewers]
    end = min(s[-1][0] for s in samples if s)
    return harness.window_skews(samples, start, end, window_ms=500.0, rate=rate)
