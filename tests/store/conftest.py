"""The store contract runs over every backend: memory, SQLite (the default) and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RedisServer
from videosync.store.sqlite import url_for_dir


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return url_for_dir(str(tmp_path / "data"))
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return server.url
