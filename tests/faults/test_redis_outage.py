"""Redis stops answering (SIGSTOP) or dies (SIGKILL) for ~10 s under live sessions on two server
processes: REST answers 503 + Retry-After, /ready goes red, open sockets stay open, and within 5 s
of Redis coming back everything works again, pub/sub across the processes included, with no restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import pytest

from tests.conftest import RedisServer
from tests.support.net import wait_until
from tests.wsclient import Client

from .conftest import MakeServer
from .procs import ServerProc, http

pytestmark = [pytest.mark.slow, pytest.mark.redis]

OUTAGE_S = 10.0
RECOVERY_S = 5.0


async def call(method: str, url: str) -> Any:
    return await asyncio.to_thread(http, method, url)


async def create(server: ServerProc) -> tuple[str, str]:
    answer = await call("POST", server.base + "/api/sessions")
    assert answer.status == 200, answer.body
    body = answer.json()
    return body["sessionKey"], body["hostToken"]  # type: ignore[index]


async def all_up(*servers: ServerProc) -> bool:
    for server in servers:
        if (await call("GET", server.base + "/ready")).status != 200:
            return False
        if (await call("POST", server.base + "/api/sessions")).status != 200:
            return False
    return True


async def live_session(a: ServerProc, b: ServerProc) -> tuple[str, Client, Client]:
    """A playing session: its host on `a`, a viewer on `b`; the viewer has seen the host's update."""
    key, token = await create(a)
    host = await Client.connect(a.port, f"?sessionKey={key}&hostToken={token}")
    assert host.init["isHost"] is True
    viewer = await Client.connect(b.port, f"?sessionKey={key}")
    assert viewer.init["isHost"] is False
    await host.update(paused=False, currentTime=12.5, playbackRate=1.25)
    seen = await viewer.recv_type("stateUpdate")
    assert seen["state"]["currentTime"] == 12.5
    return key, host, viewer


async def host_update_reaches(host: Client, viewer: Client, position: float) -> dict[str, Any]:
    await host.update(paused=True, currentTime=position)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        update = await viewer.recv_type("stateUpdate", timeout=max(0.1, deadline - loop.time()))
        if update["state"]["currentTime"] == position:
            return update


def test_redis_paused_for_10s_gives_503_keeps_sockets_and_recovers_without_loss(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    a = make_server(own_redis.url, name="a")
    b = make_server(own_redis.url, name="b")
    assert own_redis.process is not None
    pid = own_redis.process.pid

    async def scenario() -> None:
        key, host, viewer = await live_session(a, b)
        before = (await call("GET", f"{a.base}/api/sessions/{key}")).json()
        other_key, _ = await create(b)

        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            refused = await call("POST", a.base + "/api/sessions")
            assert refused.status == 503
            assert int(refused.headers["Retry-After"]) > 0
            assert refused.json() == {"error": "session store unavailable"}
            ready = await call("GET", b.base + "/ready")
            assert ready.status == 503 and "Retry-After" in ready.headers
            assert (await call("GET", b.base + "/health")).status == 200
            await host.update(paused=True)  # refused, not lost silently: the host is told to retry
            error = await host.recv_type("error", timeout=8)
            assert error["code"] == "unavailable"
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
        finally:
            os.kill(pid, signal.SIGCONT)
        seen_before = {id(c): len(c.raw) for c in (host, viewer)}

        took = await wait_until(lambda: all_up(a, b), RECOVERY_S, "everything answers again")
        print(f"REST and readiness back {took:.2f} s after SIGCONT")
        # the sockets opened before the outage are still open and still in sync, across processes
        update = await host_update_reaches(host, viewer, 42.0)
        assert update["state"]["version"] == before["state"]["version"] + 1  # type: ignore[index]
        assert (await call("GET", f"{b.base}/api/sessions/{other_key}/validate")).json() == {"valid": True}
        # the host kept its role: its process re-took the lease that lapsed while Redis was frozen
        with own_redis.client() as admin:
            async def lease_back() -> bool:
                return admin.get(f"session:{key}:host") == host.member_id

            await wait_until(lease_back, RECOVERY_S, "the host lease is back")
        # nobody was judged gone or demoted because every heartbeat was old after the freeze
        await asyncio.gather(host.nothing(3.5), viewer.nothing(3.5))  # a presence tick on each side
        for client in (host, viewer):
            kinds = [json.loads(text)["type"] for text in client.raw[seen_before[id(client)]:]]
            assert "memberLeft" not in kinds and "hostChanged" not in kinds, kinds
        # presence survived too: a newcomer sees both members, and the same host
        newcomer = await Client.connect(b.port, f"?sessionKey={key}")
        ids = {m["id"] for m in newcomer.init["members"]}
        assert {host.member_id, viewer.member_id} <= ids
        assert newcomer.init["hostId"] == host.member_id
        for client in (host, viewer, newcomer):
            await client.close()

    asyncio.run(scenario())


def test_redis_killed_and_restarted_on_the_same_port_is_picked_up_without_restart(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    """Redis runs with `--save ''`: its data dies with it. The servers notice, end the sessions that
    vanished (4004), and serve new ones across both processes once Redis is back."""
    a = make_server(own_redis.url, name="a")
    b = make_server(own_redis.url, name="b")

    async def scenario() -> None:
        key, host, viewer = await live_session(a, b)
        assert own_redis.process is not None
        own_redis.process.kill()
        own_redis.process.wait(10)
        killed = time.monotonic()
        refused = await call("POST", a.base + "/api/sessions")
        assert refused.status == 503 and "Retry-After" in refused.headers
        assert (await call("GET", b.base + "/ready")).status == 503
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed)))
        assert not host.conn.close_code and not viewer.conn.close_code  # open through the outage

        own_redis.start()  # the same port, empty
        took = await wait_until(lambda: all_up(a, b), RECOVERY_S, "everything answers again")
        print(f"REST and readiness back {took:.2f} s after the restart")
        # the session vanished with Redis's memory: both members are told so
        for client in (host, viewer):
            assert (await client.closed(timeout=10)).code == 4004
        # a new session works across both processes: pub/sub was re-established
        key2, host2, viewer2 = await live_session(a, b)
        await host_update_reaches(host2, viewer2, 7.0)
        await host2.close()
        await viewer2.close()

    asyncio.run(scenario())
