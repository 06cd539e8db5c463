"""A server process SIGKILLed under a live session on the Redis store: its clients reconnect to a
surviving or restarted process and carry on with the same state and host; a host that does not
come back loses its lease within seconds and a member elsewhere is promoted.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import RedisServer
from tests.wsclient import Client

from .conftest import MakeServer
from .procs import ServerProc, http

pytestmark = [pytest.mark.slow, pytest.mark.redis]

LEASE_S, TICK_S, GRACE_S = 3.0, 1.0, 1.0
FAST_PRESENCE = (
    "--host-lease", str(LEASE_S), "--presence-interval", str(TICK_S), "--host-grace", str(GRACE_S),
)


async def create(server: ServerProc) -> tuple[str, str]:
    body: Any = (await asyncio.to_thread(http, "POST", server.base + "/api/sessions")).json()
    return body["sessionKey"], body["hostToken"]


async def dropped(client: Client) -> None:
    """The server vanished: the socket ends without a close frame (1006 on the client side)."""
    closed = await client.closed(timeout=5)
    assert closed.code is None


def test_clients_of_a_killed_process_carry_on_elsewhere_with_the_same_state_and_host(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    a = make_server(own_redis.url, FAST_PRESENCE, name="a")
    b = make_server(own_redis.url, FAST_PRESENCE, name="b")

    async def scenario() -> None:
        key, token = await create(a)
        host = await Client.connect(a.port, f"?sessionKey={key}&hostToken={token}")
        local = await Client.connect(a.port, f"?sessionKey={key}&name=local")
        remote = await Client.connect(b.port, f"?sessionKey={key}&name=remote")
        await host.update(paused=False, currentTime=30.0, playbackRate=1.5)
        playing = (await remote.recv_type("stateUpdate"))["state"]

        a.kill()
        await asyncio.gather(dropped(host), dropped(local))

        # the host comes back through the surviving process, as the web app does (token + resume)
        host2 = await Client.connect(
            b.port, f"?sessionKey={key}&hostToken={token}&resume={host.init['resumeToken']}"
        )
        assert host2.init["isHost"] is True
        assert host2.init["state"]["version"] == playing["version"]
        assert host2.init["state"]["paused"] is False and host2.init["state"]["playbackRate"] == 1.5
        # a participant comes back through a restarted process
        a.start()
        local2 = await Client.connect(a.port, f"?sessionKey={key}&resume={local.init['resumeToken']}")
        assert local2.init["isHost"] is False
        assert local2.init["hostId"] == host2.member_id
        assert local2.init["state"]["version"] == playing["version"]
        # and the session goes on across both processes
        await host2.update(paused=True, currentTime=95.0)
        for viewer in (remote, local2):
            update = await viewer.recv_type("stateUpdate")
            assert update["state"]["currentTime"] == 95.0
            assert update["state"]["version"] == playing["version"] + 1
            assert update["by"] == host2.member_id
        for client in (host2, local2, remote):
            await client.close()

    asyncio.run(scenario())


def test_the_lease_of_a_killed_hosts_process_lapses_and_a_survivor_is_promoted(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    a = make_server(own_redis.url, FAST_PRESENCE, name="a")
    b = make_server(own_redis.url, FAST_PRESENCE, name="b")

    async def scenario() -> None:
        key, token = await create(a)
        host = await Client.connect(a.port, f"?sessionKey={key}&hostToken={token}")
        survivor = await Client.connect(b.port, f"?sessionKey={key}")
        await host.update(paused=False, currentTime=5.0)
        version = (await survivor.recv_type("stateUpdate"))["state"]["version"]

        a.kill()
        killed = time.monotonic()
        changed = await survivor.recv_type("hostChanged", timeout=LEASE_S + 5 * TICK_S + GRACE_S)
        took = time.monotonic() - killed
        print(f"promoted {took:.2f} s after SIGKILL (lease {LEASE_S} s)")
        assert changed["hostId"] == survivor.member_id and changed["reason"] == "promoted"
        init = await survivor.recv_type("init")
        assert init["isHost"] is True and init["state"]["version"] == version
        with own_redis.client() as admin:
            assert admin.get(f"session:{key}:host") == survivor.member_id
        # the new host controls the session
        await survivor.update(paused=True)
        assert (await survivor.recv_type("stateUpdate"))["state"]["version"] == version + 1
        await survivor.close()

    asyncio.run(scenario())
