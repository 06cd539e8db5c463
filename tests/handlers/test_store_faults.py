"""A Redis that stops answering or refuses writes: 503 + Retry-After, nothing half-written, recovery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.conftest import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis this test may stop and reconfigure without disturbing the shared one."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store_url(own_redis: RedisServer) -> str:
    return own_redis.url


async def post(http_client: AsyncHTTPClient, base_url: str):  # type: ignore[no-untyped-def]
    return await http_client.fetch(base_url + "/api/sessions", method="POST", body=b"", raise_error=False)


@pytest.mark.gen_test(timeout=30)
async def test_a_stopped_redis_gives_503_with_retry_after_and_recovers(
    http_client, base_url, own_redis: RedisServer
) -> None:
    created = json.loads((await post(http_client, base_url)).body)["sessionKey"]
    own_redis.stop()

    refused = await post(http_client, base_url)
    assert refused.code == 503
    assert refused.headers["Retry-After"] == "2"
    assert json.loads(refused.body) == {"error": "session store unavailable"}
    validate = await http_client.fetch(f"{base_url}/api/sessions/{created}/validate", raise_error=False)
    assert validate.code == 503
    ready = await http_client.fetch(base_url + "/ready", raise_error=False)
    assert ready.code == 503 and ready.headers["Retry-After"] == "2"
    health = await http_client.fetch(base_url + "/health")
    assert json.loads(health.body)["status"] == "ok"

    own_redis.start()  # same port, empty data: the server reconnects without a restart
    assert (await post(http_client, base_url)).code == 200
    assert (await http_client.fetch(base_url + "/ready")).code == 200


@pytest.mark.gen_test(timeout=30)
async def test_a_redis_refusing_writes_leaves_no_partial_session(
    http_client, base_url, own_redis: RedisServer
) -> None:
    with own_redis.client() as admin:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        refused = await post(http_client, base_url)
        assert refused.code == 503
        assert json.loads(refused.body) == {"error": "session store refused the request"}
        assert admin.keys("session:*") == []
        admin.config_set("maxmemory", "0")
    assert (await post(http_client, base_url)).code == 200
