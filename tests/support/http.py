"""HTTP from tests: Tornado's client against the in-process app, urllib against a real process."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPResponse


async def call(http_client: AsyncHTTPClient, base_url: str, path: str, **kwargs: Any) -> HTTPResponse:
    """One request to the app under test; error statuses are answers, not exceptions.
    A POST without a body or a body_producer sends an empty body (Tornado's client insists on one)."""
    kwargs.setdefault("raise_error", False)
    if kwargs.get("method") == "POST" and "body_producer" not in kwargs:
        kwargs.setdefault("body", b"")
    return await http_client.fetch(base_url + path, **kwargs)


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def http(method: str, url: str, timeout: float = 10.0) -> HttpAnswer:
    """One blocking request to a server process; error statuses are answers, not exceptions."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return HttpAnswer(r.status, dict(r.headers.items()), r.read())
    except urllib.error.HTTPError as err:
        return HttpAnswer(err.code, dict(err.headers.items()), err.read())


def answers_ok(url: str) -> bool:
    """Whether GET `url` answers 200 now (a refused or timed-out connection: no)."""
    try:
        return http("GET", url, timeout=1).status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_http(url: str, timeout: float = 20.0) -> None:
    """Until GET `url` answers 200; TimeoutError past `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not answers_ok(url):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout} s")
        time.sleep(0.1)
