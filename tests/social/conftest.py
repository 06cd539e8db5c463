"""Fixtures for chat and moderation over `/ws`: a live app (both stores), a second "process" (its
own rooms and HTTP server over the same store), and clients closed after each test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port

from tests.wsclient import Client
from videosync.app import Services, make_app
from videosync.room import Rooms
from videosync.settings import Settings

Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(tmp_path: Path, overrides: dict[str, Any]) -> Settings:
    base: dict[str, Any] = {"presence_interval": 0.2, "host_grace": 0.3, "host_lease": 2.0}
    base.update(overrides)
    return Settings(media_dir=str(tmp_path / "media"), web_dir=str(tmp_path / "no-web"), **base)


@pytest.fixture(autouse=True)
def _stop_hub(services: Services, io_loop: IOLoop) -> Iterator[None]:
    yield
    io_loop.run_sync(lambda: services.hub.shutdown(timeout=2))


@pytest.fixture
def other_port(services: Services, io_loop: IOLoop) -> Iterator[int]:
    """A second server process's port: its own rooms over the same store (Redis, or the shared
    embedded store), as `--workers` gives."""
    hub = Rooms(services.sessions, services.settings)
    other = Services(services.settings, services.store, services.sessions, services.library, hub=hub)
    sock, port = bind_unused_port()
    server = HTTPServer(make_app(other))
    server.add_socket(sock)
    yield port
    io_loop.run_sync(lambda: hub.shutdown(timeout=2))
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)
    sock.close()


