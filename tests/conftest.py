"""Shared fixtures: a real redis-server of our own, stores over both backends, a live app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from tests.support.net import free_port
from tests.support.redis_server import RedisServer, wait_for_redis
from tests.support.ws_fixtures import connect  # noqa: F401  (the WebSocket suites' fixture)
from videosync.app import MAX_BUFFERED_BODY, Services, make_app
from videosync.media import MediaLibrary
from videosync.sessions import SessionService
from videosync.settings import Settings
from videosync.store import Store, open_store

# re-exported for tests that import them from here; their home is tests.support
__all__ = ["RedisServer", "free_port", "wait_for_redis"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def io_loop() -> Iterator[IOLoop]:
    """pytest-tornado's per-test loop, minus a leak: with no asyncio loop set (a test before ran
    asyncio.run), Tornado's make_current created one implicitly and never closed it."""
    placeholder = asyncio.new_event_loop()
    asyncio.set_event_loop(placeholder)
    loop = IOLoop()
    loop.make_current()
    yield loop
    loop.clear_current()
    loop.close(all_fds=True)
    asyncio.set_event_loop(None)
    placeholder.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once per backend."""
    if request.param == "memory":
        return "memory://"
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return server.url


@pytest.fixture
def store(store_url: str, io_loop: IOLoop) -> Iterator[Store]:
    """A store bound to the test's event loop (pytest-tornado's `io_loop`)."""
    backend = open_store(store_url)
    try:
        yield backend
    finally:
        io_loop.run_sync(backend.close)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(media_dir=str(tmp_path / "media"), web_dir=str(tmp_path / "no-web"))


@pytest.fixture
def library(settings: Settings) -> MediaLibrary:
    return MediaLibrary(settings.media_dir)


@pytest.fixture
def services(settings: Settings, store: Store, library: MediaLibrary) -> Services:
    sessions = SessionService(store, settings.session_ttl, video_exists=library.has)
    return Services(settings=settings, store=store, sessions=sessions, library=library)


@pytest.fixture
def app(services: Services):  # type: ignore[no-untyped-def]
    """pytest-tornado's `http_server`/`http_client` serve this application."""
    return make_app(services)


@pytest.fixture
def http_server(app, io_loop: IOLoop, _unused_port):  # type: ignore[no-untyped-def]
    """pytest-tornado's server, but asking for `app` statically so backend parametrization applies."""
    sock, _port = _unused_port
    server = HTTPServer(app, max_body_size=MAX_BUFFERED_BODY)
    server.add_socket(sock)
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)
    sock.close()
