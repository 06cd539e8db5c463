"""RedisStore.subscribe returns only once Redis has confirmed the SUBSCRIBE.

On one machine the SUBSCRIBE nearly always reaches Redis before a PUBLISH sent right after it, so
the contract test passes either way there. Here the pub/sub connection is the slow one (a proxy
holds back what it sends, as a longer network path or a busy link would), so a subscribe that
returned as soon as its command was written loses the messages published just after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.conftest import RedisServer
from videosync.store.base import session_channel
from videosync.store.redis import RedisStore

pytestmark = pytest.mark.redis

SLOW_S = 0.05


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    """Copy bytes in order, each chunk released `delay_s` after it arrived."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def release() -> None:
        while True:
            due, data = await chunks.get()
            if not data:
                writer.close()
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()

    releaser = asyncio.create_task(release())
    try:
        while True:
            data = await reader.read(65536)
            chunks.put_nowait((loop.time() + delay_s, data))
            if not data:
                break
        await releaser
    except (ConnectionError, asyncio.CancelledError):
        releaser.cancel()


Pipes = Callable[
    [int, asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamWriter],
    tuple[Coroutine[Any, Any, None], Coroutine[Any, Any, None]],
]


@asynccontextmanager
async def _proxy(target_port: int, pipes: Pipes) -> AsyncIterator[int]:
    """A TCP proxy to Redis on a free port; `pipes(n, client_reader, redis_writer, redis_reader,
    client_writer)` gives the two copying coroutines of its n-th connection (up, down)."""
    accepted = 0
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        writers.extend((writer, up_writer))
        for coro in pipes(accepted, reader, up_writer, up_reader, writer):
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tuple(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


@asynccontextmanager
async def proxy_with_slow_first_connection(target_port: int, slow_s: float = SLOW_S) -> AsyncIterator[int]:
    """A TCP proxy to Redis whose first connection's requests arrive `slow_s` late."""
    async with _proxy(target_port, lambda n, client, redis_w, redis_r, client_w: (
        _pump(client, redis_w, slow_s if n == 1 else 0.0), _pump(redis_r, client_w, 0.0)
    )) as port:
        yield port


@asynccontextmanager
async def proxy_holding_replies_after_subscribe(
    target_port: int,
) -> AsyncIterator[tuple[int, asyncio.Event, asyncio.Event]]:
    """A TCP proxy to Redis that, once a client has sent a SUBSCRIBE (`seen`), holds every reply
    from Redis until `release` is set: a confirmation that cannot arrive before the test allows."""
    seen, release = asyncio.Event(), asyncio.Event()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if upstream and b"SUBSCRIBE" in data.upper():
                    seen.set()
                if not upstream and seen.is_set():
                    await release.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    try:
        async with _proxy(target_port, lambda _n, client, redis_w, redis_r, client_w: (
            pipe(client, redis_w, True), pipe(redis_r, client_w, False)
        )) as port:
            yield port, seen, release
    finally:
        release.set()


@pytest.mark.gen_test(timeout=30)
async def test_subscribe_returns_after_redis_confirmed_it_even_on_a_slow_link(
    redis_server: RedisServer,
) -> None:
    async with proxy_with_slow_first_connection(redis_server.port) as port:
        store = RedisStore(f"redis://127.0.0.1:{port}/0")
        try:
            # the first connection opened is the pub/sub one: subscribe before anything else
            for n in range(10):
                channel = session_channel(f"slow{n}")
                async with store.subscribe(channel) as messages:
                    await store.publish(channel, f"hello{n}")
                    assert await asyncio.wait_for(anext(messages), 2) == f"hello{n}"
        finally:
            await store.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_subscribe_cancelled_while_waiting_for_its_confirmation_leaves_nothing_subscribed(
    redis_server: RedisServer,
) -> None:
    # The confirmation is held by the proxy until the cancel is in: no race with the clock.
    async with proxy_holding_replies_after_subscribe(redis_server.port) as (port, seen, release):
        store = RedisStore(f"redis://127.0.0.1:{port}/0")
        channel = session_channel("cancelled")

        async def subscriber() -> None:
            async with store.subscribe(channel):
                raise AssertionError("the confirmation cannot have arrived yet")

        try:
            task = asyncio.create_task(subscriber())
            await asyncio.wait_for(seen.wait(), 5)  # the SUBSCRIBE is on its way, its reply held
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            release.set()
            assert channel not in store._channels._queues
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            with redis_server.client() as client:
                while client.pubsub_numsub(channel)[0][1] != 0:  # the UNSUBSCRIBE went out too
                    assert loop.time() < deadline, "still subscribed"
                    await asyncio.sleep(0.02)
        finally:
            await store.close()
