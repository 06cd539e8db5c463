"""Fixtures for the browser tests: a real server process, real media, Debian's Chromium.

One browser context per viewer: pages sharing a context stop rendering frames in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .viewer import HOST_GRACE, Viewer

log = logging.getLogger(__name__)


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


@pytest.fixture(scope="module")
def slow_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A video the server must transcode to package: uploaded, it is still packaging while watched."""
    return harness.make_slow_to_package(tmp_path_factory.mktemp("upload") / "holiday film.mkv")


@pytest.fixture
def upload_server(tmp_path: Path) -> Iterator[harness.ServerProcess]:
    """A server of the test's own, whose media dir its uploads go into."""
    media = tmp_path / "media"
    media.mkdir()
    harness.make_clip(media / "clip.mp4", seconds=20)
    with harness.running_server(
        media, tmp_path / "server.log", extra_args=["--host-grace", HOST_GRACE]
    ) as srv:
        yield srv


# Package scope, not session: Playwright's sync API keeps an event loop running in the main thread,
# and every later pytest-tornado test would find it there ("another loop is running").
@pytest.fixture(scope="package")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
    yield chromium
    chromium.close()


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
