"""Two real `python -m videosync` processes on one real redis-server: one session across both.

State, broadcasts, presence, the host lease and hand-off must work whichever process a member
is connected to (no sticky sessions); a killed process's host lease lapses within seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RedisServer, free_port
from tests.wsclient import Client

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
FAST = {
    "VIDEOSYNC_PRESENCE_INTERVAL": "0.3",
    "VIDEOSYNC_HOST_GRACE": "0.5",
    "VIDEOSYNC_HOST_LEASE": "2",
    "VIDEOSYNC_LOG_LEVEL": "warning",
}


class ServerProcess:
    def __init__(self, redis_url: str, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.redis_url = redis_url
        self.workdir = workdir
        self.env = {**os.environ, **FAST, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        (self.workdir / "media").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "videosync", "--host", "127.0.0.1", "--port", str(self.port),
             "--redis-url", self.redis_url, "--media-dir", str(self.workdir / "media"),
             "--web-dir", str(self.workdir / "no-web")],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("server process did not start") from None
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)
        self.process = None

    def create_session(self) -> dict[str, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/sessions", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture
def servers(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    redis_server.flush()
    a = ServerProcess(redis_server.url, tmp_path / "a").start()
    b = ServerProcess(redis_server.url, tmp_path / "b").start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_state_broadcasts_and_presence_cross_processes(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers
    key = a.create_session()["sessionKey"]

    async def scenario() -> None:
        host = await Client.connect(a.port, f"?sessionKey={key}&name=Ann")
        guest = await Client.connect(b.port, f"?sessionKey={key}&name=Bob")
        assert host.init["isHost"] is True and guest.init["isHost"] is False
        assert guest.init["hostId"] == host.member_id
        assert [m["name"] for m in guest.init["members"]] == ["Ann", "Bob"]
        assert (await host.recv_type("memberJoined"))["member"]["name"] == "Bob"
        await host.update(paused=False, currentTime=30, playbackRate=1.5)
        for client in (host, guest):
            message = await client.recv_type("stateUpdate")
            assert message["state"]["currentTime"] == 30 and message["by"] == host.member_id
        await guest.update(paused=True)
        assert (await guest.recv_type("error"))["code"] == "not_host"
        late = await Client.connect(b.port, f"?sessionKey={key}")
        assert late.init["state"]["currentTime"] >= 30 and late.init["state"]["version"] == 1
        await guest.send({"type": "report", "rtt": 20, "drift": 4, "buffering": False})
        assert (await host.recv_type("memberUpdated"))["member"]["rtt"] == 20
        await guest.close()
        assert (await host.recv_type("memberLeft"))["memberId"] == guest.member_id
        for client in (host, late):
            await client.close()

    run(scenario())


def test_host_leaving_one_process_promotes_a_member_of_the_other(
    servers: tuple[ServerProcess, ServerProcess]
) -> None:
    a, b = servers
    key = a.create_session()["sessionKey"]

    async def scenario() -> None:
        host = await Client.connect(a.port, f"?sessionKey={key}")
        first = await Client.connect(b.port, f"?sessionKey={key}")
        second = await Client.connect(a.port, f"?sessionKey={key}")
        await host.close()
        init = await first.recv_type("init", timeout=10)
        assert init["isHost"] is True
        changed = await second.recv_type("hostChanged", timeout=10)
        if changed["hostId"] is None:  # "left" first, then the promotion
            changed = await second.recv_type("hostChanged", timeout=10)
        assert changed == {"type": "hostChanged", "hostId": first.member_id, "reason": "promoted"}
        await first.update(currentTime=9)
        assert (await second.recv_type("stateUpdate"))["by"] == first.member_id
        await first.close()
        await second.close()

    run(scenario())


def test_transfer_claim_and_resume_across_processes(
    servers: tuple[ServerProcess, ServerProcess], redis_server: RedisServer
) -> None:
    a, b = servers
    created = a.create_session()
    key, token = created["sessionKey"], created["hostToken"]

    async def scenario() -> None:
        host = await Client.connect(a.port, f"?sessionKey={key}")
        guest = await Client.connect(b.port, f"?sessionKey={key}")
        await host.send({"type": "transferHost", "memberId": guest.member_id})
        assert (await guest.recv_type("init"))["isHost"] is True
        assert (await host.recv_type("init"))["isHost"] is False
        owner = await Client.connect(a.port, f"?sessionKey={key}&hostToken={token}")
        assert owner.init["isHost"] is True
        assert (await guest.recv_type("init"))["isHost"] is False  # demoted in the other process
        # the owner reloads its page and comes back through the other process within the grace
        await owner.close()
        again = await Client.connect(b.port, f"?sessionKey={key}&resume={owner.init['resumeToken']}")
        assert again.init["isHost"] is True and again.member_id == owner.member_id
        # past the grace (0.5 s): the lease stays with the reclaimer at every look
        deadline = asyncio.get_running_loop().time() + 1.0
        with redis_server.client() as db:
            while asyncio.get_running_loop().time() < deadline:
                assert db.get(f"session:{key}:host") == owner.member_id
                await asyncio.sleep(0.05)
        await again.update(currentTime=3)
        assert (await host.recv_type("stateUpdate"))["by"] == owner.member_id
        for client in (host, guest, again):
            await client.close()

    run(scenario())


def test_session_deleted_ends_members_in_every_process(
    servers: tuple[ServerProcess, ServerProcess], redis_server: RedisServer
) -> None:
    a, b = servers
    key = a.create_session()["sessionKey"]

    async def scenario() -> None:
        clients = [await Client.connect(p.port, f"?sessionKey={key}") for p in (a, b, b)]
        with redis_server.client() as client:
            client.delete(f"session:{key}")
        for c in clients:
            assert (await c.recv_type("ended", timeout=10))["reason"] == "deleted"
            assert (await c.closed()).code == 4004

    run(scenario())


def test_killed_host_process_lease_lapses_and_host_moves_on(
    servers: tuple[ServerProcess, ServerProcess], redis_server: RedisServer
) -> None:
    a, b = servers
    key = a.create_session()["sessionKey"]
    lone = b.create_session()["sessionKey"]

    async def scenario() -> None:
        host = await Client.connect(a.port, f"?sessionKey={key}")
        guest = await Client.connect(b.port, f"?sessionKey={key}")
        lone_host = await Client.connect(a.port, f"?sessionKey={lone}")
        assert lone_host.init["isHost"] is True
        a.stop(signal.SIGKILL)  # no cleanup at all: the lease must lapse by itself (Go: stuck 24 h)
        started = time.monotonic()
        init = await guest.recv_type("init", timeout=15)
        assert init["isHost"] is True
        assert time.monotonic() - started < 10
        with redis_server.client() as client:
            assert client.get(f"session:{key}:host") == guest.member_id
        # a session whose only member was on the killed process: after a restart, a new
        # connector becomes host within seconds
        a.start()
        started = time.monotonic()
        newcomer = await Client.connect(a.port, f"?sessionKey={lone}")
        if not newcomer.init["isHost"]:
            assert (await newcomer.recv_type("init", timeout=15))["isHost"] is True
        assert time.monotonic() - started < 10
        for client in (host, guest, lone_host, newcomer):
            await client.close()

    run(scenario())


def test_sigterm_closes_sockets_with_1001_quickly(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, _b = servers
    key = a.create_session()["sessionKey"]

    async def scenario() -> float:
        client = await Client.connect(a.port, f"?sessionKey={key}")
        assert a.process is not None
        started = time.monotonic()
        a.process.send_signal(signal.SIGTERM)
        closed = await client.closed(timeout=10)
        assert closed.code == 1001
        await asyncio.get_running_loop().run_in_executor(None, a.process.wait, 10)
        return time.monotonic() - started

    assert run(scenario()) < 5
