"""The issue's row tried again exactly as written: a page on another site makes headless Chromium
send `fetch(..., {mode: "no-cors"})` POSTs of a session request and of a video (text/plain)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import harness
from tests.faults.procs import ServerProc

from .answers import sessions_created
from .conftest import MakeServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(harness.have_tools()), reason="needs Chromium and ffmpeg"),
]

ATTACK = """async (target) => {
    const sent = {mode: "no-cors", method: "POST", headers: {"Content-Type": "text/plain"}};
    await fetch(target + "/api/sessions", {...sent, body: "{}"});
    const video = new Uint8Array(64 * 1024);  // the bytes do not matter: nothing may be stored
    await fetch(target + "/api/videos?filename=x.mp4", {...sent, body: video});
    return "sent";
}"""


class _EvilPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"<!doctype html><title>a page elsewhere</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def evil_site() -> Iterator[str]:
    """A page on another site: `localhost` while the server is reached as 127.0.0.1."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _EvilPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        yield browser
        browser.close()


def attack_from(chromium: Any, evil_site: str, server: ServerProc) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(evil_site)
        assert page.evaluate(ATTACK, server.base) == "sent"
    finally:
        context.close()


def stored(server: ServerProc) -> list[Path]:
    """What an upload adds: files beside the placeholder, not the packager's own output and
    bookkeeping (`.hls/`, `.subs/`, `.videosync/`), which appear by themselves."""
    root = server.workdir / "media"
    own = {".hls", ".subs", ".videosync"}
    return sorted(
        p for p in root.rglob("*")
        if p.name != "placeholder.mp4" and not own & set(p.relative_to(root).parts) and p.is_file()
    )


def test_no_cors_posts_from_another_site_take_no_effect(
    make_server: MakeServer, chromium: Any, evil_site: str
) -> None:
    server = make_server("--allowed-origins", "https://good.example")
    attack_from(chromium, evil_site, server)
    assert sessions_created(server.base) == 0
    assert stored(server) == []


def test_the_same_page_does_act_when_every_origin_is_allowed(
    make_server: MakeServer, chromium: Any, evil_site: str
) -> None:
    """The control: with the default `*` the browser's requests do arrive and act."""
    server = make_server()
    attack_from(chromium, evil_site, server)
    assert sessions_created(server.base) == 1
