"""Sync traffic is not starved by video downloads on the same event loop (both stores): a host's
update reaches a member while clients pull a large file as fast as they can and others hold the
server's socket buffers full."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import until
from tests.support.ws_fixtures import stop_hub  # noqa: F401 (autouse: the rooms shut down after each test)
from tests.wsclient import Client
from videosync.app import Services
from videosync.media import MediaLibrary
from videosync.settings import Settings

BIG = 1024 * 1024 * 1024  # sparse: a gigabyte the page cache serves without a disk
FAST_PULLERS = 4
SLOW_READERS = 2


@pytest.fixture
def library(settings: Settings) -> MediaLibrary:
    media = Path(settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    with (media / "big.mp4").open("wb") as f:
        f.truncate(BIG)
    return MediaLibrary(settings.media_dir)


class Puller(threading.Thread):
    """Downloads the big file as fast as it can (a blocking socket in a thread of its own)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.received = 0
        self.finished = False
        self.stop = threading.Event()

    def run(self) -> None:
        self.sock.sendall(b"GET /api/videos/big/file HTTP/1.1\r\nHost: x\r\n\r\n")
        while not self.stop.is_set():
            data = self.sock.recv(1 << 20)
            if not data:
                break
            self.received += len(data)
            if self.received >= BIG:  # the body (plus a few header bytes): done
                self.finished = True
                break

    def close(self) -> None:
        self.stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's recv (close alone does not)
        except OSError:
            pass
        self.join(10)  # before the close: a recv on a closed socket is EBADF in the thread
        self.sock.close()


@pytest.mark.gen_test(timeout=60)
async def test_a_host_update_reaches_members_while_downloads_are_in_progress(
    services: Services, http_server: Any, http_port: int
) -> None:
    created = await services.sessions.create()
    host = await Client.connect(http_port, f"?sessionKey={created.key}&hostToken={created.host_token}")
    member = await Client.connect(http_port, f"?sessionKey={created.key}")
    slow: list[socket.socket] = []
    pullers = [Puller(http_port) for _ in range(FAST_PULLERS)]
    try:
        for _ in range(SLOW_READERS):  # they never read: the server's buffers for them stay full
            sock = socket.create_connection(("127.0.0.1", http_port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET /api/videos/big/file HTTP/1.1\r\nHost: x\r\n\r\n")
            slow.append(sock)
        for puller in pullers:
            puller.start()
        assert await until(lambda: all(p.received > 16 * 1024 * 1024 for p in pullers), timeout=20), \
            "the downloads are running at speed"
        await host.update(paused=False, currentTime=42.0, playbackRate=1)
        update = await member.recv_type("stateUpdate", timeout=20)
        assert update["state"]["currentTime"] == pytest.approx(42.0, abs=0.5)
        assert not any(p.finished for p in pullers), "the update came while every download still ran"
    finally:
        for puller in pullers:
            puller.close()
        for sock in slow:
            sock.close()
        await host.close()
        await member.close()
