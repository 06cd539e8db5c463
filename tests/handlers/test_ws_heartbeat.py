"""`Heartbeat`: a socket's ping timer."""

from __future__ import annotations

import asyncio
import weakref

from videosync.handlers.ws_heartbeat import Heartbeat


class Socket:
    def __init__(self) -> None:
        self.pings = 0
        self.heartbeat = Heartbeat(0.01, self.ping, self.timed_out)

    def ping(self) -> bool:
        self.pings += 1
        return True

    def timed_out(self) -> None:
        raise AssertionError("no timeout expected")


def test_a_stopped_heartbeat_holds_nothing_of_its_socket_and_stays_stopped() -> None:
    async def scenario() -> None:
        socket = Socket()
        socket.heartbeat.start()
        while socket.pings < 2:
            await asyncio.sleep(0.005)
        heartbeat = socket.heartbeat
        heartbeat.stop()
        pings = socket.pings
        gone = weakref.ref(socket)
        del socket  # freed by reference counting: the heartbeat no longer holds its bound methods
        assert gone() is None
        heartbeat.start()  # a late start (an open() that finished after the close) does nothing
        await asyncio.sleep(0.05)
        assert heartbeat._handle is None and pings >= 2

    asyncio.run(scenario())
