"""Fixtures for the hostile-client suite: each test drives a real `python -m videosync` process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.procs import ServerProc, StartedServers

MakeServer = Callable[..., ServerProc]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """make_server(*flags, redis_url=None) → a started server; all stopped (logs shown) after."""
    servers = StartedServers(tmp_path)

    def _make(*args: str, redis_url: str | None = None, **kw: Any) -> ServerProc:
        return servers.start(redis_url=redis_url, args=args, name=f"server{len(servers.started)}", **kw)

    yield _make
    servers.stop_all()
