"""Fixtures for the fault tests: a Redis of the test's own, server processes, logs on failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RedisServer

from .procs import ServerProc, StartedServers

MakeServer = Callable[..., ServerProc]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis this test may stop, kill and restart without disturbing the shared one."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
        server.process = None


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """make_server(redis_url=..., args=(...), name=...) → a started server; all stopped after."""
    servers = StartedServers(tmp_path)

    def _make(
        redis_url: str | None = None, args: tuple[str, ...] = (), name: str = "server", **kw: Any
    ) -> ServerProc:
        return servers.start(redis_url=redis_url, args=args, name=name, **kw)

    yield _make
    servers.stop_all()
