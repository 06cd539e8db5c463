"""One HTTP request to a server under test, as a hostile client would send it (any header, any
framing), and its answer; errors statuses are answers, a dropped connection is an exception."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("Content-Type") == "application/json", self.headers
        return json.loads(self.body)


def _chunks(body: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def call(
    base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    chunked: bool = False,
    connection: http.client.HTTPConnection | None = None,
) -> Answer:
    """`chunked`: the body goes as Transfer-Encoding: chunked (no declared length)."""
    url = urlsplit(base)
    conn = connection or http.client.HTTPConnection(url.hostname or "", url.port, timeout=20)
    sent = dict(headers or {})
    if chunked:
        sent["Transfer-Encoding"] = "chunked"
        conn.request(method, path, body=_chunks(body or b""), headers=sent, encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    answer = Answer(response.status, response.headers, response.read())
    if connection is None:
        conn.close()
    return answer


def sessions_created(base: str) -> float:
    """The server's own count of sessions created (from /metrics): proof that nothing happened."""
    text = call(base, "GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith("videosync_sessions_created_total "):
            return float(line.split()[1])
    return 0.0
