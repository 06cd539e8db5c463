"""Over-size JSON bodies get the documented 413 JSON, chunked or not, never a reset connection."""

from __future__ import annotations

import http.client
import socket

import pytest

from .answers import call, sessions_created
from .conftest import MakeServer

TOO_LARGE = {"error": "JSON body over 65536 bytes"}


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize("size", [100_000, 300_000, 1024 * 1024 - 1])
def test_an_oversize_json_body_is_a_413_json_and_creates_nothing(
    make_server: MakeServer, chunked: bool, size: int
) -> None:
    server = make_server()
    body = b'{"video":"' + b"x" * (size - 12) + b'"}'
    answer = call(server.base, "POST", "/api/sessions", body=body, chunked=chunked,
                  headers={"Content-Type": "application/json"})
    assert answer.status == 413
    assert answer.json() == TOO_LARGE
    assert sessions_created(server.base) == 0


def test_the_connection_stays_usable_after_a_413(make_server: MakeServer) -> None:
    server = make_server()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        refused = call(server.base, "POST", "/api/sessions", body=b"x" * 300_000, chunked=True, connection=conn)
        assert refused.status == 413
        created = call(server.base, "POST", "/api/sessions", connection=conn)  # same connection
        assert created.status == 200 and "sessionKey" in created.json()
    finally:
        conn.close()


def test_a_body_declared_past_the_server_limit_is_refused_before_it_is_sent(make_server: MakeServer) -> None:
    """With `Expect: 100-continue` (curl sends it for large bodies) the 413 comes instead of the go-ahead."""
    server = make_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n"
        )
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"100 (Continue)" not in head
    assert body.strip() == b'{"error":"JSON body over 65536 bytes"}'
