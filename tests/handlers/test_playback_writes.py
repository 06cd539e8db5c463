"""A host's playback changes do not hold up the reading of its socket (over a real redis-server).

The store write of a change happens beside the socket, so the host's next frames are read while
one is in flight; the changes that queued meanwhile are all written next, in order, none lost:
partial updates keep what they do not name, and the final state is the newest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from tornado.ioloop import IOLoop

from tests.support.redis_server import RedisServer
from tests.wsclient import Client
from videosync.app import Services
from videosync.settings import Settings

pytestmark = pytest.mark.redis


@pytest.fixture
def store_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(media_dir=str(tmp_path / "media"), web_dir=str(tmp_path / "no-web"))


@pytest.fixture(autouse=True)
def _stop_hub(services: Services, io_loop: IOLoop):  # type: ignore[no-untyped-def]
    yield
    io_loop.run_sync(lambda: services.hub.shutdown(timeout=2))


async def until(predicate: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


BURST = [
    {"paused": False, "currentTime": 5},
    {"playbackRate": 1.5},
    {"currentTime": 42},
    {"paused": True},
    {"playbackRate": 2},
]


@pytest.mark.gen_test(timeout=30)
async def test_a_burst_is_read_during_a_write_and_applied_in_order(
    services: Services, http_server: Any, http_port: int, redis_server: RedisServer
) -> None:
    key = (await services.sessions.create()).key
    host = await Client.connect(http_port, f"?sessionKey={key}")
    member = await Client.connect(http_port, f"?sessionKey={key}")
    room = services.hub.get(key)
    assert room is not None
    admin = aioredis.from_url(redis_server.url)
    try:
        # Redis holds every write (the state's compare-and-set included) until unpaused: the
        # first change's write is in flight for as long as this test wants.
        await admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        try:
            for state in BURST:
                await host.send(json.dumps({"type": "stateUpdate", "state": state}))
            # The server went on reading the host's frames behind the held write.
            await until(lambda: room.playback.pending == len(BURST))
        finally:
            await admin.execute_command("CLIENT", "UNPAUSE")
        received = [(await member.recv_type("stateUpdate"))["state"] for _ in BURST]
    finally:
        await admin.aclose()
        await asyncio.gather(host.close(), member.close())

    versions = [state["version"] for state in received]
    assert versions == sorted(versions) and len(set(versions)) == len(BURST)
    assert [(s["paused"], s["playbackRate"]) for s in received] == [
        (False, 1), (False, 1.5), (False, 1.5), (True, 1.5), (True, 2)
    ]
    assert received[2]["currentTime"] == 42
    final = received[-1]
    assert 42 <= final["currentTime"] < 45  # paused where the position had run to from 42
    stored = await services.sessions.state(key)
    assert (stored.version, stored.paused, stored.playback_rate, stored.current_time) == (
        final["version"], True, 2, final["currentTime"]
    )
