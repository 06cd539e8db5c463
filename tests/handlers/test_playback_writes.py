"""A host's playback changes do not hold up the reading of its socket (over a real redis-server).

The store write of a change happens beside the socket: while one is in flight (here held by
Redis's `CLIENT PAUSE WRITE`, as a stalled or slow Redis would), the host's next frames are still
read, even with video downloads keeping the loop busy; the changes that queued are then all written,
in order, none lost: partial updates keep what they do not name, and the final state is the newest.
What the host sends after a change is answered after it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.handlers.test_sync_under_bulk import Puller
from tests.support.redis_server import RedisServer
from tests.support.ws_fixtures import stop_hub  # noqa: F401 (autouse: the rooms shut down after each test)
from tests.wsclient import Client
from videosync.app import Services
from videosync.room import Room
from videosync.settings import Settings

pytestmark = pytest.mark.redis

BIG = 256 * 1024 * 1024  # sparse: the page cache serves it without a disk


@pytest.fixture
def store_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    media = tmp_path / "media"
    media.mkdir()
    with (media / "big.mp4").open("wb") as f:
        f.truncate(BIG)
    return Settings(media_dir=str(media), web_dir=str(tmp_path / "no-web"))


async def until(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def redis_writes_held(redis_server: RedisServer) -> AsyncIterator[None]:
    """Redis holds every write (the state's compare-and-set included) until the block ends."""
    admin = aioredis.from_url(redis_server.url)
    try:
        await admin.execute_command("CLIENT", "PAUSE", 20_000, "WRITE")
        try:
            yield
        finally:
            await admin.execute_command("CLIENT", "UNPAUSE")
    finally:
        await admin.aclose()


async def joined(services: Services, http_port: int) -> tuple[Client, Client, Room]:
    key = (await services.sessions.create()).key
    host = await Client.connect(http_port, f"?sessionKey={key}")
    member = await Client.connect(http_port, f"?sessionKey={key}")
    room = services.hub.get(key)
    assert room is not None
    return host, member, room


async def answer(client: Client) -> dict[str, Any]:
    """The next state update or error, past presence news."""
    while True:
        message = await client.recv(timeout=20)
        if message["type"] in ("stateUpdate", "error"):
            return message


BURST = [
    {"paused": False, "currentTime": 5},
    {"playbackRate": 1.5},
    {"currentTime": 42},
    {"paused": True},
    {"playbackRate": 2},
]


@pytest.mark.gen_test(timeout=60)
async def test_a_burst_is_read_while_the_store_stalls_under_downloads_and_applied_in_order(
    services: Services, http_server: Any, http_port: int, redis_server: RedisServer
) -> None:
    host, member, room = await joined(services, http_port)
    pullers = [Puller(http_port) for _ in range(4)]
    try:
        for puller in pullers:
            puller.start()
        await until(lambda: all(p.received > 4 * 1024 * 1024 for p in pullers))
        async with redis_writes_held(redis_server):
            for state in BURST:
                await host.send(json.dumps({"type": "stateUpdate", "state": state}))
            # The server went on reading the host's frames behind the held write, downloads and all.
            await until(lambda: room.playback.pending == len(BURST))
            assert not any(p.finished for p in pullers), "the downloads were still running"
        received = [(await member.recv_type("stateUpdate", timeout=20))["state"] for _ in BURST]
    finally:
        for puller in pullers:
            puller.close()
        await asyncio.gather(host.close(), member.close())

    versions = [state["version"] for state in received]
    assert versions == sorted(versions) and len(set(versions)) == len(BURST)
    assert [(s["paused"], s["playbackRate"]) for s in received] == [
        (False, 1), (False, 1.5), (False, 1.5), (True, 1.5), (True, 2)
    ]
    assert received[2]["currentTime"] == 42
    final = received[-1]
    assert 42 <= final["currentTime"] < 62  # paused where the position had run to from 42
    stored = await services.sessions.state(room.key)
    assert (stored.version, stored.paused, stored.playback_rate, stored.current_time) == (
        final["version"], True, 2, final["currentTime"]
    )


@pytest.mark.gen_test(timeout=60)
async def test_what_a_host_sends_after_a_change_is_answered_after_it(
    services: Services, http_server: Any, http_port: int, redis_server: RedisServer
) -> None:
    host, member, room = await joined(services, http_port)
    try:
        async with redis_writes_held(redis_server):
            await host.update(paused=False, currentTime=7)
            # refused at once (no such video), but answered only after the change before it
            await host.send(json.dumps({"type": "stateUpdate", "state": {"video": "nope"}}))
            await until(lambda: room.playback.pending == 1)
        first, second = await answer(host), await answer(host)
        assert (first["type"], first["state"]["currentTime"]) == ("stateUpdate", 7)
        assert second["type"] == "error"
        assert (await member.recv_type("stateUpdate", timeout=20))["state"]["currentTime"] == 7
    finally:
        await asyncio.gather(host.close(), member.close())
