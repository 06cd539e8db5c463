"""Fixtures for chat and moderation over `/ws`: a live app (both stores), a second "process" (its
own rooms and HTTP server over the same store), and clients closed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port

from tests.support.ws_fixtures import Connect, overrides, presence_settings, stop_hub  # noqa: F401 (fixtures)
from videosync.app import Services, make_app
from videosync.room import Rooms


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


