"""Cross-site requests cannot act: with `--allowed-origins` restricted, a state-changing request a
browser sends from another site is refused with 403 JSON on its headers alone, before any effect."""

from __future__ import annotations

import socket

import pytest

from tests.faults.procs import ServerProc

from .answers import call, sessions_created
from .conftest import MakeServer

GOOD = "https://good.example"
EVIL = "https://evil.example"
REFUSED = {"error": "cross-site request refused: its origin is not in --allowed-origins"}


@pytest.fixture
def server(make_server: MakeServer) -> ServerProc:
    return make_server("--allowed-origins", GOOD)


def media_files(server: ServerProc) -> list[str]:
    """The videos in the library and the uploads: what a refused request must not add or remove.
    (The packager's own output and bookkeeping, `.hls/`, `.subs/`, `.videosync/`, change by
    themselves while the server packages the library, whatever the requests.)"""
    root = server.workdir / "media"
    own = {".hls", ".subs", ".videosync"}
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if not own & set(p.relative_to(root).parts)
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type"),
    [
        ("POST", "/api/sessions", b"", "text/plain"),  # what fetch(..., {mode: "no-cors"}) may send
        ("POST", "/api/sessions", b'{"video":"placeholder"}', "application/json"),
        ("POST", "/api/videos?filename=x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4096, "text/plain"),
        ("DELETE", "/api/videos/placeholder", None, None),
        ("PUT", "/api/sessions", b"{}", "text/plain"),
        ("PATCH", "/api/sessions", b"{}", "text/plain"),
        ("POST", "/ws", b"", "text/plain"),
    ],
)
def test_a_state_change_from_another_site_is_403_json_and_changes_nothing(
    server: ServerProc, method: str, path: str, body: bytes | None, content_type: str | None
) -> None:
    before = media_files(server)
    headers = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    if content_type:
        headers["Content-Type"] = content_type
    answer = call(server.base, method, path, body=body, headers=headers)
    assert answer.status == 403
    assert answer.json() == REFUSED
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert sessions_created(server.base) == 0
    assert media_files(server) == before


def test_an_upload_from_another_site_is_refused_on_its_headers_before_the_body(server: ServerProc) -> None:
    """The answer comes while the 1 GB body is still unsent: nothing of it is read or stored."""
    before = media_files(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /api/videos?filename=x.mp4 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Origin: {EVIL}\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\n".encode()
        )
        received = b""
        while not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 403 ")
    assert received.rstrip().endswith(b'"cross-site request refused: its origin is not in --allowed-origins"}')
    assert media_files(server) == before


def test_the_referer_stands_in_for_a_missing_origin(server: ServerProc) -> None:
    refused = call(server.base, "POST", "/api/sessions", headers={"Referer": f"{EVIL}/watch?x=1"})
    assert refused.status == 403 and refused.json() == REFUSED
    allowed = call(server.base, "POST", "/api/sessions", headers={"Referer": f"{GOOD}/page"})
    assert allowed.status == 200
    assert sessions_created(server.base) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": GOOD},  # listed
        {"Origin": GOOD + "/"},
        {"Origin": "SAME"},  # the server's own origin (the page it serves itself)
        {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},  # the browser says so; pages cannot forge it
        {},  # no Origin, no Referer: not a browser page (curl, the Go clients)
    ],
    ids=["allowed", "allowed-slash", "same-origin", "sec-fetch-site", "no-browser"],
)
def test_allowed_same_origin_and_non_browser_requests_act(server: ServerProc, headers: dict[str, str]) -> None:
    if headers.get("Origin") == "SAME":
        headers = {"Origin": f"http://127.0.0.1:{server.port}"}
    answer = call(server.base, "POST", "/api/sessions", headers=headers)
    assert answer.status == 200 and "sessionKey" in answer.json()


def test_the_public_url_is_the_servers_own_origin_behind_a_proxy(make_server: MakeServer) -> None:
    server = make_server("--allowed-origins", GOOD, "--public-url", "https://watch.example/")
    # a proxy that passes its upstream's address as Host: only --public-url says who we are
    headers = {"Origin": "https://watch.example", "Host": "10.0.0.5:8080"}
    assert call(server.base, "POST", "/api/sessions", headers=headers).status == 200
    headers = {"Origin": EVIL, "Host": "10.0.0.5:8080"}
    assert call(server.base, "POST", "/api/sessions", headers=headers).status == 403


def test_reading_from_another_site_is_answered_without_cors_headers(server: ServerProc) -> None:
    answer = call(server.base, "GET", "/health", headers={"Origin": EVIL})
    assert answer.status == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_with_the_default_star_any_site_may_act_and_the_access_model_protects(make_server: MakeServer) -> None:
    server = make_server()
    answer = call(server.base, "POST", "/api/sessions", headers={"Origin": EVIL, "Content-Type": "text/plain"})
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
