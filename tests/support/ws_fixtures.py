"""The `connect` fixture of the in-process WebSocket suites: WebSocket clients to the test's
server, every one closed when the test ends. Import it into a test module or conftest to use it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from tornado.ioloop import IOLoop

from tests.wsclient import Client

Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
def connect(http_server: Any, http_port: int, io_loop: IOLoop) -> Iterator[Connect]:
    clients: list[Client] = []

    async def _connect(query: str = "", port: int | None = None, **kw: Any) -> Client:
        # `port`: another server of the same test (two processes on one store)
        client = await Client.connect(port or http_port, query, **kw)
        clients.append(client)
        return client

    yield _connect
    io_loop.run_sync(lambda: asyncio.gather(*(c.close() for c in clients)), timeout=10)
