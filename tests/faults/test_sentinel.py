"""`redis+sentinel://` URLs: the server finds the master through a real Sentinel, and follows a
fail-over to the promoted replica without a restart (sessions written before it survive)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.net import free_port
from tests.support.redis_server import RedisServer, wait_for_redis
from tests.wsclient import Client

from .conftest import MakeServer
from .procs import http

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SERVICE = "videosync-master"


class Sentinel:
    """`redis-server --sentinel` watching one master, quorum 1, quick to declare it down."""

    def __init__(self, workdir: Path, master_port: int) -> None:
        self.port = free_port()
        conf = workdir / f"sentinel-{self.port}.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_redis(self.port)

    def master_port(self) -> int:
        with redis.Redis(port=self.port, decode_responses=True) as client:
            return int(client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)[1])

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def replica(tmp_path: Path, own_redis: RedisServer) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server._cmd += ["--replicaof", "127.0.0.1", str(own_redis.port)]  # noqa: SLF001 - one flag more
    server.start()
    with server.client() as client:
        deadline = time.monotonic() + 10
        while client.info("replication")["master_link_status"] != "up":
            assert time.monotonic() < deadline, "replica did not sync"
            time.sleep(0.05)
    yield server
    if server.process is not None:
        server.process.kill()
        server.process.wait(10)


@pytest.fixture
def sentinel(tmp_path: Path, own_redis: RedisServer, replica: RedisServer) -> Iterator[Sentinel]:
    watcher = Sentinel(tmp_path, own_redis.port)
    yield watcher
    watcher.stop()


def test_a_sentinel_url_finds_the_master_and_follows_a_failover(
    own_redis: RedisServer, replica: RedisServer, sentinel: Sentinel, make_server: MakeServer,
) -> None:
    server = make_server(f"redis+sentinel://127.0.0.1:{sentinel.port}/{SERVICE}/0")

    async def scenario() -> None:
        body: Any = (await asyncio.to_thread(http, "POST", server.base + "/api/sessions")).json()
        key, token = body["sessionKey"], body["hostToken"]
        host = await Client.connect(server.port, f"?sessionKey={key}&hostToken={token}")
        await host.update(paused=True, currentTime=21.0)
        assert (await host.recv_type("stateUpdate"))["state"]["currentTime"] == 21.0
        with replica.client() as client:  # written through the master, replicated
            deadline = time.monotonic() + 5
            while client.get(f"session:{key}") is None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

        assert own_redis.process is not None
        own_redis.process.kill()  # the master dies; Sentinel promotes the replica
        own_redis.process.wait(10)
        own_redis.process = None
        failed_over = time.monotonic()
        while sentinel.master_port() != replica.port:
            assert time.monotonic() - failed_over < 30, "no fail-over"
            await asyncio.sleep(0.2)
        while (await asyncio.to_thread(http, "GET", server.base + "/ready")).status != 200:
            assert time.monotonic() - failed_over < 40, "the server did not follow the fail-over"
            await asyncio.sleep(0.2)
        print(f"ready on the promoted replica {time.monotonic() - failed_over:.1f} s after the master died")
        view: Any = (await asyncio.to_thread(http, "GET", f"{server.base}/api/sessions/{key}")).json()
        assert view["state"]["currentTime"] == 21.0  # the session survived the fail-over
        assert (await asyncio.to_thread(http, "POST", server.base + "/api/sessions")).status == 200
        # the open socket carries on: its update goes through the new master's pub/sub (updates
        # published before the listener has re-subscribed are lost to it: pub/sub keeps nothing)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        arrived = False
        while not arrived:
            assert loop.time() < deadline, "no stateUpdate through the promoted master"
            await host.update(paused=True, currentTime=34.0)
            try:
                while True:
                    reply = await host.recv(timeout=0.5)
                    if reply["type"] == "stateUpdate" and reply["state"]["currentTime"] == 34.0:
                        arrived = True
                        break
            except TimeoutError:
                continue
        print(f"updates flow again {time.monotonic() - failed_over:.1f} s after the master died")
        await host.close()

    asyncio.run(scenario())
