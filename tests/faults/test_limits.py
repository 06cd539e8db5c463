"""Abusive clients are shed by the server's limits while everyone else carries on: a reader that
stops reading (dropped, 1013), a client flooding messages (1008), one address opening 1,000
sockets (capped per address, 1008). Against a real server process on the embedded store."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from tests.wsclient import Client, Closed

from .conftest import MakeServer
from .procs import ServerProc, http

pytestmark = pytest.mark.slow

ATTACKER = "127.0.0.2"  # all of 127/8 is loopback on Linux: a second client address for free
CLOSE_WAIT_S = 5  # Tornado waits this long for the peer's close frame before it drops the TCP


async def new_session(server: ServerProc) -> tuple[str, str]:
    body: Any = (await asyncio.to_thread(http, "POST", server.base + "/api/sessions")).json()
    return body["sessionKey"], body["hostToken"]


async def drain(client: Client, into: list[dict[str, Any]]) -> None:
    """Read everything until the socket closes (a reading client never becomes a slow one)."""
    try:
        while True:
            into.append(await client.recv(timeout=60))
    except (Closed, TimeoutError):
        return


async def host_and_viewer(server: ServerProc) -> tuple[str, Client, Client]:
    key, token = await new_session(server)
    host = await Client.connect(server.port, f"?sessionKey={key}&hostToken={token}")
    viewer = await Client.connect(server.port, f"?sessionKey={key}")
    return key, host, viewer


async def update_arrives(host: Client, viewer: Client, position: float) -> None:
    await host.update(paused=True, currentTime=position)
    while (await viewer.recv_type("stateUpdate"))["state"]["currentTime"] != position:
        pass


def test_a_client_that_stops_reading_is_dropped_and_the_others_get_every_update(
    make_server: MakeServer,
) -> None:
    """Linux buffers megabytes for a stalled loopback socket, so at a normal message rate it is the
    pong deadline (3 ping intervals + 1 s, then Tornado's 5 s wait for a close reply) that sheds it;
    the 1013 overflow of a full outbox is covered in-process by tests/handlers/test_ws.py with a
    capped kernel buffer."""
    server = make_server(args=("--ping-interval", "0.5"))
    deadline_s = 3 * 0.5 + 1 + 0.5  # three intervals + 1 s, noticed at the next ping

    async def scenario() -> None:
        key, host, viewer = await host_and_viewer(server)
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.port))
        raw.setblocking(False)
        # after its init this client reads nothing more: websockets stops reading the transport
        # once one frame waits unread, so pings go unanswered, as with a frozen tab
        slow = await Client.connect(server.port, f"?sessionKey={key}", sock=raw, max_queue=1)
        got: list[dict[str, Any]] = []
        readers = [asyncio.create_task(drain(viewer, got)), asyncio.create_task(drain(host, []))]
        sent = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline_s + CLOSE_WAIT_S + 6
        # a host updating 20 times a second meanwhile, until the stalled reader is let go
        while loop.time() < until and not any(m["type"] == "memberLeft" for m in got):
            await host.update(currentTime=float(sent))
            sent += 1
            await asyncio.sleep(0.05)
        while not any(m["type"] == "stateUpdate" and m["state"]["currentTime"] == sent - 1 for m in got):
            await asyncio.sleep(0.05)
        left = [m["memberId"] for m in got if m["type"] == "memberLeft"]
        assert left == [slow.member_id], "the stalled reader was not dropped"
        versions = [m["state"]["version"] for m in got if m["type"] == "stateUpdate"]
        assert versions == list(range(versions[0], versions[0] + sent)), "the viewer missed updates"
        closed = await slow.closed(timeout=15)  # reading again: what was buffered, then the end
        assert closed.code in (1001, None), closed  # 1001 "Ping timeout", or reset if it came late
        for task in readers:
            task.cancel()
        await host.close()
        await viewer.close()

    asyncio.run(scenario())


def test_a_flooding_client_is_closed_1008_and_the_others_keep_going(make_server: MakeServer) -> None:
    server = make_server()

    async def scenario() -> None:
        key, host, viewer = await host_and_viewer(server)
        flooder = await Client.connect(server.port, f"?sessionKey={key}")
        for i in range(5000):
            try:
                await flooder.send({"type": "timeSync", "t0": float(i)})
            except Exception:  # noqa: BLE001 - the server may cut it off mid-flood
                break
        closed = await flooder.closed(timeout=10)
        assert (closed.code, closed.reason) == (1008, "Rate limit exceeded")
        await update_arrives(host, viewer, 12.0)
        await host.close()
        await viewer.close()

    asyncio.run(scenario())


async def try_join(port: int, query: str, **kw: Any) -> Client | int | None:
    """The client if it joined, else the close code it got."""
    try:
        return await Client.connect(port, query, local_addr=(ATTACKER, 0), **kw)
    except Closed as closed:
        return closed.code


def test_one_address_opening_1000_sockets_is_capped_and_others_still_join(make_server: MakeServer) -> None:
    cap = 50
    server = make_server(args=("--max-connections-per-ip", str(cap)))

    async def scenario() -> None:
        key, host, viewer = await host_and_viewer(server)
        query = f"?sessionKey={key}"
        outcomes: list[Client | int | None] = []
        for _batch in range(10):
            outcomes += await asyncio.gather(*(try_join(server.port, query) for _ in range(100)))
        joined = [o for o in outcomes if isinstance(o, Client)]
        refused = [o for o in outcomes if not isinstance(o, Client)]
        assert len(joined) == cap
        assert refused == [1008] * (1000 - cap)
        # others, from another address, still join and follow the host
        late = await Client.connect(server.port, query)
        await update_arrives(host, late, 33.0)
        # the cap counts live sockets: closing some frees room again
        await asyncio.gather(*(c.close() for c in joined[:10]))
        await asyncio.sleep(0.5)
        again = await asyncio.gather(*(try_join(server.port, query) for _ in range(11)))
        assert sum(isinstance(o, Client) for o in again) == 10
        rest = [*joined[10:], *(o for o in again if isinstance(o, Client)), host, viewer, late]
        await asyncio.gather(*(c.close() for c in rest))  # unread sockets take close_timeout each
        print(json.dumps({"joined": len(joined), "refused": len(refused)}))

    asyncio.run(scenario())


def test_claimed_forwarded_addresses_dodge_the_cap_only_when_a_proxy_is_trusted(make_server: MakeServer) -> None:
    cap = 3
    direct = make_server(args=("--max-connections-per-ip", str(cap)), name="direct")
    proxied = make_server(
        args=("--max-connections-per-ip", str(cap), "--trust-proxy-headers", "yes"), name="proxied"
    )

    async def joins_claiming_new_addresses(server: ServerProc) -> list[Client | int | None]:
        key, _token = await new_session(server)
        outcomes = [
            await try_join(
                server.port, f"?sessionKey={key}",
                additional_headers={"X-Real-IP": f"10.0.0.{i}", "X-Forwarded-For": f"10.0.1.{i}"},
            )
            for i in range(cap + 2)
        ]
        await asyncio.gather(*(o.close() for o in outcomes if isinstance(o, Client)))
        return outcomes

    async def scenario() -> None:
        # reachable directly (the default), the headers are the client's word and count for nothing
        outcomes = await joins_claiming_new_addresses(direct)
        assert sum(isinstance(o, Client) for o in outcomes) == cap
        assert [o for o in outcomes if not isinstance(o, Client)] == [1008, 1008]
        # behind a proxy that sets them, each forwarded address is a client of its own
        outcomes = await joins_claiming_new_addresses(proxied)
        assert all(isinstance(o, Client) for o in outcomes), outcomes

    asyncio.run(scenario())
