"""The latency/jitter proxy: delays applied per direction, bytes never reordered, only WebSockets
delayed unless asked, and a real videosync socket works through it."""

from __future__ import annotations

import asyncio
import time

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.tools.netem_proxy import Delay, NetemProxy, is_websocket_upgrade
from tests.wsclient import Client


def test_delays_parse_as_latency_and_jitter() -> None:
    assert Delay.parse("80:20") == Delay(80, 20) == Delay.parse("80±20")
    assert Delay.parse("0") == Delay(0, 0)
    with pytest.raises(ValueError):
        Delay.parse("10:20")  # jitter beyond the latency would mean negative delays


def test_upgrade_requests_are_recognised() -> None:
    head = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n"
    assert is_websocket_upgrade(head)
    assert not is_websocket_upgrade(b"GET /api/video HTTP/1.1\r\nHost: x\r\nX-Upgrade: websocket\r\n\r\n")


async def echo_server() -> asyncio.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


def test_jittered_chunks_arrive_complete_and_in_order_with_at_least_the_latency() -> None:
    async def scenario() -> None:
        target = await echo_server()
        port = target.sockets[0].getsockname()[1]
        proxy = await NetemProxy("127.0.0.1", port, up=Delay(30, 30), down=Delay(60, 10), delay_http=True,
                                 seed=1).start()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        sent = b"".join(i.to_bytes(4, "big") for i in range(300))
        started = time.monotonic()
        for i in range(0, len(sent), 40):  # many small chunks, each with its own jittered delay
            writer.write(sent[i:i + 40])
            await writer.drain()
            await asyncio.sleep(0.001)
        got = await reader.readexactly(len(b"GET / HTTP/1.1\r\n\r\n") + len(sent))
        elapsed = time.monotonic() - started
        assert got.endswith(sent)  # nothing lost, nothing reordered
        assert elapsed >= 0.060  # at least the down latency (plus some up delay) was applied
        writer.close()
        await proxy.close()
        target.close()

    asyncio.run(scenario())


@pytest.mark.gen_test(timeout=20)
async def test_a_videosync_socket_through_the_proxy_sees_the_round_trip_it_was_given(
    http_server: object, http_port: int, services: object, http_client: AsyncHTTPClient,
) -> None:
    proxy = await NetemProxy("127.0.0.1", http_port, up=Delay(50), down=Delay(100)).start()
    try:
        await http_client.fetch(f"http://127.0.0.1:{proxy.port}/health")  # plain HTTP: not delayed
        assert (proxy.connections, proxy.delayed_connections) == (1, 0)
        created = await services.sessions.create()  # type: ignore[attr-defined]
        client = await Client.connect(proxy.port, f"?sessionKey={created.key}")
        t0 = time.time() * 1000
        await client.send({"type": "timeSync", "t0": t0})
        reply = await client.recv_type("timeSync")
        rtt = time.time() * 1000 - t0
        assert rtt >= 150  # 50 up + 100 down
        # the server's receive time is after the up delay, and before the down delay
        assert reply["t1"] - t0 >= 45
        assert time.time() * 1000 - reply["t2"] >= 95
        assert proxy.delayed_connections == 1
        await client.close()
        await services.hub.shutdown(timeout=2)  # type: ignore[attr-defined]
    finally:
        await proxy.close()
