"""Fixtures for the hostile-client suite: each test drives a real `python -m videosync` process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.procs import ServerProc

MakeServer = Callable[..., ServerProc]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """make_server(*flags, redis_url=None) → a started server; all stopped (logs shown) after."""
    started: list[ServerProc] = []

    def _make(*args: str, redis_url: str | None = None, **kw: Any) -> ServerProc:
        server = ServerProc(tmp_path, redis_url=redis_url, args=args, name=f"server{len(started)}", **kw)
        started.append(server)
        server.start()
        return server

    yield _make
    for server in started:
        server.stop()
        print(f"----- {server.name} log (tail) -----\n{server.log_tail()}")  # shown when the test failed
