"""Fixtures of the in-process WebSocket suites. `connect`: WebSocket clients to the test's server,
every one closed when the test ends. `stop_hub` (autouse): the rooms shut down after each test.
`overrides` and `presence_settings` (registered as `settings`): quick presence and host timings,
which a test changes by parametrizing `overrides`. Import them into a test module or conftest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.ioloop import IOLoop

from tests.wsclient import Client
from videosync.app import Services
from videosync.settings import Settings

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


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings for one test: parametrize `overrides` to change them."""
    return {}


@pytest.fixture(name="settings")
def presence_settings(tmp_path: Path, overrides: dict[str, Any]) -> Settings:
    # short enough that presence, host hand-over and lease expiry happen within a test's timeout
    base: dict[str, Any] = {"presence_interval": 0.2, "host_grace": 0.3, "host_lease": 2.0}
    base.update(overrides)
    return Settings(media_dir=str(tmp_path / "media"), web_dir=str(tmp_path / "no-web"), **base)


@pytest.fixture(autouse=True)
def stop_hub(services: Services, io_loop: IOLoop) -> Iterator[None]:
    yield
    io_loop.run_sync(lambda: services.hub.shutdown(timeout=2))
