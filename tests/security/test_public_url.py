"""`streamingUrl` (Go-B's field) is built from `--public-url`, else relative: never from the Host
header a client chose."""

from __future__ import annotations

from .answers import call
from .conftest import MakeServer


def streaming_url(base: str, body: bytes | None = None, host: str = "evil.example") -> str:
    key = call(base, "POST", "/api/sessions", body=body).json()["sessionKey"]
    view = call(base, "GET", f"/api/sessions/{key}", headers={"Host": host}).json()
    return str(view["streamingUrl"])


def test_without_a_public_url_the_streaming_url_is_relative(make_server: MakeServer) -> None:
    server = make_server()
    assert streaming_url(server.base) == "/api/video"
    assert streaming_url(server.base, b'{"video":"placeholder"}') == "/api/videos/placeholder/file"


def test_the_streaming_url_is_built_from_the_public_url(make_server: MakeServer) -> None:
    server = make_server("--public-url", "https://watch.example/sync/")
    assert streaming_url(server.base) == "https://watch.example/sync/api/video"
    assert streaming_url(server.base, host="127.0.0.1") == "https://watch.example/sync/api/video"
