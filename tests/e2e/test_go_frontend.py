"""The Go project's frontend (docs/go-protocol.md §6), served from another origin, still works against us.

`go_frontend/` reproduces the GO-A pages: create with `POST /api/sessions`, join via validate,
`ws://…/ws?sessionKey=`, `<video src=…/api/video>`, init/stateUpdate handling, and the host's
play/pause/seeked events sent as stateUpdate. Only its API base is injected (Go hard-coded
`http://localhost:8080`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .viewer import Viewer

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GO_FRONTEND = Path(__file__).parent / "go_frontend"
GO_DRIFT_LIMIT_S = 0.5  # the Go client only corrects drift above this; allow it plus network slack

OpenViewer = Callable[[str, str], Viewer]


class _GoFrontendHandler(SimpleHTTPRequestHandler):
    api_base = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0].endswith("/scripts/config.js"):
            body = f'const API_BASE = "{self.api_base}";\n'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("go frontend: " + format, *args)


@pytest.fixture
def go_frontend(server: harness.ServerProcess) -> Iterator[str]:
    """The Go pages on their own origin (another port), pointed at our server."""
    handler = type("Handler", (_GoFrontendHandler,), {"api_base": server.base_url})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(GO_FRONTEND)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def go_join(viewer: Viewer, origin: str, key: str) -> None:
    viewer.page.goto(origin + "/index.html")
    viewer.page.fill("#joinKey", key)
    viewer.page.click("#joinSession")
    viewer.page.wait_for_url("**/pages/player.html?sessionKey=*")
    viewer.page.wait_for_function("() => window.goClient.messages.includes('init')")


def video_time(viewer: Viewer) -> float:
    return float(viewer.page.evaluate("() => document.getElementById('videoPlayer').currentTime"))


def go_video(viewer: Viewer, predicate_js: str, timeout: float = 10_000) -> None:
    viewer.page.wait_for_function(
        f"() => {{ const v = document.getElementById('videoPlayer'); return {predicate_js}; }}",
        timeout=timeout,
    )


def test_go_frontend_creates_joins_and_follows_its_host(
    server: harness.ServerProcess, go_frontend: str, open_viewer: OpenViewer
) -> None:
    host = open_viewer("go-host", go_frontend + "/index.html")
    assert not go_frontend.startswith(server.base_url)
    host.page.click("#createSession")
    host.page.wait_for_function("() => document.getElementById('sessionKey').textContent.length === 36")
    key = host.page.text_content("#sessionKey") or ""

    go_join(host, go_frontend, key)
    assert host.page.evaluate("() => window.goClient.isHost") is True
    assert host.page.text_content("#role") == "Host"
    participant = open_viewer("go-participant", "")
    go_join(participant, go_frontend, key)
    assert participant.page.evaluate("() => window.goClient.isHost") is False
    for v in (host, participant):
        go_video(v, "v.readyState >= 3", timeout=15_000)

    host.page.evaluate("() => document.getElementById('videoPlayer').play()")
    go_video(participant, "!v.paused && v.currentTime > 1")
    assert abs(video_time(host) - video_time(participant)) < GO_DRIFT_LIMIT_S + 0.3

    host.page.evaluate("() => { const v = document.getElementById('videoPlayer'); v.currentTime = 30; }")
    go_video(participant, "v.currentTime > 29 && v.currentTime < 33")

    host.page.evaluate("() => document.getElementById('videoPlayer').pause()")
    go_video(participant, "v.paused")
    assert abs(video_time(host) - video_time(participant)) < GO_DRIFT_LIMIT_S + 0.3
    # the extensions (memberJoined, timeSync, …) reached it and were ignored without errors
    assert (
        participant.page.evaluate("() => window.goClient.messages.filter((t) => t === 'stateUpdate').length")
        >= 3
    )


def test_go_frontend_participant_follows_a_host_on_the_new_web_app(
    server: harness.ServerProcess, go_frontend: str, open_viewer: OpenViewer
) -> None:
    host = open_viewer("host", server.base_url + "/")
    host.page.click("[data-create]")
    host.page.wait_for_selector("[data-created]:not([hidden])")
    key = host.page.text_content("[data-session-key]") or ""
    host.page.click("[data-open-player]")
    host.wait_role("host")

    old = open_viewer("go-participant", "")
    go_join(old, go_frontend, key)
    assert old.page.evaluate("() => window.goClient.isHost") is False
    host.wait_ready()
    go_video(old, "v.readyState >= 3", timeout=15_000)

    host.click_play_pause()
    go_video(old, "!v.paused && v.currentTime > 1")
    assert abs(host.video()["currentTime"] - video_time(old)) < GO_DRIFT_LIMIT_S + 0.3
    host.click_play_pause()
    go_video(old, "v.paused")
