"""Auto-pipelining: what one event-loop turn queues reaches Redis as one pipeline, and every caller
still gets exactly its own reply or error. Against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions as rexc
from tornado.ioloop import IOLoop

from tests.conftest import RedisServer, free_port
from videosync.store.autopipeline import AutoPipeline

pytestmark = pytest.mark.redis


class CountingRedis(aioredis.Redis):
    """The real client, counting the pipelines it opens."""

    pipelines = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.pipelines += 1
        return super().pipeline(*args, **kwargs)


@pytest.fixture
def client(redis_server: RedisServer, io_loop: IOLoop) -> Iterator[CountingRedis]:
    redis_server.flush()
    client = CountingRedis(port=redis_server.port, decode_responses=True)
    yield client
    io_loop.run_sync(client.aclose)


@pytest.mark.gen_test
async def test_commands_queued_in_one_turn_travel_as_one_pipeline_with_their_own_replies(
    client: CountingRedis,
) -> None:
    batched = AutoPipeline(client, timeout_s=2.0)
    await asyncio.gather(*(batched.execute("SET", f"k{i}", f"v{i}") for i in range(100)))
    assert client.pipelines == 1
    values = await asyncio.gather(*(batched.execute("GET", f"k{i}") for i in reversed(range(100))))
    assert values == [f"v{i}" for i in reversed(range(100))]
    assert client.pipelines == 2


@pytest.mark.gen_test
async def test_a_command_alone_in_its_turn_is_sent_as_it_is(client: CountingRedis) -> None:
    batched = AutoPipeline(client, timeout_s=2.0)
    assert await batched.execute("SET", "a", "1")
    assert await batched.execute("GET", "a") == "1"
    assert client.pipelines == 0
    await client.hset("a-hash", "f", "v")
    with pytest.raises(rexc.ResponseError, match="WRONGTYPE"):
        await batched.execute("GET", "a-hash")


@pytest.mark.gen_test
async def test_a_command_redis_refuses_fails_only_its_own_caller(client: CountingRedis) -> None:
    batched = AutoPipeline(client, timeout_s=2.0)
    await client.hset("a-hash", "f", "v")
    results = await asyncio.gather(
        batched.execute("SET", "x", "1"),
        batched.execute("GET", "a-hash"),  # WRONGTYPE
        batched.execute("GET", "x"),
        return_exceptions=True,
    )
    assert results[0] is True
    assert isinstance(results[1], rexc.ResponseError) and "WRONGTYPE" in str(results[1])
    assert results[2] == "1"


@pytest.mark.gen_test
async def test_a_script_redis_has_forgotten_is_loaded_again(client: CountingRedis) -> None:
    batched = AutoPipeline(client, timeout_s=2.0)
    script = client.register_script("return redis.call('set', KEYS[1], ARGV[1])")
    assert await batched.script(script, ["s"], ["first"]) == "OK"
    await client.script_flush()
    replies = await asyncio.gather(*(batched.script(script, [f"s{i}"], [str(i)]) for i in range(5)))
    assert replies == ["OK"] * 5
    assert [await client.get(f"s{i}") for i in range(5)] == [str(i) for i in range(5)]


@pytest.mark.gen_test
async def test_when_redis_is_unreachable_every_caller_in_the_batch_hears_it() -> None:
    client = aioredis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=None)
    batched = AutoPipeline(client, timeout_s=2.0)
    try:
        results = await asyncio.gather(
            *(batched.execute("GET", f"k{i}") for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, rexc.ConnectionError) for r in results), results
        with pytest.raises(rexc.ConnectionError):
            await batched.execute("GET", "alone")
    finally:
        await client.aclose()


@pytest.mark.gen_test
async def test_a_cancelled_caller_does_not_disturb_the_rest_of_its_batch(client: CountingRedis) -> None:
    batched = AutoPipeline(client, timeout_s=2.0)
    doomed = asyncio.ensure_future(batched.execute("SET", "gone", "1"))
    kept = asyncio.ensure_future(batched.execute("SET", "kept", "1"))
    doomed.cancel()
    assert await kept is True
    assert await client.get("kept") == "1"


@pytest.mark.gen_test
async def test_a_batch_past_its_deadline_fails_every_caller_and_the_next_batch_is_served(
    client: CountingRedis,
) -> None:
    batched = AutoPipeline(client, timeout_s=0.2)
    # BLPOP on an empty list holds the connection for 2 s: the batch cannot finish in 0.2
    stuck = await asyncio.gather(batched.execute("BLPOP", "empty", 2), batched.execute("PING"),
                                 return_exceptions=True)
    assert all(isinstance(outcome, TimeoutError) for outcome in stuck), stuck
    assert await asyncio.gather(batched.execute("SET", "x", "1"), batched.execute("GET", "x")) == [True, "1"]
